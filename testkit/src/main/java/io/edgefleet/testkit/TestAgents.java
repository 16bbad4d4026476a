package io.edgefleet.testkit;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.random.RandomGenerator;

/**
 * Real agents in the test JVM, each with its own key, state directory and TLS client, sharing
 * threads. Backoff is shortened so reconnects happen within test time; everything else is as in
 * production.
 */
public final class TestAgents implements AutoCloseable {
  private final Path dir;
  private final ScheduledExecutorService scheduler =
      Executors.newScheduledThreadPool(
          2,
          r -> {
            Thread t = new Thread(r, "test-agents");
            t.setDaemon(true);
            return t;
          });
  private final ExecutorService http = Executors.newVirtualThreadPerTaskExecutor();
  private final List<Agent> agents = new ArrayList<>();
  private final PrintStream out;

  public TestAgents(Path dir) {
    this(dir, System.out);
  }

  public TestAgents(Path dir, PrintStream out) {
    this.dir = dir;
    this.out = out;
  }

  /** Writes a bootstrap file the way {@code edgefleet onboarding bootstrap} does. */
  public Path bootstrap(String name, String url, String caFingerprint, String token) {
    Path file = dir.resolve("bootstrap-" + name + ".json");
    SecureFiles.writeSecret(file, Json.pretty(Bootstrap.of(url, caFingerprint, token)));
    return file;
  }

  /** Options for agent {@code name}: its own state dir, fast backoff, no QR output. */
  public AgentOptions options(String name, Path bootstrap) {
    return AgentOptions.of(bootstrap, dir.resolve("agents").resolve(name))
        .withMaxBackoff(Duration.ofSeconds(2))
        .withRefusedBackoff(Duration.ofMinutes(10))
        .withQr(false);
  }

  /** Creates and starts an agent. */
  public Agent start(AgentOptions options) {
    return start(options, Clock.systemUTC());
  }

  /**
   * Artifact downloads as tests want them: a pass every half second, progress reported every 200
   * ms, retries after 200 ms up to a second, so a test waits for its blobs in seconds.
   */
  public static io.edgefleet.agent.artifacts.ArtifactsFeature.Options fastArtifacts() {
    return io.edgefleet.agent.artifacts.ArtifactsFeature.Options.defaults()
        .withTick(java.time.Duration.ofMillis(500))
        .withReportEvery(java.time.Duration.ofMillis(200))
        .withRetry(java.time.Duration.ofMillis(200), java.time.Duration.ofSeconds(1));
  }

  /** Creates and starts an agent whose clock may differ from the controller's. */
  public Agent start(AgentOptions options, Clock clock) {
    return start(options, clock, new NoRuntime("test agent without a workload runtime"));
  }

  /** Creates and starts an agent with the given clock and workload runtime. */
  public Agent start(AgentOptions options, Clock clock, WorkloadRuntime runtime) {
    Agent a =
        new Agent(options, scheduler, http, RandomGenerator.getDefault(), clock, out, runtime);
    synchronized (agents) {
      agents.add(a);
    }
    a.start();
    return a;
  }

  /** An agent and its telemetry feature. */
  public record WithTelemetry(
      Agent agent, io.edgefleet.agent.telemetry.TelemetryFeature telemetry) {}

  /**
   * Creates and starts an agent with telemetry as {@code edgefleet agent} has it: the outbox in the
   * agent's state directory (64 MiB), sampling with {@code sampler} (a zero {@code sampleEvery}
   * leaves sampling to {@code TelemetryFeature.tick()}), on the agents' shared threads.
   */
  public WithTelemetry startWithTelemetry(
      AgentOptions options,
      Clock clock,
      io.edgefleet.agent.telemetry.Sampler sampler,
      io.edgefleet.agent.telemetry.TelemetryFeature.Options telemetry) {
    return startWithTelemetry(
        options, clock, new NoRuntime("test agent without a workload runtime"), sampler, telemetry);
  }

  /** The same with a workload runtime, whose app states become gauges and events. */
  public WithTelemetry startWithTelemetry(
      AgentOptions options,
      Clock clock,
      WorkloadRuntime runtime,
      io.edgefleet.agent.telemetry.Sampler sampler,
      io.edgefleet.agent.telemetry.TelemetryFeature.Options telemetry) {
    var made =
        new java.util.concurrent.atomic.AtomicReference<
            io.edgefleet.agent.telemetry.TelemetryFeature>();
    Agent agent =
        start(
            options,
            clock,
            runtime,
            List.of(
                a -> {
                  var outbox =
                      io.edgefleet.agent.outbox.Outbox.open(
                          options.stateDir().resolve("outbox"),
                          io.edgefleet.agent.outbox.Outbox.Options.defaults(),
                          clock);
                  var f =
                      new io.edgefleet.agent.telemetry.TelemetryFeature(
                          outbox, sampler, a::apps, scheduler, clock, telemetry);
                  f.start();
                  made.set(f);
                  return f;
                }));
    return new WithTelemetry(agent, made.get());
  }

  /**
   * Creates and starts an agent with the given runtime and the features {@code features} make for
   * it (e.g. {@code a -> LogsFeature.forAgent(a, runtime, clock, options)}), added before it
   * starts.
   */
  public Agent start(
      AgentOptions options,
      Clock clock,
      WorkloadRuntime runtime,
      List<java.util.function.Function<Agent, ? extends io.edgefleet.agent.AgentFeature>>
          features) {
    Agent a =
        new Agent(options, scheduler, http, RandomGenerator.getDefault(), clock, out, runtime);
    features.forEach(f -> a.add(f.apply(a)));
    synchronized (agents) {
      agents.add(a);
    }
    a.start();
    return a;
  }

  /** Creates and starts an agent that also serves its workload logs, as {@code edgefleet agent}. */
  public Agent startWithLogs(
      AgentOptions options,
      WorkloadRuntime runtime,
      io.edgefleet.agent.logs.LogsFeature.Options logs) {
    Clock clock = Clock.systemUTC();
    return start(
        options,
        clock,
        runtime,
        List.of(a -> io.edgefleet.agent.logs.LogsFeature.forAgent(a, runtime, clock, logs)));
  }

  public List<Agent> all() {
    synchronized (agents) {
      return List.copyOf(agents);
    }
  }

  @Override
  public void close() {
    all().forEach(Agent::close);
    scheduler.shutdownNow();
    http.shutdownNow();
  }
}
