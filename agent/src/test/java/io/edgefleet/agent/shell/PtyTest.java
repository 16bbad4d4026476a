package io.edgefleet.agent.shell;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class PtyTest {

  /** Collects what the program writes, on a platform thread. */
  private static ByteArrayOutputStream drain(Pty pty) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Thread t =
        new Thread(
            () -> {
              byte[] buf = new byte[4096];
              try {
                int n;
                while ((n = pty.input().read(buf, 0, buf.length)) >= 0) {
                  synchronized (out) {
                    out.write(buf, 0, n);
                  }
                }
              } catch (IOException e) {
                // ends the drain
              }
            });
    t.setDaemon(true);
    t.start();
    return out;
  }

  private static String text(ByteArrayOutputStream out) {
    synchronized (out) {
      return out.toString(StandardCharsets.UTF_8);
    }
  }

  @Test
  void theProgramHasATerminalOfTheAskedSizeThatFollowsResizes() throws Exception {
    try (Pty pty =
        Pty.start(
            List.of("/bin/sh"), Map.of("TERM", "xterm", "PATH", "/usr/bin:/bin"), null, 100, 30)) {
      ByteArrayOutputStream out = drain(pty);
      pty.output().write("tty; stty size; echo a$((6*7))b\n".getBytes(StandardCharsets.UTF_8));
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> text(out).contains("30 100") && text(out).contains("a42b"));
      assertThat(text(out)).contains(pty.slaveName());
      assertThat(pty.size()).containsExactly(100, 30);

      pty.resize(120, 40);
      pty.output().write("stty size\n".getBytes(StandardCharsets.UTF_8));
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> text(out).contains("40 120"));

      pty.output().write("exit 3\n".getBytes(StandardCharsets.UTF_8));
      assertThat(pty.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(pty.process().exitValue()).isEqualTo(3);
    }
  }

  @Test
  void closingKillsTheWholeProcessGroup() throws Exception {
    Pty pty = Pty.start(List.of("/bin/sh"), Map.of("PATH", "/usr/bin:/bin"), null, 80, 24);
    ByteArrayOutputStream out = drain(pty);
    // A background child that ignores nothing: it must go with the session.
    pty.output().write("sleep 300 & echo child=$!\n".getBytes(StandardCharsets.UTF_8));
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> text(out).matches("(?s).*child=[0-9]+.*"));
    // The terminal echoes the typed line first ("child=$!"): take the printed number.
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("child=([0-9]+)").matcher(text(out));
    assertThat(m.find()).isTrue();
    long child = Long.parseLong(m.group(1));
    assertThat(ProcessHandle.of(child)).isPresent();
    pty.close();
    assertThat(pty.process().isAlive()).isFalse();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> ProcessHandle.of(child).map(h -> !h.isAlive()).orElse(true));
  }

  @Test
  void anImpossibleSizeIsRefused() {
    assertThatThrownBy(() -> Pty.start(List.of("/bin/sh"), Map.of(), null, 0, 24))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1 to 1000");
  }
}
