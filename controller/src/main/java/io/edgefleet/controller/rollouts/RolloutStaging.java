package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.downloads.StageProgress;
import java.util.Collection;
import java.util.Map;
import org.jdbi.v3.core.Handle;

/**
 * How far devices are with the artifacts of a revision they wait for ("download early, switch in
 * the window"): a rollout releases a device only once it holds every artifact it was told to stage.
 * Called inside the rollout's transaction; implementations must be thread-safe.
 */
@FunctionalInterface
public interface RolloutStaging {
  /** No device stages anything: devices are released as soon as their batch lets them. */
  RolloutStaging NONE = (h, app, revision, deviceIds) -> Map.of();

  /**
   * Per device among {@code deviceIds} that was told to stage {@code app} at {@code revision}: how
   * far it is. Devices told nothing to stage for it are absent.
   */
  Map<String, StageProgress> progress(
      Handle h, String app, String revision, Collection<String> deviceIds);
}
