package io.edgefleet.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Runs the CLI in-process the way the launcher registers it, capturing its output. */
final class Cli {
  private Cli() {}

  record Result(int exitCode, String out, String err) {}

  @Command(name = "edgefleet", mixinStandardHelpOptions = true)
  static final class Root {}

  static CommandLine commandLine() {
    CommandLine root = new CommandLine(new Root());
    CliCommands.commands().forEach(root::addSubcommand);
    CliCommands.reportBadInputBriefly(root);
    return root;
  }

  static Result run(String... args) {
    CommandLine cli = commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int exitCode = cli.execute(args);
    return new Result(exitCode, out.toString(), err.toString());
  }
}
