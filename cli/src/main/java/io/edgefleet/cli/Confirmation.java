package io.edgefleet.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.util.Locale;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * The {@code --yes} of a destructive verb ({@code decommission}, {@code remove}, {@code abort},
 * {@code rollback}, {@code revoke}, {@code reject}): on a terminal the verb asks first and does
 * nothing unless the answer is yes; {@code --yes} skips the question. Without a terminal on
 * standard input (a script, a pipeline) nothing can be asked and the verb goes ahead, as it always
 * did; scripts should still say {@code --yes}, so they read as meant.
 */
final class Confirmation {
  /** Where the question is asked; a test gives its own. */
  interface Prompt {
    /** Whether someone can answer: standard input is a terminal. */
    boolean interactive();

    /** Shows {@code question} and returns the answer line, or null at end of input. */
    String ask(String question);
  }

  static final Prompt TERMINAL =
      new Prompt() {
        @Override
        public boolean interactive() {
          Invocation caller = Invocation.current();
          if (caller.served() && caller.stdinTerminal()) {
            // Only the caller's own process can ask on its terminal.
            throw new Invocation.NeedsOwnProcess("the verb asks for confirmation");
          }
          return caller.stdinTerminal();
        }

        @Override
        public String ask(String question) {
          System.err.print(question);
          System.err.flush();
          try {
            // Not closed: it is the process's standard input.
            return new BufferedReader(new InputStreamReader(System.in, Charset.defaultCharset()))
                .readLine();
          } catch (IOException e) {
            return null;
          }
        }
      };

  private static volatile Prompt prompt = TERMINAL;

  @Option(
      names = {"-y", "--yes"},
      description = "Do not ask for confirmation (scripts; without a terminal nothing is asked).")
  boolean yes;

  /**
   * A destructive verb: what it asks before it acts. It mixes in a {@code Confirmation} (for {@code
   * --yes}), which {@link ApiCommand} finds among its mixins.
   */
  interface Destructive {
    /** The question, e.g. {@code Decommission device d-1? Its certificate stops working.} */
    String question();
  }

  /** The confirmation mixed into {@code command}, which must have one. */
  static Confirmation of(CommandSpec command) {
    return command.mixins().values().stream()
        .map(CommandSpec::userObject)
        .filter(Confirmation.class::isInstance)
        .map(Confirmation.class::cast)
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalStateException(
                    command.qualifiedName() + " is destructive but has no --yes option"));
  }

  /** Whether to go ahead; says so on {@code err} when the answer was no. */
  boolean confirmed(String question, PrintWriter err) {
    Prompt p = prompt;
    if (yes || !p.interactive()) {
      return true;
    }
    String answer = p.ask(question + " [y/N] ");
    String a = answer == null ? "" : answer.strip().toLowerCase(Locale.ROOT);
    if (a.equals("y") || a.equals("yes")) {
      return true;
    }
    err.println("cancelled: nothing was changed (answer y, or pass --yes to skip the question)");
    return false;
  }

  /** Replaces the prompt (tests); returns the previous one to restore. */
  static Prompt use(Prompt p) {
    Prompt before = prompt;
    prompt = p;
    return before;
  }
}
