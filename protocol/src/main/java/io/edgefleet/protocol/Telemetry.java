package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.time.Instant;
import java.util.Map;

/**
 * One record of an agent's persistent outbox. Every record carries the agent's outbox sequence
 * number ({@code seq}, strictly increasing per device, never reused) and the time it happened at
 * the device; the controller stores records idempotently by (device, seq) and acknowledges the
 * highest seq it has stored. Property {@code k} names the kind.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "k")
@JsonSubTypes({
  @JsonSubTypes.Type(value = Telemetry.Metrics.class, name = "m"),
  @JsonSubTypes.Type(value = Telemetry.DeviceEvent.class, name = "e"),
  @JsonSubTypes.Type(value = Telemetry.Loss.class, name = "l")
})
public sealed interface Telemetry {
  long seq();

  Instant at();

  /** Summary of one metric over a window: minimum, maximum, mean, last value and sample count. */
  record Stat(double min, double max, double mean, double last, long count) {}

  /**
   * Node and workload metrics summarised over [{@code from}, {@code at}]. Names are dotted, e.g.
   * {@code cpu.used.percent}, {@code mem.used.bytes}, {@code disk./.used.percent}, {@code
   * net.eth0.rx.bytes}, {@code uptime.seconds}, {@code gpu.0.used.percent}.
   *
   * @param partial the window ended before its time because the agent stopped (or, recovered after
   *     a crash, at its last saved sample): {@code at} is when sampling ended, not the end the
   *     window was planned to have. Omitted from JSON when false, as older agents send it.
   */
  record Metrics(
      long seq,
      Instant from,
      Instant at,
      Map<String, Stat> metrics,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean partial)
      implements Telemetry {
    /** A summary of a whole window. */
    public Metrics(long seq, Instant from, Instant at, Map<String, Stat> metrics) {
      this(seq, from, at, metrics, false);
    }
  }

  /**
   * Something that happened on the device: an apply result, a workload restart, an error.
   *
   * @param severity {@code info}, {@code warning} or {@code error}
   * @param app the application it concerns, or null
   */
  record DeviceEvent(long seq, Instant at, String kind, String severity, String app, String message)
      implements Telemetry {}

  /**
   * The outbox had to drop records to stay within its bound: how many events were lost and why.
   * Never silent: this record itself is kept.
   */
  record Loss(long seq, Instant at, long events, String reason) implements Telemetry {}

  /**
   * A value as agents send it: seven significant digits, more than any gauge here is accurate to,
   * and about half the JSON of a full double (every summary travels, possibly over a satellite
   * link).
   */
  static double round(double v) {
    if (v == 0 || !Double.isFinite(v)) {
      return v;
    }
    return new java.math.BigDecimal(v).round(new java.math.MathContext(7)).doubleValue();
  }
}
