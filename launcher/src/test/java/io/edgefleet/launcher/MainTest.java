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
  void aCallNamingAVerbInspectsOnlyItsPath() {
    CommandLine devices =
        Main.commandLine(new String[] {"devices", "list"}).getSubcommands().get("devices");
    assertThat(devices.getSubcommands().keySet()).containsExactly("list");

    CommandLine rules =
        Main.commandLine(new String[] {"alerts", "rules", "add", "x"})
            .getSubcommands()
            .get("alerts")
            .getSubcommands()
            .get("rules");
    assertThat(rules.getSubcommands().keySet()).containsExactly("add");

    // No verb named: the whole group, for its help and suggestions.
    assertThat(
            Main.commandLine(new String[] {"devices", "--help"})
                .getSubcommands()
                .get("devices")
                .getSubcommands()
                .keySet())
        .contains("list", "get", "decommission");
  }

  @Test
  void everyVerbBuiltAloneHasTheModelItHasInTheWholeTree() {
    List<CommandLine> leaves = new ArrayList<>();
    leaves(Main.commandLine(), leaves);
    assertThat(leaves).hasSizeGreaterThan(40);
    for (CommandLine whole : leaves) {
      List<String> path =
          new ArrayList<>(List.of(whole.getCommandSpec().qualifiedName().split(" ")));
      path.removeFirst();
      CommandLine alone = Main.commandLine(path.toArray(String[]::new));
      for (String word : path) {
        alone = alone.getSubcommands().get(word);
      }
      assertThat(alone).as(path.toString()).isNotNull();
      assertThat(alone.getCommandSpec().qualifiedName())
          .isEqualTo(whole.getCommandSpec().qualifiedName());
      assertThat(optionNames(alone)).as(path.toString()).isEqualTo(optionNames(whole));
      assertThat(alone.getCommandSpec().positionalParameters().stream().map(p -> p.paramLabel()))
          .as(path.toString())
          .containsExactlyElementsOf(
              whole.getCommandSpec().positionalParameters().stream()
                  .map(p -> p.paramLabel())
                  .toList());
    }
  }

  @Test
  void aBadFlagOnAVerbBuiltAloneNamesTheVerbsHelp() {
    StringWriter err = new StringWriter();
    String[] args = {"devices", "list", "--no-such-flag"};
    CommandLine cl = Main.commandLine(args);
    cl.setErr(new PrintWriter(err, true));

    int exit = cl.execute(args);

    assertThat(exit).isEqualTo(2);
    assertThat(err.toString())
        .contains("error: Unknown option: '--no-such-flag'")
        .contains("try 'edgefleet devices list --help'");
  }

  private static List<String> optionNames(CommandLine command) {
    return command.getCommandSpec().options().stream()
        .map(o -> String.join("|", o.names()))
        .sorted()
        .toList();
  }

  private static void leaves(CommandLine command, List<CommandLine> out) {
    if (command.getSubcommands().isEmpty()) {
      out.add(command);
    }
    // Aliases map to the same command: each once.
    command.getSubcommands().values().stream().distinct().forEach(sub -> leaves(sub, out));
  }

  @Test
  void theCliCacheIsTrainedOnCallsThatParse() {
    for (CliTraining.Call call : CliTraining.CALLS) {
      String[] words = call.words().toArray(String[]::new);
      if (call.words().contains("--no-such-flag")) {
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
