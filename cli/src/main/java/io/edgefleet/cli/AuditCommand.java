package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code edgefleet audit}: who changed what, newest first, filtered, one page at a time. */
@Command(
    name = "audit",
    description = {
      "Show the audit log: who changed what, newest first (every change made through the API, the"
          + " CLI or the console).",
      "Filters combine. When there are older entries, the last line says how to see them"
          + " (--before)."
    })
final class AuditCommand extends TokenCommand {
  static final String AUDIT = "/api/v1/audit";

  @Option(names = "--actor", paramLabel = "ACTOR", description = "Only this actor's changes.")
  String actor;

  @Option(
      names = "--action",
      paramLabel = "PREFIX",
      description = "Only actions starting with this, e.g. rollout. or device.approve.")
  String action;

  @Option(
      names = "--target",
      paramLabel = "TARGET",
      description = "Only changes to this target, e.g. a device id or a rollout id.")
  String target;

  @Option(
      names = {"-q", "--search"},
      paramLabel = "TEXT",
      description = "Only entries whose actor, action, target or detail contain this (any case).")
  String search;

  @Option(
      names = "--before",
      paramLabel = "POSITION",
      description = "Entries older than this: the position the previous page printed last.")
  String before;

  @Option(
      names = "--limit",
      paramLabel = "N",
      defaultValue = "50",
      converter = Converters.Limit.class,
      description = "At most this many entries (default: ${DEFAULT-VALUE}).")
  int limit = 50;

  @Override
  void run(ControllerClient api) {
    JsonNode page = api.get(query());
    print(page, () -> table(page.path("items")));
    String next = page.path("next").asText("");
    if (!next.isEmpty()) {
      note("(older entries: add --before " + next + ")");
    }
  }

  private String query() {
    StringBuilder q = new StringBuilder(AUDIT).append("?limit=").append(limit);
    append(q, "actor", actor);
    append(q, "action", action);
    append(q, "target", target);
    append(q, "q", search);
    append(q, "before", before);
    return q.toString();
  }

  private static void append(StringBuilder q, String name, String value) {
    if (value != null && !value.isBlank()) {
      q.append('&').append(name).append('=').append(ControllerClient.segment(value.strip()));
    }
  }

  /** TIME, ACTOR, ACTION, TARGET, DETAIL. */
  static String table(JsonNode entries) {
    if (entries.isEmpty()) {
      return "No audit entries match.\n";
    }
    Table t = new Table("time", "actor", "action", "target", "detail");
    for (JsonNode e : entries) {
      t.row(
          Formats.text(e, "at"),
          Formats.text(e, "actor"),
          Formats.text(e, "action"),
          Formats.text(e, "target"),
          Formats.text(e, "detail"));
    }
    return t.render();
  }
}
