package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet rollouts …}: watch and steer phased rollouts. */
@Command(
    name = "rollouts",
    description = "List rollouts, show their batches, pause, resume, abort or roll them back.",
    subcommands = {
      RolloutsCommand.ListRollouts.class,
      RolloutsCommand.Status.class,
      RolloutsCommand.Pause.class,
      RolloutsCommand.Resume.class,
      RolloutsCommand.Abort.class,
      RolloutsCommand.Rollback.class
    })
final class RolloutsCommand {
  static final String ROLLOUTS = "/api/v1/rollouts";

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  static String path(String id) {
    return ROLLOUTS + "/" + ControllerClient.segment(id);
  }

  @Command(name = "list", description = "List rollouts, newest first.")
  static final class ListRollouts extends TokenCommand {
    @Option(names = "--app", paramLabel = "NAME", description = "Only rollouts of this app.")
    String app;

    @Option(
        names = "--state",
        paramLabel = "STATE",
        description =
            "Only rollouts in this state: PROGRESSING, PAUSED, ROLLING_BACK, SUCCEEDED,"
                + " ROLLED_BACK, ABORTED, SUPERSEDED.")
    String state;

    @Override
    void run(ControllerClient api) {
      StringBuilder q = new StringBuilder(ROLLOUTS + "?limit=100");
      if (app != null) {
        q.append("&app=").append(ControllerClient.segment(app));
      }
      if (state != null) {
        q.append("&state=").append(ControllerClient.segment(state));
      }
      JsonNode items = api.get(q.toString()).path("items");
      printItems(
          items,
          () -> {
            Table t = new Table("id", "app", "from", "to", "state", "batch", "started", "why");
            for (JsonNode r : items) {
              t.row(
                  r.path("id").asText(),
                  r.path("app").asText(),
                  Formats.revision(r.path("fromRevision").asText("")),
                  Formats.revision(r.path("toRevision").asText()),
                  r.path("state").asText(),
                  batches(r),
                  Formats.relative(r, "createdAt", now()),
                  r.path("reason").asText());
            }
            return t.render();
          });
    }
  }

  @Command(
      name = "status",
      description = {
        "Show a rollout: per batch the devices targeted, updated, ready, failed, pending, offline"
            + " and outside their window; why it waits; its history.",
        "With --watch, until it is over; the exit code says how: 0 succeeded, 3 paused, 4 rolled"
            + " back, 5 aborted, 6 superseded."
      })
  static final class Status extends TokenCommand {
    @Parameters(paramLabel = "ID", description = "Rollout id, as `rollouts list` shows it.")
    String id;

    @Option(names = "--devices", description = "Also list every device with its state.")
    boolean devices;

    @Mixin WatchOptions watching;

    @Override
    void run(ControllerClient api) {
      if (!watching.watch) {
        JsonNode r = api.get(path(id) + "?devices=" + devices);
        print(r, () -> status(r, now(), devices));
        return;
      }
      exitCode =
          watching
              .watch(this)
              .run(
                  () -> {
                    JsonNode r = api.get(path(id) + "?devices=" + devices);
                    return new Watch.Frame(
                        WatchOptions.text(this, r, () -> status(r, now(), devices)), end(r));
                  });
    }
  }

  /**
   * Whether a watched rollout is over: succeeded (exit 0), paused (3: it needs a decision), rolled
   * back (4), aborted (5) or superseded (6); still going while progressing or rolling back.
   */
  static Optional<Watch.End> end(JsonNode r) {
    String state = r.path("state").asText();
    int code =
        switch (state) {
          case "SUCCEEDED" -> 0;
          case "PAUSED" -> Watch.PAUSED;
          case "ROLLED_BACK" -> Watch.ROLLED_BACK;
          case "ABORTED" -> Watch.ABORTED;
          case "SUPERSEDED" -> Watch.SUPERSEDED;
          default -> -1;
        };
    if (code < 0) {
      return Optional.empty();
    }
    String reason = r.path("reason").asText("");
    return Optional.of(
        new Watch.End(
            code,
            "rollout "
                + r.path("id").asText()
                + " "
                + state
                + (reason.isEmpty() ? "" : ": " + reason)
                + (code == 0 ? "" : " (exit " + code + ")")));
  }

  abstract static class Transition extends TokenCommand {
    @Parameters(paramLabel = "ID", description = "Rollout id.")
    String id;

    abstract String verb();

