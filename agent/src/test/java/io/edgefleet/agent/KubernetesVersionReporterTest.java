package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KubernetesVersionReporterTest {
  private static final ControllerMessage.Welcome WELCOME =
      new ControllerMessage.Welcome("dev-1", 30, 0, 60);
  private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  final Channel channel = new Channel();

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  /** A runtime whose cluster a test sets; answers on the calling thread. */
  static final class FakeCluster implements WorkloadRuntime {
    volatile WorkloadRuntime.Cluster cluster;
    volatile RuntimeException failure;

    @Override
    public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
      return new ApplyOutcome.InSync();
    }

    @Override
    public ApplyOutcome remove(String app) {
      return new ApplyOutcome.InSync();
    }

    @Override
    public AppHealth health(String app) {
      return new AppHealth(AppHealth.State.READY, "");
    }

    @Override
    public Set<String> ownedApps() {
      return Set.of();
    }

    @Override
    public void close() {}

    @Override
    public Optional<WorkloadRuntime.Cluster> cluster() {
      if (failure != null) {
        throw failure;
      }
      return Optional.ofNullable(cluster);
    }
  }

  static final class Channel implements AgentFeature.Channel {
    final List<AgentMessage> sent = new CopyOnWriteArrayList<>();
    volatile boolean open = true;

    @Override
    public boolean send(AgentMessage message) {
      if (!open) {
        return false;
      }
      sent.add(message);
      return true;
    }
  }

  private KubernetesVersionReporter reporter(WorkloadRuntime runtime) {
    return new KubernetesVersionReporter(
        runtime, scheduler, Runnable::run, Duration.ofMinutes(5), QUIET);
  }

  @Test
  void theClusterIsSentOnConnectAndAgainOnlyWhenItChanges() {
    FakeCluster runtime = new FakeCluster();
    runtime.cluster = new WorkloadRuntime.Cluster("v1.28.3", List.of("apps/v1", "v1"));
    KubernetesVersionReporter r = reporter(runtime);

    r.connected(channel, WELCOME);
    assertThat(channel.sent)
        .containsExactly(new AgentMessage.Cluster("v1.28.3", List.of("apps/v1", "v1")));

    r.check();
    assertThat(channel.sent).hasSize(1);

    // The cluster is upgraded while the agent stays connected.
    runtime.cluster = new WorkloadRuntime.Cluster("v1.29.0", List.of("apps/v1", "v1"));
    r.check();
    assertThat(channel.sent)
        .last()
        .isEqualTo(new AgentMessage.Cluster("v1.29.0", List.of("apps/v1", "v1")));

    // A new connection hears it again at once, before the runtime answers anew.
    runtime.failure = new RuntimeUnavailableException("down", Duration.ofSeconds(1), null);
    Channel next = new Channel();
    r.disconnected();
    r.connected(next, WELCOME);
    assertThat(next.sent)
        .containsExactly(new AgentMessage.Cluster("v1.29.0", List.of("apps/v1", "v1")));
  }

  @Test
  void anUnreachableClusterIsReportedOnceItAnswers() {
    FakeCluster runtime = new FakeCluster();
    runtime.failure = new RuntimeUnavailableException("down", Duration.ofSeconds(1), null);
    KubernetesVersionReporter r = reporter(runtime);

    r.connected(channel, WELCOME);
    assertThat(channel.sent).isEmpty();

    runtime.failure = null;
    runtime.cluster = new WorkloadRuntime.Cluster("v1.30.6+k3s1", List.of("v1"));
    r.check();
    assertThat(channel.sent)
        .containsExactly(new AgentMessage.Cluster("v1.30.6+k3s1", List.of("v1")));
  }

  @Test
  void aRuntimeThatIsNotKubernetesReportsNothing() {
    KubernetesVersionReporter r = reporter(new NoRuntime("none here"));
    r.connected(channel, WELCOME);
    r.check();
    assertThat(channel.sent).isEmpty();
  }

  @Test
  void theChecksRunOnTheirOwnOnceStarted() {
    FakeCluster runtime = new FakeCluster();
    KubernetesVersionReporter r =
        new KubernetesVersionReporter(
            runtime, scheduler, Runnable::run, Duration.ofMillis(20), QUIET);
    r.connected(channel, WELCOME);
    r.start();

    runtime.cluster = new WorkloadRuntime.Cluster("v1.31.1", List.of("v1"));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> channel.sent.contains(new AgentMessage.Cluster("v1.31.1", List.of("v1"))));
    r.close();
  }
}
