package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.cli.ConnectionOptions.Output;
import io.edgefleet.protocol.Json;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Base of every leaf command: resolves the connection, calls {@link #run}, prints failures as
 * {@code error: <message>} on stderr and turns them into the exit code (0 success, 1 failed call, 2
 * bad input or configuration). Output goes through the picocli {@code CommandLine}'s writers so a
 * caller can capture it. In JSON mode stdout carries only JSON; notes go to stderr.
 */
abstract class ApiCommand implements Callable<Integer> {
  @Mixin ConnectionOptions connection;
  @Spec CommandSpec spec;

  /** The exit code of a call that succeeded; a watch that ends sets what it ended with. */
  int exitCode = 0;

  /** The API token given on this command line, if any. */
  abstract Optional<String> tokenOption();

  /** Checks what converters cannot check one value at a time; throws {@link ParameterException}. */
  void validate() {}

  abstract void run(ControllerClient api);

  @Override
  public final Integer call() {
    validate();
    PrintWriter err = spec.commandLine().getErr();
    if (this instanceof Confirmation.Destructive d
        && !Confirmation.of(spec).confirmed(d.question(), err)) {
      err.flush();
      return CliException.FAILED;
    }
    try {
      Invocation caller = Invocation.current();
      Connection resolved = connection.resolve(tokenOption(), caller.env(), caller.home());
      try (ControllerClient api = new ControllerClient(resolved)) {
        screen().use(() -> run(api));
      }
      return exitCode;
    } catch (CliException e) {
      err.println("error: " + e.getMessage());
      return e.exitCode();
    } finally {
      out().flush();
      err.flush();
    }
  }

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  /** Where the output goes: its width and whether it takes colour. */
  Screen screen() {
    Invocation caller = Invocation.current();
    return Screen.of(caller.env(), caller.stdoutTerminal(), connection.output == Output.WIDE);
  }

  Instant now() {
    return Instant.now();
  }

  boolean json() {
    return connection.output == Output.JSON;
  }

  /** Prints the API's JSON in JSON mode, else the rendered table text. */
  void print(JsonNode api, Supplier<String> table) {
    out().print(json() ? Json.pretty(api) + "\n" : table.get());
  }

  /** A listing as the API answers it, {@code {"items": [...]}}, in JSON mode; else the table. */
  void printItems(JsonNode items, Supplier<String> table) {
    if (json()) {
      ObjectNode listing = object();
      listing.set("items", items);
      out().print(Json.pretty(listing) + "\n");
    } else {
      out().print(table.get());
    }
  }

  /** A line for people: on stdout for tables, on stderr in JSON mode to keep stdout parseable. */
  void note(String line) {
    (json() ? spec.commandLine().getErr() : out()).println(line);
  }

  /** The tags as a map, or a usage error naming the offending tag. */
  Map<String, String> tagMap(List<Tags.Tag> tags) {
    try {
      return Tags.toMap(tags);
    } catch (IllegalArgumentException e) {
      throw badInput(e.getMessage());
    }
  }

  ParameterException badInput(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  static ObjectNode object() {
    return Json.mapper().createObjectNode();
  }
}
