package io.edgefleet.bench;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.agent.telemetry.NodeSampler;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.store.Database;
import io.edgefleet.controller.telemetry.TelemetryIngest;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.testkit.CountingProxy;
import io.edgefleet.testkit.MovableClock;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Telemetry figures, three parts:
 *
 * <ol>
 *   <li><b>Bytes per device per day</b> at the default cadence (5 s samples, 60 s summaries): the
 *       real {@link TelemetryFeature} with the real {@link NodeSampler} of this machine and the
 *       real outbox on disk, driven through one simulated day (1,440 windows, 17,280 samples, 20
 *       events) on a clock the bench moves. Once with no connection (what a day of outage costs on
 *       disk), once with a connection that acknowledges every batch (the JSON that goes on the wire
 *       per day).
 *   <li><b>On the real wire</b>: a controller in this JVM with 1 s summaries, one agent behind
 *       {@link CountingProxy}; TLS bytes per summary exchange (batch up, ack down).
 *   <li><b>Controller ingestion of 1,000 devices</b>: {@link TelemetryIngest} on SQLite (and
 *       PostgreSQL with {@code --postgres}) fed, per device, the JSON message of one summary of
 *       this machine's metrics and three events, parsed as the gateway parses it; CPU time of the
 *       ingesting thread per batch and records per second, over several rounds after a warm-up.
 * </ol>
 *
 * Reports figures and asserts nothing. Usage: {@code bench/telemetry.sh [--devices 1000] [--rounds
 * 5] [--postgres]}.
 */
public final class TelemetryBench {
  private TelemetryBench() {}

