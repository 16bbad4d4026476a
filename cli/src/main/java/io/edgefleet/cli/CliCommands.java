package io.edgefleet.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The CLI verbs, for the launcher to register as subcommands of {@code edgefleet}:
 *
 * <pre>{@code
 * CommandLine edgefleet = new CommandLine(new Edgefleet());
 * CliCommands.commands().forEach(edgefleet::addSubcommand);
 * }</pre>
 *
 * <p>Each leaf command returns its exit code from {@code call()}: 0 on success, 1 when the call
 * failed (message on stderr as {@code error: …}), 2 for bad input or missing configuration. Output
 * goes to the {@code CommandLine}'s {@code getOut()}/{@code getErr()} writers.
 */
public final class CliCommands {
  private CliCommands() {}

  /** Fresh picocli command objects by subcommand name, in the order to show them in help. */
  public static Map<String, Object> commands() {
    Map<String, Object> commands = new LinkedHashMap<>();
    commands.put("onboarding", new OnboardingCommand());
    commands.put("devices", new DevicesCommand());
    commands.put("repos", new ReposCommand());
    commands.put("apps", new AppsCommand());
    commands.put("deploy", new DeployCommand());
    commands.put("deployments", new DeploymentsCommand());
    commands.put("rollouts", new RolloutsCommand());
    commands.put("alerts", new AlertsCommand());
    commands.put("fleet", new FleetCommand());
    commands.put("events", new EventsCommand());
    commands.put("logs", new LogsCommand());
    commands.put("signing-key", new SigningKeyCommand());
    return commands;
  }
}
