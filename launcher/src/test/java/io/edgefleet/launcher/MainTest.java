package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** The command tree as an operator meets it: versions, help and the first words of each verb. */
class MainTest {

  @ParameterizedTest
  @ValueSource(
      strings = {
        "--version",
        "-V",
        "controller --version",
        "agent -V",
        "demo --version",
        "sim --version"
      })
  void everyRolePrintsTheVersion(String args) {
    StringWriter out = new StringWriter();
    CommandLine cl = Main.commandLine(args.split(" "));
    cl.setOut(new PrintWriter(out, true));

    int exit = cl.execute(args.split(" "));

    assertThat(exit).isZero();
    assertThat(out.toString()).startsWith("edgefleet ");
  }

  @Test
  void theHelpOfEveryCommandRendersWithoutPicocliWarnings() {
    PrintStream original = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    List<String> names = new ArrayList<>();
    try {
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      every(Main.commandLine(), names);
    } finally {
      System.setErr(original);
    }
    assertThat(names).contains("edgefleet sim", "edgefleet alerts rules add");
    assertThat(err.toString(StandardCharsets.UTF_8)).doesNotContain("WARN");
  }

  @Test
  void everyVerbsSummaryInItsGroupsHelpIsAWholeSentence() {
    List<String> cut = new ArrayList<>();
    sentences(Main.commandLine(), cut);
    assertThat(cut).isEmpty();
  }

  @Test
  void aCallBuildsOnlyTheVerbItNamesAndHelpShowsThemAll() {
    assertThat(Main.commandLine(new String[] {"devices", "list"}).getSubcommands().keySet())
        .containsExactly("devices");
    assertThat(Main.commandLine(new String[] {"--help"}).getSubcommands().keySet())
        .contains("controller", "agent", "demo", "sim", "devices", "rollouts", "completion");
    assertThat(Main.commandLine(new String[] {"completion", "bash"}).getSubcommands().keySet())
        .contains("devices", "rollouts");
    assertThat(Main.commandLine(new String[] {"--version"}).getSubcommands()).isEmpty();
  }

  @Test
  void theCliCacheIsTrainedOnCallsThatParse() {
    for (java.util.List<String> call : CliTraining.CALLS) {
      String[] words = call.toArray(String[]::new);
      if (call.contains("--no-such-flag")) {
        continue; // trains the bad-input path on purpose
      }
      assertThat(Main.commandLine(words).parseArgs(words).errors()).as(call.toString()).isEmpty();
    }
  }

  private static void every(CommandLine command, List<String> names) {
    names.add(command.getCommandSpec().qualifiedName());
    command.usage(new PrintWriter(new StringWriter()));
    command.getSubcommands().values().forEach(sub -> every(sub, names));
  }

  /** Summaries (first description lines) that end mid-sentence, with the command they belong to. */
  private static void sentences(CommandLine command, List<String> cut) {
    String[] description = command.getCommandSpec().usageMessage().description();
    if (description.length > 0) {
      String first = description[0].strip();
      if (!first.isEmpty() && !first.matches(".*[.:)]$")) {
        cut.add(command.getCommandSpec().qualifiedName() + ": " + first);
      }
    }
    command.getSubcommands().values().forEach(sub -> sentences(sub, cut));
  }
}
