package io.edgefleet.agent.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SupervisorTest {
  @TempDir Path dir;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private Supervisor supervisor;

  private static final Supervisor.Policy FAST =
      new Supervisor.Policy(
          Duration.ofMillis(50),
          Duration.ofMillis(200),
          3,
          Duration.ofSeconds(30),
          Duration.ofSeconds(5));

  @AfterEach
  void stop() {
    if (supervisor != null) {
      supervisor.stop();
    }
    timer.shutdownNow();
  }

  private Path script(String name, String body) throws Exception {
    Path p = dir.resolve(name);
    Files.writeString(p, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    return p;
  }

  @Test
  void aChildThatKeepsExitingIsRestartedWithBackoffAndCountsAsFailingWithItsLastWords()
      throws Exception {
    Path counter = dir.resolve("starts");
    Path k3s =
        script(
            "k3s",
            "echo start >> "
                + counter
                + "\necho \"level=fatal msg=\\\"bad token for $1\\\"\" >&2\nexit 3");
    AtomicInteger changes = new AtomicInteger();
    supervisor = new Supervisor(timer, FAST, Clock.systemUTC(), changes::incrementAndGet);
    supervisor.start(List.of(k3s.toString(), "server"), dir.resolve("k3s.log"));
    await().atMost(Duration.ofSeconds(20)).until(() -> supervisor.snapshot().exitsInRow() >= 4);
    Supervisor.Snapshot s = supervisor.snapshot();
    assertThat(s.failing(FAST)).isTrue();
    assertThat(s.lastExit()).isEqualTo(3);
    assertThat(s.stderrTail()).last().asString().contains("bad token for server");
    assertThat(Files.readAllLines(counter).size()).isGreaterThanOrEqualTo(4);
    assertThat(Files.readString(dir.resolve("k3s.log"))).contains("bad token for server");
    assertThat(changes.get()).isGreaterThanOrEqualTo(4);
    assertThat(FAST.backoff(1)).isEqualTo(Duration.ofMillis(50));
    assertThat(FAST.backoff(2)).isEqualTo(Duration.ofMillis(100));
    assertThat(FAST.backoff(10)).isEqualTo(Duration.ofMillis(200));
  }

  @Test
  void stopEndsTheChildAndItsChildrenAndNothingIsRestarted() throws Exception {
    Path pids = dir.resolve("pids");
    Path k3s = script("k3s", "sleep 300 &\necho $! > " + pids + "\nwait");
    supervisor = new Supervisor(timer, FAST, Clock.systemUTC(), () -> {});
    supervisor.start(List.of(k3s.toString(), "agent"), null);
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(pids) && Files.size(pids) > 0);
    long child = Long.parseLong(Files.readString(pids).trim());
    assertThat(supervisor.snapshot().running()).isTrue();
    supervisor.stop();
    assertThat(supervisor.snapshot().running()).isFalse();
    assertThat(supervisor.active()).isFalse();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> ProcessHandle.of(child).map(h -> !h.isAlive()).orElse(true));
    assertThat(supervisor.snapshot().exitsInRow()).isZero();
  }

  @Test
  void aCommandThatCannotRunIsReportedAsSuch() {
    supervisor = new Supervisor(timer, FAST, Clock.systemUTC(), () -> {});
    supervisor.start(List.of(dir.resolve("missing-k3s").toString(), "server"), null);
    await().atMost(Duration.ofSeconds(10)).until(() -> supervisor.snapshot().exitsInRow() >= 3);
    assertThat(supervisor.startError()).contains("cannot start").contains("missing-k3s");
  }
}
