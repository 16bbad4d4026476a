package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet apps …}: the applications from git and how they run on the devices. */
@Command(
    name = "apps",
    description = "List applications and show on which devices they run, at which revision.",
    subcommands = {AppsCommand.ListApps.class, AppsCommand.Status.class})
final class AppsCommand {
  static final String APPS = "/api/v1/apps";

  /** The states of an app on a device, in the order the summary line counts them. */
  static final List<String> STATES =
      List.of("READY", "PROGRESSING", "APPLIED", "FAILED", "PENDING", "PENDING_OFFLINE");

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "list",
      description = "List applications with how many of their devices are ready.")
  static final class ListApps extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(APPS).path("items");
      print(items, () -> table(items));
    }
  }

  @Command(
      name = "status",
      description = {
        "Show one application on each of its devices: desired and running revision, state.",
        "States: READY, PROGRESSING, APPLIED, FAILED, PENDING, PENDING_OFFLINE (the device is"
            + " offline and updates when it reconnects)."
      })
  static final class Status extends TokenCommand {
    @Parameters(
        paramLabel = "APP",
        converter = Converters.Id.class,
        description = "Application name, as `apps list` shows it.")
    String app;

    @Override
    void run(ControllerClient api) {
      JsonNode status = api.get(APPS + "/" + ControllerClient.segment(app) + "/status");
      JsonNode devices = status.path("devices");
      print(status, () -> deviceTable(devices, now()));
      spec.commandLine().getErr().println(summary(devices));
    }
  }

  static String table(Iterable<JsonNode> apps) {
    Table table =
        new Table("app", "source", "devices", "ready", "failed", "pending", "pending offline");
    for (JsonNode a : apps) {
      table.row(
          Formats.text(a, "app"),
          Formats.text(a, "source"),
          Formats.text(a, "devices"),
          Formats.text(a, "ready"),
          Formats.text(a, "failed"),
          Formats.text(a, "pending"),
          Formats.text(a, "pendingOffline"));
    }
    return table.render();
  }

  /** One application across its devices. */
  static String deviceTable(Iterable<JsonNode> deviceApps, Instant now) {
    Table table = new Table("device", "name", "desired", "running", "state", "reason", "since");
    for (JsonNode d : deviceApps) {
      table.row(
          Formats.text(d, "deviceId"),
          Formats.text(d, "deviceName"),
          revision(d, "desiredRevision"),
          revision(d, "runningRevision"),
          Formats.text(d, "state"),
          Formats.text(d, "reason"),
          Formats.relative(d, "desiredSince", now));
    }
    return table.render();
  }

  /** One device across its applications. */
  static String appTable(Iterable<JsonNode> deviceApps, Instant now) {
    Table table = new Table("app", "source", "desired", "running", "state", "reason", "since");
    for (JsonNode d : deviceApps) {
      table.row(
          Formats.text(d, "app"),
          Formats.text(d, "source"),
          revision(d, "desiredRevision"),
          revision(d, "runningRevision"),
          Formats.text(d, "state"),
          Formats.text(d, "reason"),
          Formats.relative(d, "desiredSince", now));
    }
    return table.render();
  }

  /** {@code 3 devices: 2 ready, 1 pending-offline}: the non-zero counts per state. */
  static String summary(Iterable<JsonNode> deviceApps) {
    Map<String, Integer> counts = new LinkedHashMap<>();
    STATES.forEach(s -> counts.put(s, 0));
    int total = 0;
    for (JsonNode d : deviceApps) {
      String state = Formats.text(d, "state");
      counts.merge(state.isEmpty() ? "UNKNOWN" : state, 1, Integer::sum);
      total++;
    }
    List<String> parts = new ArrayList<>();
    counts.forEach(
        (state, n) -> {
          if (n > 0) {
            parts.add(n + " " + state.toLowerCase(Locale.ROOT).replace('_', '-'));
          }
        });
    String devices = total + (total == 1 ? " device" : " devices");
    return parts.isEmpty() ? devices : devices + ": " + String.join(", ", parts);
  }

  /** The first {@value ReposCommand#SHORT} characters of a revision. */
  private static String revision(JsonNode d, String field) {
    return ReposCommand.shortSha(Formats.text(d, field));
  }
}