  public static void main(String[] args) throws Exception {
    int devices = 1000;
    int rounds = 5;
    boolean postgres = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--devices" -> devices = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--postgres" -> postgres = true;
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    Path tmp = Files.createTempDirectory("edgefleet-telemetry-bench");
    System.out.printf(
        Locale.ROOT,
        "machine: %d cores, JVM %s%n",
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.vm.version"));
    Telemetry.Metrics typical = perDay(tmp.resolve("day"));
    onTheWire(tmp.resolve("wire"));
    ingest(
        "sqlite",
        Database.sqliteUrl(Files.createDirectories(tmp.resolve("db"))),
        typical,
        devices,
        rounds);
    if (postgres) {
      ingest("postgresql", Postgres.newDatabase(), typical, devices, rounds);
    }
  }

  /** A clock that moves only when told. */
  static final class StepClock extends Clock {
    final AtomicLong millis = new AtomicLong(Instant.parse("2026-11-21T00:00:00Z").toEpochMilli());

    void advance(Duration d) {
      millis.addAndGet(d.toMillis());
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }
  }

  /** One simulated day; returns the last summary as the typical one. */
  static Telemetry.Metrics perDay(Path dir) throws Exception {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try {
      // Offline: everything stays in the outbox.
      StepClock clock = new StepClock();
      Outbox offline = Outbox.open(dir.resolve("offline"), Outbox.Options.defaults(), clock);
      TelemetryFeature f =
          new TelemetryFeature(
              offline,
              NodeSampler.system(),
              List::of,
              scheduler,
              clock,
              TelemetryFeature.Options.defaults().withSampleEvery(Duration.ZERO));
      day(f, clock);
      Outbox.Stats s = offline.stats();
      List<Telemetry> pending = offline.pending();
      Telemetry.Metrics last =
          (Telemetry.Metrics)
              pending.stream()
                  .filter(t -> t instanceof Telemetry.Metrics)
                  .reduce((a, b) -> b)
                  .get();
      long metricJson = 0;
      long eventJson = 0;
      for (Telemetry t : pending) {
        long n = Json.writeBytes(t).length;
        if (t instanceof Telemetry.Metrics) {
          metricJson += n;
        } else {
          eventJson += n;
        }
      }
      System.out.printf(
          Locale.ROOT,
          "%nper day, 60 s summaries of %d metrics (this machine), 20 events%n"
              + "  offline, on disk: %,d B in %d segment(s) (%,d summaries, %,d events);"
              + " JSON of one summary %,d B, of one event ~%,d B%n",
          last.metrics().size(),
          s.bytes(),
          s.segments(),
          s.pendingMetrics(),
          s.pendingEvents(),
          metricJson / Math.max(1, s.pendingMetrics()),
          eventJson / Math.max(1, s.pendingEvents()));
      f.close();

      // Online: every summary goes out in its own batch and is acknowledged at once (the byte
      // budget is lifted only because the simulated day passes in seconds).
      StepClock clock2 = new StepClock();
      Outbox online = Outbox.open(dir.resolve("online"), Outbox.Options.defaults(), clock2);
      TelemetryFeature g =
          new TelemetryFeature(
              online,
              NodeSampler.system(),
              List::of,
              scheduler,
              clock2,
              TelemetryFeature.Options.defaults()
                  .withSampleEvery(Duration.ZERO)
                  .withBytesPerSecond(1L << 30));
      AtomicLong up = new AtomicLong();
      AtomicLong down = new AtomicLong();
      AtomicLong messages = new AtomicLong();
      TelemetryFeature[] holder = {null};
      AgentFeature.Channel wire =
          m -> {
            messages.incrementAndGet();
            up.addAndGet(Json.writeBytes(m).length);
            long seq =
                ((AgentMessage.TelemetryBatch) m)
                    .records().stream().mapToLong(Telemetry::seq).max().orElseThrow();
            ControllerMessage.TelemetryAck ack = new ControllerMessage.TelemetryAck(seq);
            down.addAndGet(Json.writeBytes(ack).length);
            holder[0].handle(ack);
            return true;
          };
      holder[0] = g;
      g.connected(wire, new ControllerMessage.Welcome("bench", 30, 0, 60));
      day(g, clock2);
      // Let the last acknowledgements land.
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (online.stats().pending() > 0 && System.nanoTime() < deadline) {
        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
      }
      System.out.printf(
          Locale.ROOT,
          "  online, JSON on the socket: %,d messages, %,d B up (batches), %,d B down (acks);"
              + " outbox left: %,d B%n",
          messages.get(),
          up.get(),
          down.get(),
          online.stats().bytes());
      g.close();
      return last;
    } finally {
      scheduler.shutdownNow();
    }
  }

  private static void day(TelemetryFeature f, StepClock clock) {
    int ticks = 24 * 60 * 12;
    for (int i = 1; i <= ticks; i++) {
      clock.advance(Duration.ofSeconds(5));
      f.tick();
      if (i % (ticks / 20) == 0) {
        f.event("app-ready", "info", "web", "app revision 4f2a9c1 is ready", clock.instant());
      }
    }
  }

  /** TLS bytes per summary exchange through a counting proxy. */
  static void onTheWire(Path dir) throws Exception {
    ControllerConfig config =
        TestController.config(dir.resolve("controller"))
            .withHeartbeat(Duration.ofSeconds(30))
            .withTelemetryInterval(Duration.ofSeconds(1));
    try (TestController controller = TestController.start(config);
        CountingProxy proxy = CountingProxy.forUrl(controller.url());
        TestAgents agents = new TestAgents(dir)) {
      String token = controller.token(Map.of(), null, false);
      Agent.Options options =
          agents.options(
              "a", agents.bootstrap("t", proxy.url(), controller.caFingerprint(), token));
      TestAgents.WithTelemetry a =
          agents.startWithTelemetry(
              options,
              MovableClock.startingAt(Instant.now()),
              NodeSampler.system(),
              TelemetryFeature.Options.defaults().withSampleEvery(Duration.ofMillis(100)));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (a.agent().status().state() != Agent.State.CONNECTED && System.nanoTime() < deadline) {
        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
      }
      TelemetryIngest ingest = controller.controller().telemetry();
      // Let the connection settle (hello, welcome, report), then count a span of whole exchanges.
      waitFor(() -> ingest.batches() >= 3);
      long batches0 = ingest.batches();
      long up0 = proxy.totalUp();
      long down0 = proxy.totalDown();
      waitFor(() -> ingest.batches() >= batches0 + 20);
      long n = ingest.batches() - batches0;
      long up = proxy.totalUp() - up0;
      long down = proxy.totalDown() - down0;
      System.out.printf(
          Locale.ROOT,
          "%non the wire (TLS payload incl. records, via CountingProxy), %d exchanges of one"
              + " summary: %,d B up, %,d B down per exchange (heartbeats every 30 s included)%n",
          n,
          up / n,
          down / n);
    }
  }

  private static void waitFor(java.util.function.BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out");
      }
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
    }
  }

  /** Ingestion of one batch (one summary, three events) per device, several rounds. */
  static void ingest(String kind, String url, Telemetry.Metrics typical, int devices, int rounds)
      throws IOException {
    try (Database db = Database.open(url, null, null)) {
      TelemetryIngest ingest = new TelemetryIngest(db.jdbi(), Clock.systemUTC());
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      long seq = 0;
      List<String> results = new ArrayList<>();
      // Round 0 warms up the JIT and is not reported.
      for (int round = 0; round <= rounds; round++) {
        List<String> texts = new ArrayList<>(devices);
        Instant now = Instant.now();
        for (int d = 0; d < devices; d++) {
          List<Telemetry> records = new ArrayList<>();
          long base = ++seq * 4;
          for (int e = 0; e < 3; e++) {
            records.add(
                new Telemetry.DeviceEvent(
                    base + e, now, "app-ready", "info", "web", "app revision 4f2a9c1 is ready"));
          }
          records.add(
              new Telemetry.Metrics(base + 3, now.minusSeconds(60), now, typical.metrics()));
          texts.add(Json.write(new AgentMessage.TelemetryBatch(records)));
        }
        long cpu0 = threads.getCurrentThreadCpuTime();
        long wall0 = System.nanoTime();
        long stored = 0;
        for (int d = 0; d < devices; d++) {
          AgentMessage m = Json.mapper().readValue(texts.get(d), AgentMessage.class);
          List<Telemetry> records = ((AgentMessage.TelemetryBatch) m).records();
          ingest.batch(String.format("dev-%06d", d), records);
          stored += records.size();
        }
        long cpu = threads.getCurrentThreadCpuTime() - cpu0;
        long wall = System.nanoTime() - wall0;
        if (round > 0) {
          results.add(
              String.format(
                  Locale.ROOT,
                  "  round %d: %,d batches, %,d records in %,d ms wall, %,d ms CPU of the ingesting"
                      + " thread: %.3f ms CPU per batch, %,.0f records/s",
                  round,
                  devices,
                  stored,
                  wall / 1_000_000,
                  cpu / 1_000_000,
                  cpu / 1e6 / devices,
                  stored / (wall / 1e9)));
        }
      }
      System.out.printf(
          Locale.ROOT,
          "%ningest on %s: %d devices x (1 summary of %d metrics + 3 events), %d rounds after a"
              + " warm-up%n",
          kind,
          devices,
          typical.metrics().size(),
          rounds);
      results.forEach(System.out::println);
      Map<String, Long> counters = new LinkedHashMap<>();
      counters.put("records", ingest.records());
      counters.put("refused", ingest.refused());
      counters.put("duplicates", ingest.duplicates());
      System.out.println("  counters: " + new TreeMap<>(counters));
    }
  }
}
