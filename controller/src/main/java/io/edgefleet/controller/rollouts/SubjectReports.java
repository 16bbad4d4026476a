package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.desired.DeviceAppReads;
import java.util.Collection;
import java.util.Map;
import org.jdbi.v3.core.Handle;

/**
 * What devices report of a rollout subject that is not a Kubernetes app (the agent itself): how it
 * stands on each device, judged against the rollout's target, and what each device had before, to
 * return to on a rollback. Implementations run in the rollout's transaction and must be
 * thread-safe.
 */
public interface SubjectReports {
  /** Every subject is an app. */
  SubjectReports NONE =
      new SubjectReports() {
        @Override
        public boolean owns(String app) {
          return false;
        }

        @Override
        public Map<String, DeviceAppReads.Report> reports(
            Handle h, String app, String to, Collection<String> devices) {
          return Map.of();
        }

        @Override
        public Map<String, DeviceAppReads.Entry> entries(Handle h, String app) {
          return Map.of();
        }
      };

  /** Whether the rollouts of this app name are reported here rather than by the devices' apps. */
  boolean owns(String app);

  /**
   * How the subject stands on each device, by device id: {@code running} the version it runs,
   * {@code phase} READY when it runs it for good, FAILED (with a reason) when the update to {@code
   * to} failed, anything else while it is under way. {@code devices} are the rollout's devices.
   */
  Map<String, DeviceAppReads.Report> reports(
      Handle h, String app, String to, Collection<String> devices);

  /** What each device has now, to return to on a rollback; devices with nothing are left out. */
  Map<String, DeviceAppReads.Entry> entries(Handle h, String app);
}
