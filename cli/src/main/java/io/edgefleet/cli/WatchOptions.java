package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.Json;
import java.time.Clock;
import java.util.function.Supplier;
import picocli.CommandLine.Option;

/** {@code --watch} and {@code --interval} of the status commands that can follow a change. */
final class WatchOptions {
  @Option(
      names = {"-w", "--watch"},
      description = "Keep showing the answer, asked again every --interval, until it is final.")
  boolean watch;

  @Option(
      names = "--interval",
      paramLabel = "DURATION",
      defaultValue = "2s",
      converter = Converters.DurationText.class,
      description = "How often --watch asks (default: ${DEFAULT-VALUE}).")
  String interval = "2s";

  /** A watch printing through the command's writers, redrawing in place on a terminal. */
  Watch watch(ApiCommand command) {
    return new Watch(
        command.out(),
        command.spec.commandLine().getErr(),
        Screen.current().terminal(),
        command.json(),
        Durations.parse(interval),
        Clock.systemDefaultZone(),
        d -> Thread.sleep(d.toMillis()));
  }

  /** One answer as a frame's text: the table, or the API's JSON on one line. */
  static String text(ApiCommand command, JsonNode answer, Supplier<String> table) {
    return command.json() ? Json.write(answer) + "\n" : table.get();
  }
}
