package io.edgefleet.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The CLI verbs, for the launcher to register as subcommands of {@code edgefleet}:
 *
 * <pre>{@code
 * CommandLine edgefleet = new CommandLine(new Edgefleet());
 * CliCommands.verbs().forEach((name, command) -> edgefleet.addSubcommand(name, command.get()));
 * CliCommands.reportBadInputBriefly(edgefleet);
 * }</pre>
 *
 * <p>Each leaf command returns its exit code from {@code call()}: 0 on success, 1 when the call
 * failed (message on stderr as {@code error: …}), 2 for bad input or missing configuration. Output
 * goes to the {@code CommandLine}'s {@code getOut()}/{@code getErr()} writers.
 */
public final class CliCommands {
  private CliCommands() {}

  /**
   * The picocli command objects by subcommand name, in the order to show them in help; each made
   * when asked for, so a call can build only the verb it runs.
   */
  public static SequencedMap<String, Supplier<Object>> verbs() {
    SequencedMap<String, Supplier<Object>> commands = new LinkedHashMap<>();
    commands.put("onboarding", OnboardingCommand::new);
    commands.put("devices", DevicesCommand::new);
    commands.put("repos", ReposCommand::new);
    commands.put("apps", AppsCommand::new);
    commands.put("deploy", DeployCommand::new);
    commands.put("deployments", DeploymentsCommand::new);
    commands.put("rollouts", RolloutsCommand::new);
    commands.put("profiles", ProfilesCommand::new);
    commands.put("alerts", AlertsCommand::new);
    commands.put("fleet", FleetCommand::new);
    commands.put("events", EventsCommand::new);
    commands.put("audit", AuditCommand::new);
    commands.put("logs", LogsCommand::new);
    commands.put("kubeconfig", KubeconfigCommand::new);
    commands.put("port-forward", PortForwardCommand::new);
    commands.put("shell", ShellCommand::new);
    commands.put("cp", CopyCommand::new);
    commands.put("sessions", SessionsCommand::new);
    commands.put("signing-key", SigningKeyCommand::new);
    commands.put("secrets", SecretsCommand::new);
    commands.put("clusters", ClustersCommand::new);
    commands.put("artifacts", ArtifactsCommand::new);
    commands.put("agent-releases", AgentReleasesCommand::new);
    commands.put("download-policies", DownloadPoliciesCommand::new);
    commands.put("export", ExportCommand::new);
    commands.put("login", LoginCommand::new);
    commands.put("whoami", AccessCommands.Whoami::new);
    commands.put("users", AccessCommands.Users::new);
    commands.put("roles", AccessCommands.Roles::new);
    commands.put("projects", AccessCommands.Projects::new);
    commands.put("tokens", AccessCommands.TokensGroup::new);
    commands.put("completion", CompletionCommand::new);
    return commands;
  }

  /** Fresh picocli command objects by subcommand name, in the order to show them in help. */
  public static Map<String, Object> commands() {
    Map<String, Object> commands = new LinkedHashMap<>();
    verbs().forEach((name, command) -> commands.put(name, command.get()));
    return commands;
  }

  /**
   * Makes bad input (an unknown flag, a missing or malformed value) print one {@code error:} line,
   * the suggestions for a mistyped name and a hint where help is, instead of the whole usage; exit
   * code 2. A group called without its verb still lists its verbs.
   */
  public static void reportBadInputBriefly(CommandLine root) {
    root.setParameterExceptionHandler(CliCommands::badInput);
  }

  private static int badInput(ParameterException e, String[] args) {
    CommandLine command = e.getCommandLine();
    PrintWriter err = command.getErr();
    err.println("error: " + e.getMessage());
    if (!command.getSubcommands().isEmpty() && e.getMessage().startsWith("Missing required")) {
      // A group without its verb: the verbs are the answer.
      command.usage(err);
    } else {
      UnmatchedArgumentException.printSuggestions(e, err);
      err.println("try '" + command.getCommandSpec().qualifiedName() + " --help'");
    }
    err.flush();
    return CliException.USAGE;
  }
}
