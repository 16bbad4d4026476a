package io.edgefleet.e2e.clusters;

import io.edgefleet.agent.command.AgentCommand;
import picocli.CommandLine;

/** {@code edgefleet agent} as a process of its own: what a device in a network namespace runs. */
public final class AgentMain {
  private AgentMain() {}

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentCommand()).execute(args));
  }
}
