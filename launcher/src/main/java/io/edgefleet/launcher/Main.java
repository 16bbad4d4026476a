package io.edgefleet.launcher;

import io.edgefleet.agent.command.AgentCommand;
import io.edgefleet.cli.CliCommands;
import io.edgefleet.controller.ControllerCommand;
import io.edgefleet.simulator.SimCommand;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The single entry point behind {@code ./edgefleet}: one binary, many roles. */
@Command(
    name = "edgefleet",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = {
      "Run fleets of edge computers: controller, agent, demo and the operator CLI.",
      "",
      "Start here:  edgefleet demo"
    })
public final class Main implements Runnable {

  public static void main(String[] args) {
    System.exit(commandLine(args).execute(args));
  }

  /** The full command tree, also used by tests. */
  public static CommandLine commandLine() {
    return commandLine(new String[0]);
  }

  /**
   * The command tree for these arguments: when they name a role or verb, only that one is built,
   * and of a group only the path to the verb named ({@link CommandPath}): a CLI call then inspects
   * the classes of one verb, not of every role and verb; otherwise all, for the overview help,
   * suggestions for a mistyped name, and shell completion.
   */
  static CommandLine commandLine(String[] args) {
    SequencedMap<String, Supplier<Object>> commands = commands();
    CommandLine cl = new CommandLine(new Main());
    String first = args.length > 0 ? args[0] : "";
    boolean versionOnly = args.length == 1 && (first.equals("--version") || first.equals("-V"));
    if (commands.containsKey(first) && !first.equals("completion")) {
      List<String> rest = Arrays.asList(args).subList(1, args.length);
      cl.addSubcommand(first, CommandPath.of(first, commands.get(first).get(), rest));
    } else if (!versionOnly) {
      commands.forEach((name, command) -> cl.addSubcommand(name, command.get()));
    }
    // Every role answers --version with the distribution's version.
    everyCommand(cl, c -> c.getCommandSpec().versionProvider(new Version()));
    CliCommands.reportBadInputBriefly(cl);
    return cl;
  }

  private static SequencedMap<String, Supplier<Object>> commands() {
    SequencedMap<String, Supplier<Object>> commands = new LinkedHashMap<>();
    commands.put("controller", ControllerCommand::new);
    commands.put("agent", AgentCommand::new);
    commands.put("demo", DemoCommand::new);
    commands.put("sim", SimCommand::new);
    commands.putAll(CliCommands.verbs());
    return commands;
  }

  private static void everyCommand(
      CommandLine command, java.util.function.Consumer<CommandLine> action) {
    action.accept(command);
    command.getSubcommands().values().forEach(sub -> everyCommand(sub, action));
  }

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"edgefleet " + (v == null ? "0.1.0-dev" : v)};
    }
  }
}
