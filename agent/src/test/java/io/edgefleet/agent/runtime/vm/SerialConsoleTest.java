package io.edgefleet.agent.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.runtime.WorkloadRuntime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SerialConsoleTest {
  @TempDir Path dir;
  private final SerialConsole console = new SerialConsole(Clock.systemUTC());

  private void append(Path log, String text) throws Exception {
    Files.writeString(log, text, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  @Test
  void theReadinessLineIsFoundOnceWrittenEvenAcrossReads() throws Exception {
    Path log = dir.resolve("serial.log");
    assertThat(console.contains(log, "login:")).isFalse();
    append(log, "[    0.1] booting\r\nhistorian lo");
    assertThat(console.contains(log, "login:")).isFalse();
    append(log, "gin: \r\n");
    assertThat(console.contains(log, "login:")).isTrue();
    // A new boot's console (smaller) is searched from its start.
    Files.writeString(log, "x\n");
    assertThat(console.contains(log, "login:")).isFalse();
  }

  @Test
  void aConsolePastItsLimitIsMovedAsideAndStartedAfresh() throws Exception {
    Path log = dir.resolve("serial.log");
    append(log, "READY\n" + "spam\n".repeat(1000));
    assertThat(console.contains(log, "READY")).isTrue();
    assertThat(console.cap(log, 1 << 20)).isFalse();
    assertThat(console.cap(log, 1000)).isTrue();
    assertThat(Files.size(log)).isZero();
    assertThat(dir.resolve("serial.log.1")).content().startsWith("READY\n");
    assertThat(console.contains(log, "READY")).isTrue();
  }

  @Test
  void tailThenFollowUntilTheVmIsGone() throws Exception {
    Path log = dir.resolve("serial.log");
    append(log, "one\ntwo\r\nthree\n\u001b[0mfour\n");
    List<String> lines = new CopyOnWriteArrayList<>();
    List<String> ends = new CopyOnWriteArrayList<>();
    AtomicBoolean gone = new AtomicBoolean();
    WorkloadRuntime.LogStream s =
        console.read(
            log,
            new WorkloadRuntime.LogQuery(2, true, Instant.EPOCH),
            sink(lines, ends),
            gone::get);
    await().atMost(Duration.ofSeconds(10)).until(() -> lines.size() == 2);
    assertThat(lines).containsExactly("three", "[0mfour");
    append(log, "five\nsi");
    await().atMost(Duration.ofSeconds(10)).until(() -> lines.size() == 3);
    append(log, "x\n");
    await().atMost(Duration.ofSeconds(10)).until(() -> lines.size() == 4);
    assertThat(lines.subList(2, 4)).containsExactly("five", "six");
    gone.set(true);
    await().atMost(Duration.ofSeconds(10)).until(() -> !ends.isEmpty());
    assertThat(ends).containsExactly("completed");
    s.close();
  }

  @Test
  void sinceAfterTheLastWriteShowsNoHistoryAndAClosedStreamSaysNothingMore() throws Exception {
    Path log = dir.resolve("serial.log");
    append(log, "old\n");
    List<String> lines = new CopyOnWriteArrayList<>();
    List<String> ends = new CopyOnWriteArrayList<>();
    console.read(
        log,
        new WorkloadRuntime.LogQuery(100, false, Instant.now().plusSeconds(60)),
        sink(lines, ends),
        () -> false);
    await().atMost(Duration.ofSeconds(10)).until(() -> !ends.isEmpty());
    assertThat(lines).isEmpty();

    List<String> ends2 = new CopyOnWriteArrayList<>();
    WorkloadRuntime.LogStream s =
        console.read(
            log,
            new WorkloadRuntime.LogQuery(0, true, Instant.EPOCH),
            sink(lines, ends2),
            () -> false);
    s.close();
    append(log, "new\n");
    assertThat(lines).isEmpty();
    assertThat(ends2).isEmpty();
  }

  private static WorkloadRuntime.LogSink sink(List<String> lines, List<String> ends) {
    return new WorkloadRuntime.LogSink() {
      @Override
      public void line(Instant at, String line) {
        lines.add(line);
      }

      @Override
      public void completed() {
        ends.add("completed");
      }

      @Override
      public void failed(String reason) {
        ends.add("failed: " + reason);
      }
    };
  }
}
