package io.edgefleet.agent.command;

import picocli.CommandLine;

/**
 * The agent command as a plain program: what a slot's JVM starts with only the agent's jars on its
 * class path ({@code java -cp 'slot/lib/*' io.edgefleet.agent.command.AgentMain --bootstrap ...}),
 * exactly as {@code edgefleet agent} runs it.
 */
public final class AgentMain {
  private AgentMain() {}

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentCommand()).execute(args));
  }
}
