package io.edgefleet.bench;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.agent.telemetry.NodeSampler;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.store.Database;
import io.edgefleet.controller.telemetry.TelemetryIngest;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.CompactTelemetry;
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
 * Telemetry figures, four parts:
 *
 * <ol>
 *   <li><b>Bytes per device per day</b> at the default cadence (5 s samples, 5-minute summaries):
 *       the real {@link TelemetryFeature} and the real outbox on disk, driven through one simulated
 *       day (17,280 samples, 288 windows, 20 events) on a clock the bench moves, for two nodes:
 *       this machine's real {@link NodeSampler}, and a typical node of 14 metrics (one disk, one
 *       interface: the names the simulator reports) whose values move as a real node's do. Once
 *       with no connection (a day of outage on disk), then connected to a channel that acknowledges
 *       every batch, once in JSON and once in the compact form: the WebSocket payload per summary
 *       and per day. The typical node's summaries are also encoded in the forms that were not
 *       chosen (JSON with per-message deflate, with deflate over the whole connection, and the
 *       compact form with deflate), for decision 0011.
 *   <li><b>On the real wire</b>: a controller in this JVM with 1 s summaries, one agent behind
 *       {@link CountingProxy}; TLS bytes per summary exchange (batch up, ack down), JSON and
 *       compact.
 *   <li><b>Saving the open window</b> (for crash recovery): time and bytes of one save of a
 *       14-metric window.
 *   <li><b>Controller ingestion of 1,000 devices</b>: {@link TelemetryIngest} on SQLite (and
 *       PostgreSQL with {@code --postgres}) fed, per device, one summary of this machine's metrics
 *       and three events, parsed from JSON as the gateway parses it, and the same from compact
 *       messages; CPU time of the ingesting thread per batch and records per second.
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
    Telemetry.Metrics typical =
        summaries(perDay(tmp.resolve("day"), NodeSampler.system(), "this machine")).getLast();
    List<Telemetry.Metrics> node14 =
        summaries(perDay(tmp.resolve("day14"), new TypicalNode(), "a typical node"));
    alternatives(node14);
    onTheWire(tmp.resolve("wire"), false);
    onTheWire(tmp.resolve("wire-compact"), true);
    checkpoints(tmp.resolve("checkpoint"), node14.getLast());
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

  /**
   * A node of 14 metrics (one disk, one interface; the names the simulator reports) whose values
   * move as a real node's do: CPU and rates wander, memory drifts, counters and uptime grow, the
   * totals stay. Seeded, so runs compare.
   */
  static final class TypicalNode implements io.edgefleet.agent.telemetry.Sampler {
    private final java.util.Random r = new java.util.Random(42);
    private double cpu = 12;
    private double load = 0.4;
    private double mem = 3.1e9;
    private double rx = 4.2e9;
    private double tx = 3.0e8;
    private double uptime = 1_234_567;
    private double free = 3.1e10;

    @Override
    public Map<String, Double> sample() {
      Map<String, Double> m = new LinkedHashMap<>();
      cpu = Math.clamp(cpu + r.nextGaussian() * 3, 0.5, 100);
      load = Math.max(0, load + r.nextGaussian() * 0.05);
      mem = Math.clamp(mem + r.nextGaussian() * 2e6, 1e9, 7e9);
      double rxRate = Math.max(0, 3000 + r.nextGaussian() * 1500);
      double txRate = Math.max(0, 1000 + r.nextGaussian() * 500);
      rx += rxRate * 5;
      tx += txRate * 5;
      uptime += 5;
      free -= Math.max(0, r.nextGaussian() * 4096);
      double total = 8_221_065_216.0;
      m.put("cpu.used.percent", cpu);
      m.put("cpu.iowait.percent", Math.max(0, r.nextGaussian() * 0.3 + 0.2));
      m.put("load.1", load);
      m.put("mem.total.bytes", total);
      m.put("mem.used.bytes", Math.floor(mem / 4096) * 4096);
      m.put("mem.used.percent", 100 * Math.floor(mem / 4096) * 4096 / total);
      m.put("uptime.seconds", uptime + Math.floor(r.nextDouble() * 100) / 100);
      m.put("disk./.used.percent", 100 * (6.4e10 - free) / 6.4e10);
      m.put("disk./.free.bytes", Math.floor(free / 4096) * 4096);
      m.put("net.eth0.rx.bytes", Math.floor(rx));
      m.put("net.eth0.tx.bytes", Math.floor(tx));
      m.put("net.eth0.errors", 0.0);
      m.put("net.eth0.rx.bytes_per_s", rxRate);
      m.put("net.eth0.tx.bytes_per_s", txRate);
      return m;
    }
  }

  private static List<Telemetry.Metrics> summaries(List<Telemetry> records) {
    return records.stream()
        .filter(t -> t instanceof Telemetry.Metrics)
        .map(t -> (Telemetry.Metrics) t)
        .toList();
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

  /**
   * One simulated day of {@code sampler}: offline into the outbox, then connected in JSON and in
   * the compact form; prints the figures and returns the day's records (offline).
   */
  static List<Telemetry> perDay(Path dir, io.edgefleet.agent.telemetry.Sampler sampler, String what)
      throws Exception {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try {
      // Offline: everything stays in the outbox.
      StepClock clock = new StepClock();
      Outbox offline = Outbox.open(dir.resolve("offline"), Outbox.Options.defaults(), clock);
      TelemetryFeature f =
          new TelemetryFeature(
              offline,
              sampler,
              List::of,
              scheduler,
              clock,
              TelemetryFeature.Options.defaults().withSampleEvery(Duration.ZERO));
      day(f, clock);
      Outbox.Stats s = offline.stats();
      List<Telemetry> pending = offline.pending();
      List<Telemetry.Metrics> summaries = summaries(pending);
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
          "%nper day, %s: 5-minute summaries of %d metrics, 20 events%n"
              + "  offline, on disk: %,d B in %d segment(s) (%,d summaries, %,d events);"
              + " JSON of one summary %,d B, of one event ~%,d B%n",
          what,
          summaries.getLast().metrics().size(),
          s.bytes(),
          s.segments(),
          s.pendingMetrics(),
          s.pendingEvents(),
          metricJson / Math.max(1, s.pendingMetrics()),
          eventJson / Math.max(1, s.pendingEvents()));
      f.close();
      for (boolean compact : new boolean[] {false, true}) {
        online(dir.resolve(compact ? "compact" : "json"), sampler, compact);
      }
      return pending;
    } finally {
      scheduler.shutdownNow();
    }
  }

  /**
   * A connected day: every summary goes out in its own batch and is acknowledged at once (the byte
   * budget is lifted only because the simulated day passes in seconds). The sampler is the same
   * object as offline, so its state continues; the bytes are what matter here.
   */
  private static void online(
      Path dir, io.edgefleet.agent.telemetry.Sampler sampler, boolean compact) throws Exception {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try {
      StepClock clock = new StepClock();
      Outbox online = Outbox.open(dir, Outbox.Options.defaults(), clock);
      TelemetryFeature g =
          new TelemetryFeature(
              online,
              sampler,
              List::of,
              scheduler,
              clock,
              TelemetryFeature.Options.defaults()
                  .withSampleEvery(Duration.ZERO)
                  .withBytesPerSecond(1L << 30)
                  .withCompact(compact));
      AtomicLong up = new AtomicLong();
      AtomicLong down = new AtomicLong();
      AtomicLong messages = new AtomicLong();
      AtomicLong first = new AtomicLong();
      java.util.Queue<ControllerMessage.TelemetryAck> acks =
          new java.util.concurrent.ConcurrentLinkedQueue<>();
      CompactTelemetry.Decoder decoder = new CompactTelemetry.Decoder();
      AgentFeature.Channel wire =
          new AgentFeature.Channel() {
            @Override
            public boolean send(AgentMessage m) {
              return answer(Json.writeBytes(m).length, ((AgentMessage.TelemetryBatch) m).records());
            }

            @Override
            public boolean binary() {
              return true;
            }

            @Override
            public boolean sendBinary(byte[] message) {
              try {
                return answer(message.length, decoder.decode(java.nio.ByteBuffer.wrap(message)));
              } catch (CompactTelemetry.MalformedException e) {
                throw new IllegalStateException(e);
              }
            }

            private boolean answer(int bytes, List<Telemetry> records) {
              if (messages.incrementAndGet() == 1) {
                first.set(bytes);
              }
              up.addAndGet(bytes);
              long seq = records.stream().mapToLong(Telemetry::seq).max().orElseThrow();
              ControllerMessage.TelemetryAck ack = new ControllerMessage.TelemetryAck(seq);
              down.addAndGet(Json.writeBytes(ack).length);
              // Answered right after the send returns, as a controller's answer arrives.
              acks.add(ack);
              return true;
            }
          };
      g.connected(
          wire,
          new ControllerMessage.Welcome(
              "bench", 60, 0, 300, false, List.of(CompactTelemetry.ENCODING)));
      day(g, clock, () -> answer(g, acks));
      // Let the last acknowledgements land.
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (online.stats().pending() > 0 && System.nanoTime() < deadline) {
        answer(g, acks);
        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
      }
      TelemetryFeature.Stats st = g.stats();
      System.out.printf(
          Locale.ROOT,
          "  online, %s: %,d messages (%,d compact), %,d B up (first %,d B, then %,d B on average),"
              + " %,d B down (acks); WebSocket payload per day %,d B; outbox left: %,d B%n",
          compact ? "compact" : "JSON",
          messages.get(),
          st.compactBatches(),
          up.get(),
          first.get(),
          (up.get() - first.get()) / Math.max(1, messages.get() - 1),
          down.get(),
          up.get() + down.get(),
          online.stats().bytes());
      g.close();
    } finally {
      scheduler.shutdownNow();
    }
  }

  /** The typical node's summaries in the forms decision 0011 weighed. */
  static void alternatives(List<Telemetry.Metrics> summaries) {
    long json = 0;
    long jsonDeflate = 0;
    long compact = 0;
    long compactDeflate = 0;
    long compactFirst = 0;
    java.util.zip.Deflater stream = new java.util.zip.Deflater(6, true);
    long jsonStream = 0;
    CompactTelemetry.Encoder encoder = new CompactTelemetry.Encoder();
    for (Telemetry.Metrics m : summaries) {
      byte[] j = Json.writeBytes(new AgentMessage.TelemetryBatch(List.of(m)));
      json += j.length;
      jsonDeflate += deflate(j);
      jsonStream += streamDeflate(stream, j);
      CompactTelemetry.Encoded e = encoder.encode(List.of(m));
      if (compactFirst == 0) {
        compactFirst = e.bytes().length;
      }
      encoder.acknowledged(e);
      compact += e.bytes().length;
      compactDeflate += deflate(e.bytes());
    }
    int n = summaries.size();
    System.out.printf(
        Locale.ROOT,
        "  WebSocket payload per summary of %d metrics, average over %d (the first compact one,"
            + " with names: %,d B):%n"
            + "    JSON %,d B; JSON deflated per message %,d B; JSON deflated over the connection"
            + " %,d B; compact %,d B; compact deflated per message %,d B%n",
        summaries.getLast().metrics().size(),
        n,
        compactFirst,
        json / n,
        jsonDeflate / n,
        jsonStream / n,
        compact / n,
        compactDeflate / n);
  }

  /** Bytes of one message deflated on its own (permessage-deflate without context takeover). */
  private static int deflate(byte[] b) {
    java.util.zip.Deflater d = new java.util.zip.Deflater(6, true);
    d.setInput(b);
    d.finish();
    byte[] out = new byte[b.length + 64];
    int n = d.deflate(out);
    d.end();
    return n;
  }

  /**
   * Bytes of one message deflated with the window of the messages before it (permessage-deflate
   * with context takeover: a sync flush per message, the 4 trailing bytes dropped as RFC 7692
   * does).
   */
  private static int streamDeflate(java.util.zip.Deflater d, byte[] b) {
    d.setInput(b);
    byte[] out = new byte[b.length + 64];
    int n = d.deflate(out, 0, out.length, java.util.zip.Deflater.SYNC_FLUSH);
    return n - 4;
  }

  /**
   * Time and bytes of saving the open window (what crash recovery costs while running), in memory
   * ({@code /dev/shm}, the default) and, for comparison, in the state directory on disk.
   */
  static void checkpoints(Path dir, Telemetry.Metrics window) throws Exception {
    Files.createDirectories(dir);
    Path shm = Path.of("/dev/shm");
    if (Files.isDirectory(shm)) {
      Path memory = Files.createTempDirectory(shm, "edgefleet-bench-");
      try {
        checkpoints(dir.resolve("m"), memory, window, "in memory (/dev/shm)");
      } finally {
        Files.deleteIfExists(memory.resolve("window"));
        Files.deleteIfExists(memory);
      }
    }
    checkpoints(dir.resolve("d"), dir.resolve("disk"), window, "on disk (" + dir + ")");
  }

  private static void checkpoints(Path dir, Path saves, Telemetry.Metrics window, String where)
      throws Exception {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try {
      StepClock clock = new StepClock();
      Map<String, Double> sample = new LinkedHashMap<>();
      window.metrics().forEach((k, v) -> sample.put(k, v.mean()));
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      int n = 20_000;
      long[] cpu = new long[2];
      long wall = 0;
      long bytes = 0;
      // Once with a save after every sample, once without, to subtract the sampling around it.
      for (int every : new int[] {1, 0}) {
        Outbox outbox =
            Outbox.open(dir.resolve("outbox-" + every), Outbox.Options.defaults(), clock);
        TelemetryFeature f =
            new TelemetryFeature(
                outbox,
                () -> sample,
                List::of,
                scheduler,
                clock,
                TelemetryFeature.Options.defaults()
                    .withSampleEvery(Duration.ZERO)
                    .withDefaultWindow(Duration.ofDays(1))
                    .withCheckpointEvery(every)
                    .withCheckpointDir(saves));
        for (int i = 0; i < 2_000; i++) {
          clock.advance(Duration.ofSeconds(5));
          f.tick();
        }
        long cpu0 = threads.getCurrentThreadCpuTime();
        long wall0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
          clock.advance(Duration.ofSeconds(5));
          f.tick();
        }
        cpu[every] = threads.getCurrentThreadCpuTime() - cpu0;
        if (every == 1) {
          wall = System.nanoTime() - wall0;
          bytes = Files.size(saves.resolve("window"));
        }
        f.close();
      }
      System.out.printf(
          Locale.ROOT,
          "%nsaving the open window (%d metrics) %s: %,d B per save; %.1f µs CPU per save (%.1f µs"
              + " per sample with a save, %.1f without; %.1f µs wall with a save); one save a"
              + " minute: 1,440 saves, %,d B written a day%n",
          window.metrics().size(),
          where,
          bytes,
          (cpu[1] - cpu[0]) / 1e3 / n,
          cpu[1] / 1e3 / n,
          cpu[0] / 1e3 / n,
          wall / 1e3 / n,
          1440 * bytes);
    } finally {
      scheduler.shutdownNow();
    }
  }

  private static void day(TelemetryFeature f, StepClock clock) {
    day(f, clock, null);
  }

  /**
   * 17,280 samples 5 s apart and 20 events; when connected, {@code answer} runs after each sample
   * and until each event's batch was acknowledged.
   */
  private static void day(TelemetryFeature f, StepClock clock, Runnable answer) {
    int ticks = 24 * 60 * 12;
    for (int i = 1; i <= ticks; i++) {
      clock.advance(Duration.ofSeconds(5));
      f.tick();
      if (answer != null) {
        answer.run();
      }
      if (i % (ticks / 20) == 0) {
        f.event("app-ready", "info", "web", "app revision 4f2a9c1 is ready", clock.instant());
        if (answer == null) {
          continue;
        }
        // The event's batch goes from the scheduler; wait for it so that it travels alone.
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (f.outbox().stats().pending() > 0 && System.nanoTime() < deadline) {
          answer.run();
          java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
      }
    }
  }

  /** Hands the feature the acknowledgements its batches got, one batch in flight at a time. */
  private static void answer(
      TelemetryFeature f, java.util.Queue<ControllerMessage.TelemetryAck> q) {
    for (ControllerMessage.TelemetryAck a; (a = q.poll()) != null; ) {
      f.handle(a);
    }
  }

  /** TLS bytes per summary exchange through a counting proxy, JSON or compact. */
  static void onTheWire(Path dir, boolean compact) throws Exception {
    ControllerConfig config =
        TestController.config(dir.resolve("controller"))
            .withHeartbeat(Duration.ofSeconds(600))
            .withTelemetryInterval(Duration.ofSeconds(1));
    try (TestController controller = TestController.start(config);
        CountingProxy proxy = CountingProxy.forUrl(controller.url());
        TestAgents agents = new TestAgents(dir)) {
      String token = controller.token(Map.of(), null, false);
      AgentOptions options =
          agents.options(
              "a", agents.bootstrap("t", proxy.url(), controller.caFingerprint(), token));
      TestAgents.WithTelemetry a =
          agents.startWithTelemetry(
              options,
              MovableClock.startingAt(Instant.now()),
              NodeSampler.system(),
              TelemetryFeature.Options.defaults()
                  .withSampleEvery(Duration.ofMillis(100))
                  .withDefaultWindow(Duration.ofSeconds(1))
                  .withCompact(compact));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (a.agent().status().state() != Agent.State.CONNECTED && System.nanoTime() < deadline) {
        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
      }
      TelemetryIngest ingest = controller.controller().telemetry();
      // Let the connection settle (hello, welcome, report, the first frames with names), then
      // count a span of whole exchanges.
      waitFor(() -> ingest.batches() >= 3);
      long batches0 = ingest.batches();
      long up0 = proxy.totalUp();
      long down0 = proxy.totalDown();
      long payload0 = a.telemetry().stats().bytesSent();
      waitFor(() -> ingest.batches() >= batches0 + 20);
      long n = ingest.batches() - batches0;
      long up = proxy.totalUp() - up0;
      long down = proxy.totalDown() - down0;
      long payload = a.telemetry().stats().bytesSent() - payload0;
      System.out.printf(
          Locale.ROOT,
          "%non the wire, %s (TLS records via CountingProxy; no heartbeat in the span), %d"
              + " exchanges of one summary of %d metrics: %,d B up (WebSocket payload %,d B), %,d B"
              + " down per exchange%n",
          compact ? "compact" : "JSON",
          n,
          ingest.latestAll().values().iterator().next().metrics().size(),
          up / n,
          payload / n,
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

  private static Telemetry renumber(Telemetry t, long add) {
    return switch (t) {
      case Telemetry.Metrics m ->
          new Telemetry.Metrics(m.seq() + add, m.from(), m.at(), m.metrics(), m.partial());
      case Telemetry.DeviceEvent e ->
          new Telemetry.DeviceEvent(
              e.seq() + add, e.at(), e.kind(), e.severity(), e.app(), e.message());
      case Telemetry.Loss l -> new Telemetry.Loss(l.seq() + add, l.at(), l.events(), l.reason());
    };
  }

  /** Ingestion of one batch (one summary, three events) per device, several rounds. */
  static void ingest(String kind, String url, Telemetry.Metrics typical, int devices, int rounds)
      throws IOException, CompactTelemetry.MalformedException {
    try (Database db = Database.open(url, null, null)) {
      TelemetryIngest ingest = new TelemetryIngest(db.jdbi(), Clock.systemUTC());
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      long seq = 0;
      List<String> results = new ArrayList<>();
      // Round 0 warms up the JIT and is not reported.
      for (int round = 0; round <= rounds; round++) {
        List<String> texts = new ArrayList<>(devices);
        List<byte[]> firstFrames = new ArrayList<>(devices);
        List<byte[]> frames = new ArrayList<>(devices);
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
          // A connection's second frame, with other seqs: the names went with its first.
          CompactTelemetry.Encoder encoder = new CompactTelemetry.Encoder();
          CompactTelemetry.Encoded named = encoder.encode(records);
          encoder.acknowledged(named);
          firstFrames.add(named.bytes());
          frames.add(
              encoder
                  .encode(records.stream().map(t -> renumber(t, 1_000_000_000L)).toList())
                  .bytes());
        }
        List<CompactTelemetry.Decoder> decoders = new ArrayList<>(devices);
        for (int d = 0; d < devices; d++) {
          CompactTelemetry.Decoder decoder = ingest.decoder();
          decoder.decode(java.nio.ByteBuffer.wrap(firstFrames.get(d)));
          decoders.add(decoder);
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
        long cpu1 = threads.getCurrentThreadCpuTime();
        long wall1 = System.nanoTime();
        long compactStored = 0;
        for (int d = 0; d < devices; d++) {
          compactStored += 4;
          ingest.compact(
              String.format("dev-%06d", d),
              java.nio.ByteBuffer.wrap(frames.get(d)),
              decoders.get(d));
        }
        long cpuCompact = threads.getCurrentThreadCpuTime() - cpu1;
        long wallCompact = System.nanoTime() - wall1;
        if (round > 0) {
          results.add(
              String.format(
                  Locale.ROOT,
                  "  round %d: %,d batches, %,d records in %,d ms wall, %,d ms CPU of the ingesting"
                      + " thread: JSON %.3f ms CPU per batch, %,.0f records/s; compact %.3f ms CPU"
                      + " per batch, %,.0f records/s",
                  round,
                  devices,
                  stored,
                  wall / 1_000_000,
                  cpu / 1_000_000,
                  cpu / 1e6 / devices,
                  stored / (wall / 1e9),
                  cpuCompact / 1e6 / devices,
                  compactStored / (wallCompact / 1e9)));
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
