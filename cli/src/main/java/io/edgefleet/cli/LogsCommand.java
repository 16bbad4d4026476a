package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code edgefleet logs DEVICE --app APP}: an app's workload logs on one device, read by its agent
 * and brought back over the device's own connection.
 */
@Command(
    name = "logs",
    description = {
      "Show the workload logs of an app on a device: the last lines of all its containers, merged"
          + " by time, then with --follow new lines as they come (Ctrl-C ends).",
      "The agent reads them over its own connection; when it cannot ask its runtime it answers"
          + " from the recent lines it kept, and a note on stderr says so."
    })
final class LogsCommand extends TokenCommand {
  static final int MAX_TAIL = 10_000;

  @Parameters(paramLabel = "DEVICE", description = "Device id, as `devices list` shows it.")
  String device;

  @Option(
      names = "--app",
      required = true,
      paramLabel = "APP",
      description = "The app whose logs to show.")
  String app;

  @Option(
      names = "--tail",
      paramLabel = "N",
      description = "How many of the most recent lines (1 to " + MAX_TAIL + ", default 100).")
  int tail = 100;

  @Option(
      names = {"-f", "--follow"},
      description = "Keep showing new lines as they come, until Ctrl-C.")
  boolean follow;

  @Option(
      names = "--no-prefix",
      description = "Print the lines only, without time, pod and container.")
  boolean noPrefix;

  @Override
  void validate() {
    if (tail < 1 || tail > MAX_TAIL) {
      throw badInput("--tail must be from 1 to " + MAX_TAIL + ", got " + tail);
    }
  }

  @Override
  void run(ControllerClient api) {
    String path =
        "/api/v1/devices/"
            + ControllerClient.segment(device)
            + "/logs?app="
            + ControllerClient.segment(app)
            + "&tail="
            + tail;
    if (!follow) {
      JsonNode answer = api.get(path);
      answer.path("notes").forEach(n -> notice(n.asText()));
      for (JsonNode line : answer.path("lines")) {
        out().println(render(line, json(), !noPrefix));
      }
      return;
    }
    String[] error = {null};
    api.stream(
        path + "&follow=true",
        text -> {
          if (text.isBlank()) {
            return true; // keep-alive
          }
          JsonNode record = parse(text);
          if (record.has("error")) {
            error[0] = record.path("error").asText();
            return false;
          }
          if (record.has("note")) {
            notice(record.path("note").asText());
            return true;
          }
          PrintWriter out = out();
          out.println(render(record, json(), !noPrefix));
          out.flush();
          // The reader went away (`… | head`): stop following.
          return !out.checkError();
        });
    if (error[0] != null) {
      throw CliException.failed("the log stream ended: " + error[0]);
    }
  }

  /** Notes are about the answer, not log lines: always on stderr, so stdout stays the log. */
  private void notice(String text) {
    spec.commandLine().getErr().println("note: " + text);
  }

  /**
   * One log line: {@code TIME POD/CONTAINER LINE}, the line alone, or its JSON (one object per
   * line, NDJSON).
   */
  static String render(JsonNode line, boolean json, boolean prefix) {
    if (json) {
      return Json.write(line);
    }
    String text = line.path("line").asText("");
    if (!prefix) {
      return text;
    }
    return line.path("at").asText("-")
        + " "
        + line.path("pod").asText("-")
        + "/"
        + line.path("container").asText("-")
        + " "
        + text;
  }

  private static JsonNode parse(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (IOException e) {
      throw CliException.failed("the controller sent a line that is not JSON: " + text);
    }
  }
}
