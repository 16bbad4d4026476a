package io.edgefleet.launcher;

import io.edgefleet.agent.command.AgentCommand;
import io.edgefleet.cli.CliCommands;
import io.edgefleet.controller.ControllerCommand;
import io.edgefleet.simulator.SimCommand;
import java.util.Map;
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
    },
    subcommands = {
      ControllerCommand.class,
      AgentCommand.class,
      DemoCommand.class,
      SimCommand.class
    })
public final class Main implements Runnable {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The full command tree, also used by tests. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    for (Map.Entry<String, Object> verb : CliCommands.commands().entrySet()) {
      cl.addSubcommand(verb.getKey(), verb.getValue());
    }
    return cl;
  }

  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"edgefleet " + (v == null ? "0.1.0-dev" : v)};
    }
  }
}
