package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Durations;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code edgefleet audit}: who changed what, newest first, filtered, one page at a time. */
@Command(
    name = "audit",
    description = {
      "Show the audit log: who changed what, newest first (every change made through the API, the"
          + " CLI or the console).",
      "Filters combine. When there are older entries, the last line says how to see them"
          + " (--before).",
      "The log is a hash chain with signed checkpoints: 'audit verify' checks it, 'audit export'"
          + " writes it as JSON lines."
    },
    subcommands = {AuditCommand.Verify.class, AuditCommand.Export.class})
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

  /** {@code edgefleet audit verify}: checks the chain and its checkpoints. */
  @Command(
      name = "verify",
      description = {
        "Check that no audit entry was edited, deleted or inserted since it was written: every"
            + " entry's hash, the sequence and every signed checkpoint.",
        "Exits 0 when the log holds, 1 with the first problem and where it is otherwise."
      })
  static final class Verify extends TokenCommand {
    @Option(
        names = "--from",
        paramLabel = "SEQ",
        description = "Start at this sequence number (the entry before it is trusted).")
    Long from;

    @Override
    void validate() {
      if (from != null && from < 1) {
        throw badInput("--from must be a sequence number of at least 1, got " + from);
      }
    }

    @Override
    void run(ControllerClient api) {
      JsonNode r = api.post(AUDIT + "/verify" + (from == null ? "" : "?from=" + from), object());
      print(r, () -> text(r));
      if (!r.path("ok").asBoolean()) {
        exitCode = CliException.FAILED;
      }
    }

    static String text(JsonNode r) {
      long entries = r.path("entries").asLong();
      long checkpoints = r.path("checkpoints").asLong();
      String counts =
          entries
              + " entries and "
              + checkpoints
              + " checkpoints checked (seq "
              + r.path("fromSeq").asLong()
              + " to "
              + r.path("headSeq").asLong()
              + ")";
      if (r.path("ok").asBoolean()) {
        long last = r.path("lastCheckpointSeq").asLong();
        long after = r.path("headSeq").asLong() - last;
        return "OK: "
            + counts
            + "\n"
            + (last == 0
                ? "no checkpoint yet: the whole log rests on the chain head\n"
                : "newest checkpoint at seq "
                    + last
                    + (after > 0 ? "; " + after + " entries after it rest on the chain head" : "")
                    + "\n");
      }
      JsonNode p = r.path("problem");
      return "PROBLEM ("
          + p.path("kind").asText()
          + "): "
          + p.path("message").asText()
          + "\n"
          + counts
          + " before it\n"
          + "next: compare with an earlier export (edgefleet audit export) or your SIEM copy, and"
          + " investigate who has write access to the database\n";
    }
  }

  /** {@code edgefleet audit export}: the chained entries as JSON lines. */
  @Command(
      name = "export",
      description = {
        "Write the audit entries as JSON lines, oldest first, each with its seq, prev and hash, so"
            + " the export can be verified and archived on its own."
      })
  static final class Export extends TokenCommand {
    @Option(
        names = "--since",
        paramLabel = "DURATION|TIME",
        description =
            "Only entries from this time on: a duration back from now (24h, 30m, 7d) or a time"
                + " such as 2026-12-01T00:00:00Z. Default: the whole log.")
    String since;

    @Override
    void validate() {
      if (since == null) {
        return;
      }
      try {
        Instant.parse(since.strip());
        return;
      } catch (DateTimeParseException e) {
        // a duration, perhaps
      }
      try {
        Durations.parse(since);
      } catch (IllegalArgumentException e) {
        throw badInput(
            "--since '"
                + since
                + "' is neither a duration such as 24h nor a time such as 2026-12-01T00:00:00Z");
      }
    }

    @Override
    void run(ControllerClient api) {
      String path =
          AUDIT
              + "/export"
              + (since == null ? "" : "?since=" + ControllerClient.segment(since.strip()));
      PrintWriter out = out();
      api.stream(
          path,
          line -> {
            if (!line.isBlank()) {
              out.println(line);
            }
            return !out.checkError();
          });
    }
  }
}
