package io.edgefleet.launcher;

import java.io.PrintWriter;
import java.io.Writer;
import java.util.List;
import picocli.CommandLine;

/**
 * The training run behind the CLI's AOT cache ({@code ./edgefleet} runs it with {@code
 * -XX:AOTCacheOutput} after a build): the calls an operator makes most, so the classes they load
 * are in the cache. The API calls only read, and use the same configuration as the operator's calls
 * ({@code EDGEFLEET_CONFIG}, the default config file); without a reachable controller they fail,
 * which still loads the HTTP client and the configuration code. Output is discarded.
 */
final class CliTraining {
  static final List<List<String>> CALLS =
      List.of(
          List.of("--help"),
          List.of("--version"),
          List.of("devices", "--help"),
          List.of("devices", "list", "--help"),
          List.of("devices", "list", "--no-such-flag"),
          List.of("devices", "list"),
          List.of("devices", "list", "-o", "json"),
          List.of("fleet", "summary"),
          List.of("rollouts", "list"),
          List.of("apps", "status"),
          List.of("events", "--limit", "20"));

  private CliTraining() {}

  public static void main(String[] args) {
    for (List<String> call : CALLS) {
      String[] words = call.toArray(String[]::new);
      CommandLine cl = Main.commandLine(words);
      cl.setOut(new PrintWriter(Writer.nullWriter()));
      cl.setErr(new PrintWriter(Writer.nullWriter()));
      cl.execute(words);
    }
  }
}
