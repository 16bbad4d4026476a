package io.edgefleet.testkit;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import java.io.OutputStream;
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
    this(dir, new PrintStream(OutputStream.nullOutputStream()));
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
  public Agent.Options options(String name, Path bootstrap) {
    return Agent.Options.of(bootstrap, dir.resolve("agents").resolve(name))
        .withMaxBackoff(Duration.ofSeconds(2))
        .withRefusedBackoff(Duration.ofMinutes(10))
        .withQr(false);
  }

  /** Creates and starts an agent. */
  public Agent start(Agent.Options options) {
    return start(options, Clock.systemUTC());
  }

  /** Creates and starts an agent whose clock may differ from the controller's. */
  public Agent start(Agent.Options options, Clock clock) {
    return start(options, clock, new NoRuntime("test agent without a workload runtime"));
  }

  /** Creates and starts an agent with the given clock and workload runtime. */
  public Agent start(Agent.Options options, Clock clock, WorkloadRuntime runtime) {
    Agent a =
        new Agent(options, scheduler, http, RandomGenerator.getDefault(), clock, out, runtime);
    synchronized (agents) {
      agents.add(a);
    }
    a.start();
    return a;
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
