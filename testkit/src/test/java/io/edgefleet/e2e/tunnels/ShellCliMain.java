package io.edgefleet.e2e.tunnels;

import io.edgefleet.cli.CliCommands;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The CLI as its own process, registered the way the launcher does, for tests in a terminal. */
public final class ShellCliMain {
  private ShellCliMain() {}

  @Command(name = "edgefleet", mixinStandardHelpOptions = true)
  static final class Root {}

  public static void main(String[] args) {
    CommandLine root = new CommandLine(new Root());
    CliCommands.verbs().forEach((name, command) -> root.addSubcommand(name, command.get()));
    CliCommands.reportBadInputBriefly(root);
    System.exit(root.execute(args));
  }
}
