package io.edgefleet.controller.alerts;

import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.Durations;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Evaluates one rule against the facts of one tick: which subjects (a device, an app on a device, a
 * mount of a device, a rollout) meet its condition, and since when when the facts say so. Whether
 * an alert fires also depends on how long the condition has held ({@code for}), which the engine
 * decides. A pure function: no I/O, no clock.
 */
final class Evaluator {
  private Evaluator() {}

  /**
   * One subject that meets a rule's condition.
   *
   * @param subject stable name of what the alert is about, e.g. {@code device/dev-1/app/web}
   * @param labels labels identifying the subject (device, device_name, app, mount, rollout)
   * @param since when the condition started, if the facts tell (an offline device's last contact, a
   *     certificate entering its window, a rollout's pause); otherwise the engine counts from when
   *     it first saw it
   */
  record Finding(
      String subject,
      String deviceId,
      Map<String, String> labels,
      String summary,
      String description,
      Optional<Instant> since) {}

  static List<Finding> evaluate(Rule rule, Facts facts, Instant now) {
    List<Finding> out = new ArrayList<>();
    Selector selector = rule.deviceSelector();
    Map<String, Facts.Device> devices = new LinkedHashMap<>();
    for (Facts.Device d : facts.devices()) {
      if (selector.matches(d.tags())) {
        devices.put(d.id(), d);
      }
    }
    switch (rule.type()) {
      case DEVICE_OFFLINE -> {
        for (Facts.Device d : devices.values()) {
          // An offline time that counts only from later (the controller just started) is none yet.
          if (d.status() == DeviceStatus.OFFLINE
              && d.offlineSince() != null
              && !d.offlineSince().isAfter(now)) {
            out.add(
                new Finding(
                    "device/" + d.id(),
                    d.id(),
                    deviceLabels(d),
                    "device " + display(d) + " is offline",
                    "no contact since "
                        + d.offlineSince()
                        + "; the rule fires after "
                        + rule.forText()
                        + " offline",
                    Optional.of(d.offlineSince())));
          }
        }
      }
      case APP_FAILED -> {
        for (Facts.FailedApp a : facts.failedApps()) {
          Facts.Device d = devices.get(a.deviceId());
          if (d == null || (rule.app() != null && !rule.app().equals(a.app()))) {
            continue;
          }
          Map<String, String> labels = deviceLabels(d);
          labels.put("app", a.app());
          out.add(
              new Finding(
                  "device/" + d.id() + "/app/" + a.app(),
                  d.id(),
                  labels,
                  "app " + a.app() + " failed on device " + display(d),
                  a.reason() == null || a.reason().isBlank()
                      ? "the device reports FAILED"
                      : a.reason(),
                  Optional.empty()));
        }
      }
      case DISK_USAGE -> {
        double threshold = rule.percent() == null ? 100 : rule.percent();
        for (Facts.Disk disk : facts.disks()) {
          Facts.Device d = devices.get(disk.deviceId());
          if (d == null
              || (rule.mount() != null && !rule.mount().equals(disk.mount()))
              || !(disk.percent() >= threshold)) {
            continue;
          }
          Map<String, String> labels = deviceLabels(d);
          labels.put("mount", disk.mount());
          out.add(
              new Finding(
                  "device/" + d.id() + "/disk/" + disk.mount(),
                  d.id(),
                  labels,
                  "disk "
                      + disk.mount()
                      + " of device "
                      + display(d)
                      + " is "
                      + percent(disk.percent())
                      + " full",
                  "measured at "
                      + disk.at()
                      + "; the rule fires at "
                      + percent(threshold)
                      + " or more",
                  Optional.empty()));
        }
      }
      case CERTIFICATE_EXPIRING -> {
        Duration within = rule.withinDuration();
        for (Facts.Device d : devices.values()) {
          Instant expires = d.certificateExpiresAt();
          if (expires == null || now.isBefore(expires.minus(within))) {
            continue;
          }
          String when =
              now.isBefore(expires)
                  ? "expires in " + Durations.human(Duration.between(now, expires))
                  : "expired " + Durations.human(Duration.between(expires, now)) + " ago";
          out.add(
              new Finding(
                  "device/" + d.id() + "/certificate",
                  d.id(),
                  deviceLabels(d),
                  "certificate of device " + display(d) + " " + when,
                  "expires at "
                      + expires
                      + "; agents renew when a third of the lifetime is left, so a device that"
                      + " does not is offline or failing to renew",
                  Optional.of(expires.minus(within))));
        }
      }
      case DEVICE_QUARANTINED -> {
        for (Facts.Device d : devices.values()) {
          if (d.quarantine() != null) {
            out.add(
                new Finding(
                    "device/" + d.id() + "/trust",
                    d.id(),
                    deviceLabels(d),
                    "device " + display(d) + " is quarantined",
                    (d.quarantine().reason() == null ? "" : d.quarantine().reason() + "; ")
                        + "nothing new is delivered to it until its boot matches its reference"
                        + " again or an operator accepts it (edgefleet devices attestation show)",
                    Optional.ofNullable(d.quarantine().since())));
          }
        }
      }
      case CLUSTER_DEGRADED -> {
        for (Facts.DegradedCluster c : facts.degradedClusters()) {
          if (!selector.matches(c.labels())) {
            continue;
          }
          Map<String, String> labels = new LinkedHashMap<>();
          labels.put("cluster", c.name());
          out.add(
              new Finding(
                  "cluster/" + c.name(),
                  null,
                  labels,
                  "cluster " + c.name() + " is degraded",
                  (c.reasons().isEmpty()
                          ? "below its desired shape"
                          : String.join("; ", c.reasons()))
                      + " (edgefleet clusters get "
                      + c.name()
                      + ")",
                  Optional.empty()));
        }
      }
      case ROLLOUT_PAUSED -> {
        for (Facts.PausedRollout r : facts.pausedRollouts()) {
          if (rule.app() != null && !rule.app().equals(r.app())) {
            continue;
          }
          Map<String, String> labels = new LinkedHashMap<>();
          labels.put("rollout", r.id());
          labels.put("app", r.app());
          out.add(
              new Finding(
                  "rollout/" + r.id(),
                  null,
                  labels,
                  "rollout " + r.id() + " of " + r.app() + " is paused",
                  r.reason() == null ? "paused" : r.reason(),
                  Optional.of(r.since())));
        }
      }
    }
    return out;
  }

  private static Map<String, String> deviceLabels(Facts.Device d) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("device", d.id());
    labels.put("device_name", d.name());
    return labels;
  }

  private static String display(Facts.Device d) {
    return d.name() == null || d.name().equals(d.id()) ? d.id() : d.name() + " (" + d.id() + ")";
  }

  private static String percent(double p) {
    return String.format(Locale.ROOT, p == Math.rint(p) ? "%.0f%%" : "%.1f%%", p);
  }
}
