package io.edgefleet.agent;

import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Tells the controller which Kubernetes the node's runtime talks to ({@link AgentMessage.Cluster}),
 * so charts are rendered for that version: after every (re)connect, and whenever a check (every
 * {@link AgentOptions#clusterCheckInterval()}, and on each connect) sees the version or the served
 * group versions change. The runtime is asked off the agent's scheduler thread; a connection never
 * waits for it: what was last seen is sent at once, a fresh answer follows if it differs. A runtime
 * that is not Kubernetes reports nothing, and a cluster that cannot be reached is asked again at
 * the next check. Thread-safe.
 */
final class KubernetesVersionReporter implements AgentFeature {
  private final WorkloadRuntime runtime;
  private final ScheduledExecutorService scheduler;
  private final Executor blocking;
  private final Duration checkEvery;
  private final PrintStream out;

  // Guarded by this.
  private Channel channel;
  private AgentMessage.Cluster seen;
  private AgentMessage.Cluster sent;
  private boolean checking;
  private boolean closed;
  private ScheduledFuture<?> timer;

  KubernetesVersionReporter(
      WorkloadRuntime runtime,
      ScheduledExecutorService scheduler,
      Executor blocking,
      Duration checkEvery,
      PrintStream out) {
    this.runtime = runtime;
    this.scheduler = scheduler;
    this.blocking = blocking;
    this.checkEvery = checkEvery;
    this.out = out;
  }

  /** Starts the periodic checks, the first at once. */
  synchronized void start() {
    if (timer == null && !closed) {
      timer =
          scheduler.scheduleWithFixedDelay(
              this::check, 0, checkEvery.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** Asks the runtime now, unless a question is already out; returns at once. */
  void check() {
    synchronized (this) {
      if (checking || closed) {
        return;
      }
      checking = true;
    }
    try {
      blocking.execute(this::ask);
    } catch (RejectedExecutionException e) {
      synchronized (this) {
        checking = false;
      }
    }
  }

  private void ask() {
    Optional<WorkloadRuntime.Cluster> cluster;
    try {
      cluster = runtime.cluster();
    } catch (RuntimeException e) {
      // Unreachable now (or not allowed to read discovery): asked again at the next check.
      cluster = Optional.empty();
    } finally {
      synchronized (this) {
        checking = false;
      }
    }
    cluster.ifPresent(
        c -> {
          AgentMessage.Cluster now = new AgentMessage.Cluster(c.version(), c.apiVersions());
          synchronized (this) {
            if (!now.equals(seen)) {
              if (seen == null || !seen.kubernetesVersion().equals(now.kubernetesVersion())) {
                out.printf("the node's cluster runs Kubernetes %s%n", now.kubernetesVersion());
              }
              seen = now;
            }
            sendIfNew();
          }
        });
  }

  private synchronized void sendIfNew() {
    if (channel != null && seen != null && !seen.equals(sent) && channel.send(seen)) {
      sent = seen;
    }
  }

  @Override
  public void connected(Channel channel, ControllerMessage.Welcome welcome) {
    synchronized (this) {
      this.channel = channel;
      sent = null;
      sendIfNew();
    }
    check();
  }

  @Override
  public synchronized void disconnected() {
    channel = null;
    sent = null;
  }

  @Override
  public boolean handle(ControllerMessage message) {
    return false;
  }

  @Override
  public synchronized void close() {
    closed = true;
    channel = null;
    if (timer != null) {
      timer.cancel(false);
    }
  }
}
