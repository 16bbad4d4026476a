package io.edgefleet.agent.runtime.container;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.runtime.container.HealthChecks.Status;
import io.edgefleet.protocol.workload.ContainerSpec.HealthCheck;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Health check bookkeeping with tcp checks against real sockets and a clock the test moves. */
class HealthChecksTest {
  static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");

  /** A clock the test moves. */
  static final class Moving extends Clock {
    Instant now = T0;

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  final Moving clock = new Moving();
  final HealthChecks checks =
      new HealthChecks(new Podman(List.of("/nonexistent/podman"), Duration.ofSeconds(5)), clock);

  static HealthCheck tcp(int port, int retries, Duration startPeriod) {
    return new HealthCheck(
        List.of(),
        0,
        null,
        port,
        Duration.ofSeconds(10),
        Duration.ofSeconds(1),
        retries,
        startPeriod);
  }

  static int closedPort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void healthyAfterAPassUnhealthyAfterRetriesFailuresInARow() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      HealthCheck check = tcp(server.getLocalPort(), 2, Duration.ZERO);
      HealthChecks.Target target = new HealthChecks.Target("c1", T0, () -> "127.0.0.1");
      assertThat(checks.observe(target, check).status()).isEqualTo(Status.HEALTHY);
      server.close();
      // Not due yet: the last outcome stands.
      clock.now = T0.plusSeconds(5);
      assertThat(checks.observe(target, check).status()).isEqualTo(Status.HEALTHY);
      clock.now = T0.plusSeconds(10);
      HealthChecks.Observation once = checks.observe(target, check);
      assertThat(once.status()).isEqualTo(Status.HEALTHY);
      assertThat(once.detail()).startsWith("connect 127.0.0.1:" + server.getLocalPort());
      clock.now = T0.plusSeconds(20);
      assertThat(checks.observe(target, check).status()).isEqualTo(Status.UNHEALTHY);
    }
  }

  @Test
  void failuresInTheStartPeriodDoNotCountAndARestartStartsOver() throws Exception {
    HealthCheck check = tcp(closedPort(), 1, Duration.ofSeconds(30));
    HealthChecks.Target target = new HealthChecks.Target("c1", T0, () -> "127.0.0.1");
    HealthChecks.Observation o = checks.observe(target, check);
    assertThat(o.status()).isEqualTo(Status.STARTING);
    assertThat(o.detail()).startsWith("starting: connect");
    clock.now = T0.plusSeconds(40);
    assertThat(checks.observe(target, check).status()).isEqualTo(Status.UNHEALTHY);
    // The same container started again: its checks start over.
    HealthChecks.Target restarted =
        new HealthChecks.Target("c1", T0.plusSeconds(40), () -> "127.0.0.1");
    assertThat(checks.observe(restarted, check).status()).isEqualTo(Status.STARTING);
    checks.retain(Set.of());
  }

  @Test
  void anExecCheckThatCannotRunIsAFailureWithTheReason() {
    HealthCheck exec =
        new HealthCheck(
            List.of("true"),
            0,
            null,
            0,
            Duration.ofSeconds(10),
            Duration.ofSeconds(1),
            1,
            Duration.ZERO);
    HealthChecks.Observation o =
        checks.observe(new HealthChecks.Target("c9", T0, () -> "127.0.0.1"), exec);
    assertThat(o.status()).isEqualTo(Status.UNHEALTHY);
    assertThat(o.detail()).startsWith("check true: cannot run /nonexistent/podman");
  }
}
