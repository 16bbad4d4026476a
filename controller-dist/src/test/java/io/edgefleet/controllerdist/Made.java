package io.edgefleet.controllerdist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/** What the package phase made (target/controller-dist.properties), and running commands. */
final class Made {
  static final Path DIST = Path.of(System.getProperty("controller.dist.dir", "target"));
  private static final Properties MADE = load();

  private Made() {}

  private static Properties load() {
    Path made = DIST.resolve(ControllerDist.MADE);
    assertThat(made).as("run the package phase first").exists();
    Properties p = new Properties();
    try (var r = Files.newBufferedReader(made)) {
      p.load(r);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }

  static String get(String key) {
    return MADE.getProperty(key);
  }

  static Path file(String key) {
    Path file = DIST.resolve(MADE.getProperty(key));
    assertThat(file).isRegularFile();
    return file;
  }

  /** Runs a command to its end; its output lines, or a failure with them. */
  static List<String> run(Path dir, String... command) throws Exception {
    Process p =
        new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
    assertThat(p.exitValue()).as("%s:%n%s", String.join(" ", command), out).isZero();
    return out.lines().toList();
  }
}