    @Override
    void run(ControllerClient api) {
      JsonNode r = api.post(path(id) + "/" + verb(), object());
      print(
          r,
          () ->
              "Rollout "
                  + r.path("id").asText()
                  + " is "
                  + r.path("state").asText()
                  + ": "
                  + r.path("reason").asText()
                  + "\n");
    }
  }

  @Command(name = "pause", description = "Pause: no more devices are released.")
  static final class Pause extends Transition {
    @Override
    String verb() {
      return "pause";
    }
  }

  @Command(
      name = "resume",
      description = "Resume a paused rollout; a failed batch starts over with a new deadline.")
  static final class Resume extends Transition {
    @Override
    String verb() {
      return "resume";
    }
  }

  @Command(
      name = "abort",
      description = "Stop where it is: updated devices keep the new version, the others the old.")
  static final class Abort extends Transition implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Override
    public String question() {
      return "Abort rollout " + id + "? Devices not yet updated stay on the old version.";
    }

    @Override
    String verb() {
      return "abort";
    }
  }

  @Command(
      name = "rollback",
      description = "Return every device the rollout updated to the version it ran before.")
  static final class Rollback extends Transition implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Override
    public String question() {
      return "Roll back rollout " + id + "? Every device it updated returns to the version before.";
    }

    @Override
    String verb() {
      return "rollback";
    }
  }

  static String batches(JsonNode r) {
    int total = r.path("batches").asInt();
    return total == 0 ? "-" : Math.min(r.path("batch").asInt() + 1, total) + "/" + total;
  }

  static String status(JsonNode r, Instant now, boolean devices) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Rollout", r.path("id").asText());
    f.put("App", r.path("app").asText() + " (" + r.path("source").asText() + ")");
    f.put(
        "Revision",
        (r.hasNonNull("fromRevision") ? r.path("fromRevision").asText() + " → " : "")
            + r.path("toRevision").asText());
    f.put("State", r.path("state").asText());
    f.put("Why", r.path("reason").asText());
    f.put("Policy", r.path("policySummary").asText());
    int neverSeen = r.path("counts").path("neverSeen").asInt();
    if (neverSeen > 0) {
      f.put(
          "Never seen",
          neverSeen
              + " device(s) never connected: skipped by thresholds, they update when they first"
              + " connect");
    }
    List<String> staging = new ArrayList<>();
    for (JsonNode b : r.path("batches")) {
      int n = b.path("counts").path("staging").asInt();
      if (n > 0) {
        staging.add(n + " in batch " + (b.path("index").asInt() + 1));
      }
    }
    if (!staging.isEmpty()) {
      f.put(
          "Staging",
          String.join(", ", staging)
              + ": downloading the new revision's artifacts ahead, released once they hold them");
    }
    f.put(
        "Started", Formats.timestamp(r, "createdAt", now) + " by " + r.path("createdBy").asText());
    StringBuilder out = new StringBuilder(Table.fields(f)).append('\n');
    Table t =
        new Table(
            "batch",
            "name",
            "state",
            "targeted",
            "updated",
            "ready",
            "failed",
            "pending",
            "pending-offline",
            "outside-window",
            "needs");
    for (JsonNode b : r.path("batches")) {
      JsonNode c = b.path("counts");
      t.row(
          String.valueOf(b.path("index").asInt() + 1),
          b.path("name").asText(),
          b.path("state").asText(),
          c.path("targeted").asText(),
          c.path("updated").asText(),
          c.path("ready").asText(),
          c.path("failed").asText(),
          c.path("pending").asText(),
          c.path("pendingOffline").asText(),
          c.path("outsideWindow").asText(),
          b.path("successThreshold").asText() + "% ready");
    }
    out.append(t.render());
    if (devices) {
      Table d = new Table("device", "name", "batch", "state", "running", "why");
      for (JsonNode m : r.path("devices")) {
        d.row(
            m.path("deviceId").asText(),
            m.path("deviceName").asText(),
            String.valueOf(m.path("batch").asInt() + 1),
            m.path("state").asText(),
            Formats.revision(m.path("runningRevision").asText("")),
            m.path("reason").asText());
      }
      out.append('\n').append(d.render());
    }
    out.append("\nHistory:\n");
    for (JsonNode e : r.path("events")) {
      String entry =
          "  "
              + Formats.timestamp(e, "at", now)
              + "  "
              + e.path("kind").asText()
              + "  "
              + e.path("message").asText();
      out.append(Table.line(entry, Screen.current())).append('\n');
    }
    return out.toString();
  }
}
