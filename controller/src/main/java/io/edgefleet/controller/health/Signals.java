package io.edgefleet.controller.health;

import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * What the controller knows about one device besides presence, cached in memory so that status can
 * be derived for every row of a fleet-wide listing without a query. Immutable.
 *
 * @param apps every app the device should run, by name
 * @param refusal the newest refusal of the device's current desired-state document, or null
 */
record Signals(List<App> apps, Refusal refusal) {
  static final Signals NONE = new Signals(List.of(), null);

  Signals {
    apps = apps.stream().sorted(Comparator.comparing(App::name)).toList();
  }

  /**
   * One app on the device: what it should run (from {@code device_apps}) and what it reports.
   *
   * @param running the revision the device reports running, or null before its first report
   * @param phase the reported phase (APPLIED, PROGRESSING, READY, FAILED), or null
   * @param renderError why the app cannot be rendered for this device, or null
   * @param reportedAt when the controller received the last report, or null
   */
  record App(
      String name,
      String desired,
      String running,
      String phase,
      String reason,
      String renderError,
      Instant desiredSince,
      Instant reportedAt) {

    boolean failed() {
      return "FAILED".equals(phase);
    }

    boolean ready() {
      return "READY".equals(phase) && Objects.equals(desired, running);
    }
  }

  /**
   * The device refused the desired-state document the controller issues now.
   *
   * @param kind the agent's refusal kind, e.g. {@code desired-state-bad-signature}
   * @param recorded when the controller received the refusal
   */
  record Refusal(String kind, String message, Instant recorded) {}
}
