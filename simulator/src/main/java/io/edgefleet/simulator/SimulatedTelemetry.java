package io.edgefleet.simulator;

import io.edgefleet.device.link.ControllerLink;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A virtual device's telemetry: node summaries with the names and the variation of a real agent's,
 * kept until acknowledged and sent as the agent sends them (compact when the controller takes it,
 * names spelled out until a frame carrying them was acknowledged). Not thread-safe: the device
 * calls it holding its monitor.
 */
final class SimulatedTelemetry {
  /** How often a summary goes when the welcome names no interval. */
  static final int DEFAULT_SECONDS = 300;

  private static final int MAX_UNACKED = 16;

  private final Simulator.Stats stats;
  // Strictly increasing across simulator restarts without persisting anything.
  private long seq = System.currentTimeMillis() * 1000;
  private final ArrayList<Telemetry> unacked = new ArrayList<>(0);
  private long from = System.currentTimeMillis();

  // Per connection: no metric names are known on either side of a new one.
  private CompactTelemetry.Encoder encoder;
  private final ArrayList<InFlight> framesInFlight = new ArrayList<>(0);

  /** A compact frame sent and not acknowledged yet, with the highest seq it holds. */
  private record InFlight(CompactTelemetry.Encoded frame, long maxSeq) {}

  SimulatedTelemetry(Simulator.Stats stats) {
    this.stats = stats;
  }

  /** A new connection: its encoding, and what is still unacknowledged sent again. */
  void connected(ControllerLink link, ControllerMessage.Welcome welcome) {
    encoder =
        welcome.telemetryEncodings().contains(CompactTelemetry.ENCODING)
            ? new CompactTelemetry.Encoder()
            : null;
    framesInFlight.clear();
    if (!unacked.isEmpty()) {
      send(link);
    }
  }

  /** One interval is over: a summary of it, sent with those not acknowledged yet. */
  void summarise(ControllerLink link) {
    long now = System.currentTimeMillis();
    ThreadLocalRandom r = ThreadLocalRandom.current();
    Telemetry.Metrics m =
        new Telemetry.Metrics(
            ++seq,
            Instant.ofEpochMilli(from),
            Instant.ofEpochMilli(now),
            nodeMetrics(r, (int) Math.max(1, (now - from) / 5000)));
    from = now;
    if (unacked.size() >= MAX_UNACKED) {
      unacked.removeFirst();
    }
    unacked.add(m);
    stats.telemetryRecords.increment();
    send(link);
  }

  /** Sends every unacknowledged summary, in the compact form when the controller takes it. */
  private void send(ControllerLink link) {
    List<Telemetry> batch = List.copyOf(unacked);
    CompactTelemetry.Encoded frame = encoder == null ? null : encoder.encode(batch);
    long bytes;
    if (frame != null) {
      if (framesInFlight.size() >= MAX_UNACKED) {
        framesInFlight.removeFirst();
      }
      framesInFlight.add(
          new InFlight(frame, batch.stream().mapToLong(Telemetry::seq).max().orElse(0)));
      link.sendBinary(frame.bytes());
      bytes = frame.bytes().length;
      stats.telemetryCompactBatches.increment();
    } else {
      AgentMessage.TelemetryBatch json = new AgentMessage.TelemetryBatch(batch);
      link.send(json);
      // Counted apart from the send: an older controller's form, rarely simulated.
      bytes = Json.write(json).getBytes(StandardCharsets.UTF_8).length;
    }
    stats.telemetryBatches.increment();
    stats.telemetryPayloadBytes.add(bytes);
  }

  /** The controller stored every summary up to {@code upTo}. */
  void acknowledged(long upTo) {
    unacked.removeIf(t -> t.seq() <= upTo);
    unacked.trimToSize();
    if (encoder != null) {
      // A frame all of whose records are acknowledged was read: its names are known now.
      framesInFlight.removeIf(
          f -> {
            boolean read = f.maxSeq() <= upTo;
            if (read) {
              encoder.acknowledged(f.frame());
            }
            return read;
          });
      framesInFlight.trimToSize();
    }
  }

  /**
   * What a real agent reports for a node with one disk and one network interface (the names of its
   * {@code NodeSampler}), with values that vary like real ones, so the bytes on the wire are those
   * of a real summary.
   */
  private static Map<String, Telemetry.Stat> nodeMetrics(ThreadLocalRandom r, int samples) {
    Map<String, Telemetry.Stat> m = new LinkedHashMap<>();
    double memTotal = 8_221_065_216.0;
    double rx = r.nextDouble(1e8, 1e10);
    double tx = r.nextDouble(1e7, 1e9);
    double uptime = r.nextDouble(1e5, 1e7);
    double free = r.nextDouble(1e10, 6e10);
    m.put("cpu.used.percent", stat(r, r.nextDouble(3, 60), 0.5, samples));
    m.put("cpu.iowait.percent", stat(r, r.nextDouble(0, 4), 0.8, samples));
    m.put("load.1", stat(r, r.nextDouble(0.05, 3), 0.3, samples));
    m.put("mem.total.bytes", rounded(memTotal, memTotal, memTotal, memTotal, samples));
    m.put("mem.used.bytes", stat(r, r.nextDouble(1e9, 6e9), 0.05, samples));
    m.put("mem.used.percent", stat(r, r.nextDouble(15, 75), 0.05, samples));
    m.put("uptime.seconds", rounded(uptime, uptime + 300, uptime + 150, uptime + 300, samples));
    m.put("disk.root.used.percent", stat(r, r.nextDouble(20, 80), 0.001, samples));
    m.put("disk.root.free.bytes", stat(r, free, 0.001, samples));
    m.put("net.eth0.rx.bytes", rounded(rx, rx + 9e5, rx + 4.5e5, rx + 9e5, samples));
    m.put("net.eth0.tx.bytes", rounded(tx, tx + 3e5, tx + 1.5e5, tx + 3e5, samples));
    m.put("net.eth0.errors", rounded(0, 0, 0, 0, samples));
    m.put("net.eth0.rx.bytes_per_s", stat(r, r.nextDouble(500, 50_000), 0.6, samples));
    m.put("net.eth0.tx.bytes_per_s", stat(r, r.nextDouble(200, 20_000), 0.6, samples));
    return m;
  }

  /** Rounded as the agent rounds (seven significant digits). */
  private static Telemetry.Stat rounded(double min, double max, double mean, double last, int n) {
    return new Telemetry.Stat(
        Telemetry.round(min),
        Telemetry.round(max),
        Telemetry.round(mean),
        Telemetry.round(last),
        n);
  }

  private static Telemetry.Stat stat(ThreadLocalRandom r, double mean, double spread, int n) {
    double min = mean * (1 - spread * r.nextDouble());
    double max = mean * (1 + spread * r.nextDouble());
    return rounded(min, max, mean, r.nextDouble(min, max), n);
  }
}
