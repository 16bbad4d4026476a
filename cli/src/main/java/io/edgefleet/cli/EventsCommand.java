package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.Json;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code edgefleet events}: one chronology of device, app, rollout, controller and health events,
 * in the order they happened at the device; {@code --follow} keeps printing new ones as they are
 * recorded, including events a device delivers late from its outbox.
 */
@Command(
    name = "events",
    description = {
      "Show what happened to devices, in the order it happened: what they reported (device), app"
          + " phase changes (app), rollouts (rollout), operator and controller actions"
          + " (controller) and status changes (health).",
      "With --follow, keep printing new events as they are recorded, including events a device"
          + " delivers late after an outage; stop with Ctrl-C."
    })
final class EventsCommand extends TokenCommand {
  static final String EVENTS = "/api/v1/events";

  @Option(
      names = "--device",
      paramLabel = "ID",
      converter = Converters.Id.class,
      description = "Only this device's events, its rollouts' and the actions that targeted it.")
  String device;

  @Option(
      names = "--selector",
      paramLabel = "SELECTOR",
      description =
          "Only events of devices whose tags match, e.g. site=store-17; '*' or '' for every"
              + " device.")
  String selector;

  @Option(
      names = "--since",
      paramLabel = "DURATION|TIME",
      converter = Since.class,
      description =
          "Events that happened since then: a duration back from now (30m, 1h, 7d) or an ISO-8601"
              + " time (default: 1h).")
  String since;

  @Option(
      names = "--limit",
      paramLabel = "N",
      defaultValue = "100",
      converter = Converters.Limit.class,
      description = "At most this many events, the newest (default: ${DEFAULT-VALUE}).")
  int limit = 100;

  @Option(
      names = {"-f", "--follow"},
      description = "Keep printing new events as they are recorded.")
  boolean follow;

  @Option(
      names = "--interval",
      paramLabel = "DURATION",
      defaultValue = "2s",
      converter = Converters.DurationText.class,
      description = "How often --follow asks for new events (default: ${DEFAULT-VALUE}).")
  String interval = "2s";

  @Override
  void run(ControllerClient api) {
    JsonNode listing = api.get(query(null));
    if (!follow) {
      print(listing, () -> table(listing.path("items"), true));
      if (listing.path("more").asBoolean()) {
        note("(older events were left out: use --limit or a shorter --since)");
      }
      return;
    }
    show(listing, true);
    long wait = Durations.parse(interval).toMillis();
    String cursor = listing.path("next").asText();
    // In a listing "more" means older events were left out; after a cursor, that more wait.
    boolean more = false;
    while (!Thread.currentThread().isInterrupted()) {
      if (!more) {
        try {
          Thread.sleep(wait);
        } catch (InterruptedException e) {
          // Stopped by the user or the caller: a normal end of following.
          Thread.currentThread().interrupt();
          return;
        }
      }
      JsonNode page;
      try {
        page = api.get(query(cursor));
      } catch (CliException e) {
        if (Thread.currentThread().isInterrupted()) {
          return;
        }
        throw e;
      }
      show(page, false);
      cursor = page.path("next").asText(cursor);
      more = page.path("more").asBoolean();
    }
  }

  /** One page while following: a table (its header only once) or one JSON object per line. */
  private void show(JsonNode page, boolean first) {
    JsonNode items = page.path("items");
    if (json()) {
      items.forEach(e -> out().println(Json.write(e)));
    } else if (first || !items.isEmpty()) {
      out().print(table(items, first));
    }
    out().flush();
  }

  private String query(String after) {
    StringBuilder q = new StringBuilder(EVENTS).append("?limit=").append(limit);
    if (device != null) {
      q.append("&device=").append(ControllerClient.segment(device));
    }
    if (selector != null) {
      q.append("&selector=").append(ControllerClient.segment(selector));
    }
    if (after != null) {
      q.append("&after=").append(ControllerClient.segment(after));
    } else if (since != null) {
      q.append("&since=").append(ControllerClient.segment(since));
    }
    return q.toString();
  }

  /** TIME, DEVICE, SOURCE, KIND, MESSAGE; without the header line for later pages of --follow. */
  static String table(Iterable<JsonNode> events, boolean header) {
    Table t = new Table("time", "device", "source", "kind", "message");
    for (JsonNode e : events) {
      t.row(
          Formats.text(e, "at"),
          Formats.text(e, "deviceId"),
          Formats.text(e, "source"),
          Formats.text(e, "kind"),
          Formats.text(e, "message")
              + (e.hasNonNull("deviceAt")
                  ? " (device clock said " + Formats.text(e, "deviceAt") + ")"
                  : ""));
    }
    String text = t.render();
    return header ? text : text.substring(text.indexOf('\n') + 1);
  }

  /** A positive duration such as {@code 1h}, or an ISO-8601 instant. */
  static final class Since implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      String text = value.strip();
      try {
        Duration d = Durations.parse(text);
        if (!d.isZero()) {
          return text;
        }
      } catch (IllegalArgumentException e) {
        try {
          Instant.parse(text);
          return text;
        } catch (DateTimeParseException notAnInstant) {
          // reported below
        }
      }
      throw new TypeConversionException(
          "'"
              + value
              + "' is neither a duration (30m, 1h, 7d) nor an ISO-8601 time"
              + " (2026-01-31T08:00:00Z)");
    }
  }
}
