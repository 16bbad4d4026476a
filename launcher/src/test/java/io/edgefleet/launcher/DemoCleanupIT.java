package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The demo's temporary directory holds the CA's private key and the admin token: it is removed
 * however the demo ends, by Ctrl-C (SIGINT), SIGTERM or a failure to start.
 */
class DemoCleanupIT {

  @Test
  void sigtermRemovesTheDirectory() throws Exception {
    assertSignalRemovesTheDirectory("TERM", "running until Ctrl-C");
  }

  @Test
  void ctrlCRemovesTheDirectory() throws Exception {
    assertSignalRemovesTheDirectory("INT", "running until Ctrl-C");
  }

  @Test
  void ctrlCInTheMiddleOfTheStoryRemovesTheDirectory() throws Exception {
    assertSignalRemovesTheDirectory("INT", "[4/5]");
  }

  @Test
  void aControllerThatCannotStartRemovesTheDirectory() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      PrintStream original = System.out;
      ByteArrayOutputStream captured = new ByteArrayOutputStream();
      try {
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        Main.commandLine()
            .execute("demo", "--devices", "1", "--port", String.valueOf(taken.getLocalPort()));
      } finally {
        System.setOut(original);
      }
      String out = captured.toString(StandardCharsets.UTF_8);
      assertThat(out).contains("removing");
      assertThat(directory(out.lines().toList())).doesNotExist();
    }
  }

  /** Sends the signal once a line starting with {@code when} was printed. */
  private static void assertSignalRemovesTheDirectory(String signal, String when) throws Exception {
    Process demo =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "demo",
                "--devices",
                "1")
            .redirectErrorStream(true)
            .start();
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread reader =
        Thread.ofVirtual()
            .start(
                () -> {
                  try (BufferedReader in =
                      new BufferedReader(
                          new InputStreamReader(demo.getInputStream(), StandardCharsets.UTF_8))) {
                    in.lines().forEach(lines::add);
                  } catch (IOException e) {
                    // The process ended.
                  }
                });
    try {
      await()
          .atMost(Duration.ofMinutes(2))
          .until(() -> lines.stream().anyMatch(l -> l.startsWith(when)) || !demo.isAlive());
      assertThat(demo.isAlive()).as(String.join("\n", lines)).isTrue();
      Path dir = directory(lines);
      assertThat(dir).isDirectory();

      Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(demo.pid())).start();
      assertThat(kill.waitFor()).isZero();

      await().atMost(Duration.ofMinutes(1)).until(() -> !demo.isAlive());
      reader.join(Duration.ofSeconds(10));
      assertThat(dir).as(String.join("\n", lines)).doesNotExist();
    } finally {
      demo.destroyForcibly();
    }
  }

  /** The directory the demo announced in its first line. */
  private static Path directory(List<String> lines) {
    String first =
        lines.stream().filter(l -> l.startsWith("edgefleet demo:")).findFirst().orElseThrow();
    return Path.of(first.substring(first.lastIndexOf(' ') + 1));
  }
}
