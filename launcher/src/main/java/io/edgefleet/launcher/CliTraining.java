package io.edgefleet.launcher;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import picocli.CommandLine;

/**
 * The training run behind the CLI's AOT cache ({@code ./edgefleet} runs it with {@code
 * -XX:AOTCacheOutput} after a build): the calls an operator makes most, so the classes they load
 * are in the cache. The API calls go to a throwaway controller ({@link TrainingController}) in a
 * child process, so the TLS handshake, the HTTP client and the JSON answers are trained whether or
 * not the operator's controller is reachable at that moment; if that controller cannot start, the
 * calls fail, which still loads the HTTP client and the configuration code. Output is discarded.
 */
final class CliTraining {
  /** A call and whether it talks to the controller. */
  record Call(List<String> words, boolean api) {
    static Call local(String... words) {
      return new Call(List.of(words), false);
    }

    static Call api(String... words) {
      return new Call(List.of(words), true);
    }
  }

  static final List<Call> CALLS =
      List.of(
          Call.local("--help"),
          Call.local("--version"),
          Call.local("devices", "--help"),
          Call.local("devices", "list", "--help"),
          Call.local("devices", "list", "--no-such-flag"),
          Call.api("devices", "list"),
          Call.api("devices", "list", "-o", "json"),
          Call.api("fleet", "summary"),
          Call.api("rollouts", "list"),
          Call.api("apps", "status"),
          Call.api("events", "--limit", "20"));

  private static final long START_TIMEOUT_SECONDS = 120;

  private CliTraining() {}

  public static void main(String[] args) throws IOException {
    Path dir = Files.createTempDirectory("edgefleet-cli-training");
    try {
      run(dir);
    } finally {
      delete(dir);
    }
  }

  /** Runs every call, against a controller started under {@code dir}; their exit codes. */
  static List<Integer> run(Path dir) throws IOException {
    Process controller = startController(dir.resolve("controller"));
    try {
      Optional<Path> config = configOf(controller);
      List<Integer> exits = new ArrayList<>();
      for (Call call : CALLS) {
        List<String> words = new ArrayList<>(call.words());
        if (call.api() && config.isPresent()) {
          words.add("--config");
          words.add(config.get().toString());
        }
        String[] argv = words.toArray(String[]::new);
        CommandLine cl = Main.commandLine(argv);
        cl.setOut(new PrintWriter(Writer.nullWriter()));
        cl.setErr(new PrintWriter(Writer.nullWriter()));
        exits.add(cl.execute(argv));
      }
      return exits;
    } finally {
      stop(controller);
    }
  }

  private static Process startController(Path data) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    return new ProcessBuilder(
            java,
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            System.getProperty("java.class.path"),
            TrainingController.class.getName(),
            data.toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
  }

  /** The controller's CLI config file, once it serves; empty if it did not start in time. */
  private static Optional<Path> configOf(Process controller) {
    CompletableFuture<String> line =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return new BufferedReader(
                        new InputStreamReader(controller.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
              } catch (IOException e) {
                return null;
              }
            });
    try {
      return Optional.ofNullable(line.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS)).map(Path::of);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    } catch (ExecutionException | TimeoutException e) {
      return Optional.empty();
    }
  }

  private static void stop(Process controller) {
    try {
      controller.getOutputStream().close();
      if (!controller.waitFor(30, TimeUnit.SECONDS)) {
        controller.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (IOException e) {
      controller.destroyForcibly();
    } catch (InterruptedException e) {
      controller.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private static void delete(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
