package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code edgefleet sessions}: tunnel sessions (kubectl, port-forward, shells). */
@Command(
    name = "sessions",
    description = {
      "Tunnel sessions through devices' connections: kubectl requests (kube), port-forward"
          + " connections (tcp), shells and file copies; who, which device, bytes, and how each"
          + " ended."
    },
    subcommands = {SessionsCommand.List.class, SessionsPlay.class})
final class SessionsCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** {@code edgefleet sessions list}. */
  @Command(name = "list", description = "List sessions, newest first.")
  static final class List extends TokenCommand {
    private static final Set<String> KINDS = Set.of("kube", "tcp", "shell", "file");

    @Option(names = "--device", paramLabel = "DEVICE", description = "Only this device's sessions.")
    String device;

    @Option(names = "--kind", paramLabel = "KIND", description = "Only kube, tcp, shell or file.")
    String kind;

    @Option(
        names = "--before",
        paramLabel = "TIME",
        description = "Only sessions started before this instant (the next page).")
    String before;

    @Option(
        names = "--limit",
        paramLabel = "N",
        defaultValue = "50",
        converter = Converters.Limit.class,
        description = "At most this many (default: ${DEFAULT-VALUE}).")
    int limit = 50;

    @Override
    void validate() {
      if (kind != null && !KINDS.contains(kind)) {
        throw badInput("--kind must be kube, tcp, shell or file, not " + kind);
      }
      if (before != null) {
        try {
          Instant.parse(before);
        } catch (DateTimeParseException e) {
          throw badInput("--before takes an instant such as 2026-01-31T12:00:00Z");
        }
      }
    }

    @Override
    void run(ControllerClient api) {
      StringBuilder q = new StringBuilder("/api/v1/sessions?limit=").append(limit);
      if (device != null) {
        q.append("&device=").append(ControllerClient.segment(device));
      }
      if (kind != null) {
        q.append("&kind=").append(kind);
      }
      if (before != null) {
        q.append("&before=").append(ControllerClient.segment(before));
      }
      JsonNode page = api.get(q.toString());
      JsonNode items = page.path("items");
      printItems(items, () -> table(items, now()));
      if (!json() && items.size() == limit && limit > 0) {
        note(
            "(older sessions: add --before "
                + items.get(items.size() - 1).path("startedAt").asText()
                + ")");
      }
    }

    /** ID, DEVICE, KIND, ACTOR, DETAIL, STARTED, DURATION, IN, OUT, END. */
    static String table(JsonNode sessions, Instant now) {
      if (sessions.isEmpty()) {
        return "No sessions match.\n";
      }
      Table t =
          new Table(
              "id", "device", "kind", "actor", "detail", "started", "duration", "in", "out", "end");
      for (JsonNode s : sessions) {
        Instant started = Instant.parse(s.path("startedAt").asText());
        boolean open = s.path("endedAt").isNull() || s.path("endedAt").isMissingNode();
        Instant ended = open ? now : Instant.parse(s.path("endedAt").asText());
        t.row(
            Formats.text(s, "id"),
            Formats.text(s, "device"),
            Formats.text(s, "kind"),
            Formats.text(s, "actor"),
            Formats.text(s, "detail"),
            Formats.relative(s, "startedAt", now),
            span(Duration.between(started, ended)),
            Formats.bytes(s.path("bytesIn").asLong()),
            Formats.bytes(s.path("bytesOut").asLong()),
            open ? "(running)" : Formats.text(s, "endReason"));
      }
      return t.render();
    }

    private static String span(Duration d) {
      long s = Math.max(0, d.toSeconds());
      return s < 60
          ? s + "s"
          : s < 3600 ? (s / 60) + "m" + (s % 60) + "s" : (s / 3600) + "h" + (s / 60 % 60) + "m";
    }
  }
}
