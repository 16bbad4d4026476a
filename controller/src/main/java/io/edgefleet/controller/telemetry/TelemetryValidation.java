package io.edgefleet.controller.telemetry;

import io.edgefleet.protocol.Telemetry;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The rules one outbox record must meet before it is stored: what a well-behaved agent never
 * breaks, so anything else is a fault or an attack and is refused. Pure; thread-safe.
 */
final class TelemetryValidation {
  /** Metrics per summary. */
  static final int MAX_METRICS = 500;

  static final int MAX_NAME = 200;
  static final int MAX_KIND = 100;
  static final int MAX_APP = 200;
  static final int MAX_MESSAGE = 4000;
  static final int MAX_REASON = 1000;

  /** Records per batch; the agent sends at most 200. */
  static final int MAX_RECORDS = 1000;

  /** Metric summaries from before this are refused (device clocks may be wrong, but not so). */
  static final Instant EARLIEST = Instant.parse("2000-01-01T00:00:00Z");

  /** How far the end of a metric summary may run ahead of the controller's clock. */
  static final Duration MAX_AHEAD = Duration.ofDays(1);

  /** A down-sampled summary may cover a long outage, but not more than this. */
  static final Duration MAX_WINDOW = Duration.ofDays(400);

  static final Set<String> SEVERITIES = Set.of("info", "warning", "error");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.:/\\-]+");

  private TelemetryValidation() {}

  /**
   * Why the record must be refused, or empty if it is acceptable at controller time {@code now}.
   */
  static Optional<String> problem(Telemetry t, Instant now) {
    if (t == null) {
      return Optional.of("null record");
    }
    if (t.seq() <= 0) {
      return Optional.of("seq must be positive, got " + t.seq());
    }
    if (t.at() == null) {
      return Optional.of("at is missing");
    }
    // An event or loss record keeps any time: the event log places implausible ones at their
    // arrival (DeviceEvents). A summary's times decide which window it covers, so they must hold.
    return switch (t) {
      case Telemetry.Metrics m -> metrics(m, now);
      case Telemetry.DeviceEvent e -> event(e);
      case Telemetry.Loss l -> loss(l);
    };
  }

  private static Optional<String> time(String field, Instant at, Instant now) {
    if (at == null) {
      return Optional.of(field + " is missing");
    }
    if (at.isBefore(EARLIEST) || at.isAfter(now.plus(MAX_AHEAD))) {
      return Optional.of(field + " " + at + " is not a plausible device time");
    }
    return Optional.empty();
  }

  private static Optional<String> metrics(Telemetry.Metrics m, Instant now) {
    Optional<String> at = time("at", m.at(), now);
    if (at.isPresent()) {
      return at;
    }
    Optional<String> from = time("from", m.from(), now);
    if (from.isPresent()) {
      return from;
    }
    if (m.from().isAfter(m.at())) {
      return Optional.of("from " + m.from() + " is after at " + m.at());
    }
    if (Duration.between(m.from(), m.at()).compareTo(MAX_WINDOW) > 0) {
      return Optional.of("a summary window may not exceed " + MAX_WINDOW.toDays() + " days");
    }
    Map<String, Telemetry.Stat> metrics = m.metrics();
    if (metrics == null || metrics.isEmpty()) {
      return Optional.of("a summary needs at least one metric");
    }
    if (metrics.size() > MAX_METRICS) {
      return Optional.of(
          "a summary may hold " + MAX_METRICS + " metrics, this one has " + metrics.size());
    }
    for (Map.Entry<String, Telemetry.Stat> e : metrics.entrySet()) {
      String name = e.getKey();
      if (name == null || name.isEmpty() || name.length() > MAX_NAME) {
        return Optional.of("metric names are 1 to " + MAX_NAME + " characters");
      }
      if (!NAME.matcher(name).matches()) {
        return Optional.of("metric name '" + name + "' has characters outside [A-Za-z0-9_.:/-]");
      }
      Telemetry.Stat s = e.getValue();
      if (s == null) {
        return Optional.of("metric " + name + " has no values");
      }
      if (!finite(s.min()) || !finite(s.max()) || !finite(s.mean()) || !finite(s.last())) {
        return Optional.of("metric " + name + " has a value that is not a finite number");
      }
      if (s.count() < 1) {
        return Optional.of("metric " + name + " has count " + s.count() + ", needs at least 1");
      }
      if (s.min() > s.max()) {
        return Optional.of("metric " + name + " has min above max");
      }
    }
    return Optional.empty();
  }

  private static Optional<String> event(Telemetry.DeviceEvent e) {
    if (e.kind() == null || e.kind().isBlank() || e.kind().length() > MAX_KIND) {
      return Optional.of("an event kind is 1 to " + MAX_KIND + " characters");
    }
    if (e.severity() != null && !SEVERITIES.contains(e.severity())) {
      return Optional.of("severity must be one of info, warning, error; got " + e.severity());
    }
    if (e.app() != null && (e.app().isEmpty() || e.app().length() > MAX_APP)) {
      return Optional.of("an app name is 1 to " + MAX_APP + " characters");
    }
    if (e.message() == null || e.message().length() > MAX_MESSAGE) {
      return Optional.of("an event message is 0 to " + MAX_MESSAGE + " characters");
    }
    return Optional.empty();
  }

  private static Optional<String> loss(Telemetry.Loss l) {
    if (l.events() < 0) {
      return Optional.of("a loss record cannot count " + l.events() + " events");
    }
    if (l.reason() != null && l.reason().length() > MAX_REASON) {
      return Optional.of("a loss reason is at most " + MAX_REASON + " characters");
    }
    return Optional.empty();
  }

  private static boolean finite(double d) {
    return !Double.isNaN(d) && !Double.isInfinite(d);
  }
}
