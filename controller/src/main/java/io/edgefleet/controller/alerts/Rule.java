package io.edgefleet.controller.alerts;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.edgefleet.controller.selector.Selector;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * An alert rule as stored and as the API shows it. Durations travel as short text ({@code 90s},
 * {@code 10m}, {@code 7d}); absent parameters are absent from the JSON.
 *
 * @param selector device selector (Kubernetes label-selector syntax); empty selects every device
 * @param app only this app (app-failed, rollout-paused), or null for every app
 * @param mount only this mount point (disk-usage), or null for every mount
 * @param forText how long the condition must hold before the alert fires
 * @param within how close a certificate's expiry may come (certificate-expiring)
 * @param percent the disk usage at or above which the alert fires (disk-usage)
 * @param receivers receiver names; empty means every receiver
 * @param repeat how often a firing alert is notified again, or null for once per state change
 * @param project the project the rule was created in, or null; its selector then includes the
 *     project's, so it watches only the project's devices
 */
public record Rule(
    String id,
    String name,
    RuleType type,
    String selector,
    String app,
    String mount,
    @JsonProperty("for") String forText,
    String within,
    Double percent,
    String severity,
    List<String> receivers,
    String repeat,
    String createdBy,
    Instant createdAt,
    String project) {

  public Rule {
    receivers = List.copyOf(receivers);
  }

  /** A rule of no project. */
  public Rule(
      String id,
      String name,
      RuleType type,
      String selector,
      String app,
      String mount,
      String forText,
      String within,
      Double percent,
      String severity,
      List<String> receivers,
      String repeat,
      String createdBy,
      Instant createdAt) {
    this(
        id, name, type, selector, app, mount, forText, within, percent, severity, receivers, repeat,
        createdBy, createdAt, null);
  }

  @JsonIgnore
  Duration forDuration() {
    return forText == null ? Duration.ZERO : AlertRules.duration("for", forText);
  }

  @JsonIgnore
  Duration withinDuration() {
    return within == null ? Duration.ZERO : AlertRules.duration("within", within);
  }

  @JsonIgnore
  java.util.Optional<Duration> repeatDuration() {
    return repeat == null
        ? java.util.Optional.empty()
        : java.util.Optional.of(AlertRules.duration("repeat", repeat));
  }

  @JsonIgnore
  Selector deviceSelector() {
    return Selector.parse(selector);
  }
}
