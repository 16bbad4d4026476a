package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet alerts …}: firing alerts, alert rules and their webhook receivers. */
@Command(
    name = "alerts",
    description = "Firing and recently resolved alerts; alert rules; webhook receivers.",
    subcommands = {
      AlertsCommand.ListAlerts.class,
      AlertsCommand.Rules.class,
      AlertsCommand.Receivers.class
    })
final class AlertsCommand {
  static final String ALERTS = "/api/v1/alerts";
  static final String RULES = ALERTS + "/rules";
  static final String RECEIVERS = ALERTS + "/receivers";

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "list",
      description = {
        "Alerts that fire, wait for their 'for' to pass (pending), or resolved in the last 24"
            + " hours, with since when and how their notifications stand."
      })
  static final class ListAlerts extends TokenCommand {
    @Option(
        names = "--state",
        paramLabel = "STATE",
        description = "Only firing, pending or resolved alerts, or all (also older resolved ones).")
    String state;

    @Option(
        names = "--limit",
        paramLabel = "N",
        description = "At most N alerts (1-1000, default 100).")
    Integer limit;

    @Override
    void run(ControllerClient api) {
      StringBuilder q = new StringBuilder(ALERTS + "?limit=" + (limit == null ? 100 : limit));
      if (state != null) {
        q.append("&state=").append(ControllerClient.segment(state.toLowerCase(Locale.ROOT)));
      }
      JsonNode items = api.get(q.toString()).path("items");
      printItems(items, () -> alerts(items, now()));
    }
  }

  static String alerts(JsonNode items, Instant now) {
    if (items.isEmpty()) {
      return "No alerts firing, pending or resolved in the last 24 hours.\n";
    }
    Table t =
        new Table("state", "rule", "severity", "since", "resolved", "summary", "notifications");
    for (JsonNode a : items) {
      t.row(
          a.path("state").asText(),
          a.path("rule").asText(),
          a.path("severity").asText(),
          Formats.relative(a, "since", now),
          Formats.relative(a, "resolvedAt", now),
          a.path("summary").asText(),
          delivery(a.path("delivery")));
    }
    return t.render();
  }

  /** {@code 1 sent}, {@code 1 pending (HTTP 500: …)}, {@code 1 failed (…)}. */
  static String delivery(JsonNode d) {
    List<String> parts = new ArrayList<>();
    for (String k : List.of("sent", "pending", "failed")) {
      int n = d.path(k).asInt();
      if (n > 0) {
        parts.add(n + " " + k);
      }
    }
    String error = d.path("lastError").asText("");
    return String.join(", ", parts) + (error.isEmpty() ? "" : " (" + error + ")");
  }

  @Command(
      name = "rules",
      description = "List, show, add and remove alert rules.",
      subcommands = {RuleList.class, RuleShow.class, RuleAdd.class, RuleRemove.class})
  static final class Rules {
    @Option(
        names = {"-h", "--help"},
        usageHelp = true,
        description = "Show this help message and exit.")
    boolean help;
  }

  @Command(name = "list", description = "Alert rules by name.")
  static final class RuleList extends TokenCommand {
    @Mixin ProjectOption project;

    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(project.path(RULES)).path("items");
      printItems(
          items,
          () -> {
            Table t =
                new Table(
                    "name", "type", "condition", "selector", "severity", "receivers", "repeat");
            for (JsonNode r : items) {
              t.row(
                  r.path("name").asText(),
                  r.path("type").asText(),
                  condition(r),
                  r.path("selector").asText(""),
                  r.path("severity").asText(),
                  receivers(r),
                  r.path("repeat").asText(""));
            }
            return t.render();
          });
    }
  }

  @Command(name = "show", description = "One alert rule.")
  static final class RuleShow extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Rule name or id.")
    String name;

    @Override
    void run(ControllerClient api) {
      JsonNode r = api.get(RULES + "/" + ControllerClient.segment(name));
      print(r, () -> rule(r, now()));
    }
  }

  @Command(
      name = "add",
      description = {
        "Add an alert rule. Types and their parameters:",
        "  device-offline        --for D: a device OFFLINE longer than D",
        "  app-failed            [--app A] [--for D]: an app FAILED on a device",
        "  disk-usage            --percent P [--mount M] [--for D]: disk usage at or above P %%",
        "  certificate-expiring  --within D: a device certificate expiring within D",
        "  rollout-paused        [--app A] [--for D]: a rollout PAUSED",
        "  device-quarantined    [--for D]: a TPM device QUARANTINED (its boot changed)",
        "  cluster-degraded      [--for D]: a K3s cluster DEGRADED (--selector over its labels)",
        "Durations: 90s, 10m, 4h, 30d."
      })
  static final class RuleAdd extends TokenCommand {
    @Mixin ProjectOption project;

    @Parameters(paramLabel = "NAME", description = "Rule name: lower-case letters, digits, '-'.")
    String name;

    @Option(names = "--type", required = true, paramLabel = "TYPE", description = "Rule type.")
    String type;

    @Option(
        names = "--for",
        paramLabel = "DURATION",
        description = "How long the condition must hold before the alert fires.")
    String forDuration;

    @Option(
        names = "--within",
        paramLabel = "DURATION",
        description = "certificate-expiring: how close the expiry may come.")
    String within;

    @Option(
        names = "--percent",
        paramLabel = "P",
        description = "disk-usage: the usage (more than 0, at most 100) that fires.")
    Double percent;

    @Option(
        names = "--selector",
        paramLabel = "SELECTOR",
        description = "Only devices whose tags match; '*' or '' (default) for every device.")
    String selector;

    @Option(names = "--app", paramLabel = "APP", description = "Only this app.")
    String app;

    @Option(names = "--mount", paramLabel = "PATH", description = "disk-usage: only this mount.")
    String mount;

    @Option(
        names = "--severity",
        paramLabel = "LEVEL",
        description = "info, warning (default) or critical.")
    String severity;

    @Option(
        names = "--receiver",
        paramLabel = "NAME",
        description = "Notify this receiver (repeatable; default: every receiver).")
    List<String> receivers = new ArrayList<>();

    @Option(
        names = "--repeat",
        paramLabel = "DURATION",
        description = "Notify a firing alert again at this interval (default: once).")
    String repeat;

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object().put("name", name).put("type", type);
      putIf(body, "for", forDuration);
      putIf(body, "within", within);
      if (percent != null) {
        body.put("percent", percent);
      }
      putIf(body, "selector", selector);
      putIf(body, "app", app);
      putIf(body, "mount", mount);
      putIf(body, "severity", severity);
      putIf(body, "repeat", repeat);
      if (!receivers.isEmpty()) {
        ArrayNode list = body.putArray("receivers");
        receivers.forEach(list::add);
      }
      JsonNode r = api.post(project.path(RULES), body);
      print(r, () -> rule(r, now()));
    }
  }

  @Command(
      name = "remove",
      description = "Remove an alert rule; its firing alerts resolve (and are notified so).")
  static final class RuleRemove extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Override
    public String question() {
      return "Remove alert rule " + name + "? Its firing alerts resolve.";
    }

    @Parameters(paramLabel = "NAME", description = "Rule name or id.")
    String name;

    @Override
    void run(ControllerClient api) {
      api.delete(RULES + "/" + ControllerClient.segment(name));
      print(object().put("removed", name), () -> "Removed alert rule " + name + "\n");
    }
  }

  @Command(
      name = "receivers",
      description = "List, add and remove webhook receivers of alert notifications.",
      subcommands = {ReceiverList.class, ReceiverAdd.class, ReceiverRemove.class})
  static final class Receivers {
    @Option(
        names = {"-h", "--help"},
        usageHelp = true,
        description = "Show this help message and exit.")
    boolean help;
  }

  @Command(name = "list", description = "Receivers by name; URLs only as a hint.")
  static final class ReceiverList extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(RECEIVERS).path("items");
      printItems(
          items,
          () -> {
            Table t = new Table("name", "format", "url", "custom-ca", "created");
            for (JsonNode r : items) {
              t.row(
                  r.path("name").asText(),
                  r.path("format").asText(),
                  r.path("url").asText(),
                  r.path("customCa").asBoolean() ? "yes" : "no",
                  Formats.relative(r, "createdAt", now()));
            }
            return t.render();
          });
    }
  }

  @Command(
      name = "add",
      description = {
        "Add a webhook receiver.",
        "Formats: generic (edgefleet's JSON), slack (an incoming webhook), alertmanager (the body"
            + " Alertmanager sends to webhooks, version 4)."
      })
  static final class ReceiverAdd extends TokenCommand {
    @Parameters(
        paramLabel = "NAME",
        description = "Receiver name: lower-case letters, digits, '-'.")
    String name;

    @Option(names = "--url", required = true, paramLabel = "URL", description = "Webhook URL.")
    String url;

    @Option(
        names = "--format",
        paramLabel = "FORMAT",
        description = "generic (default), slack or alertmanager.")
    String format;

    @Option(
        names = "--ca-file",
        paramLabel = "PEM",
        description = "Also trust this CA (PEM) for the receiver's HTTPS certificate.")
    Path caFile;

    private String caPem;

    @Override
    void validate() {
      if (caFile != null) {
        try {
          caPem = Files.readString(caFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
          throw badInput("cannot read --ca-file " + caFile + ": " + Formats.problem(e));
        }
      }
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object().put("name", name).put("url", url);
      putIf(body, "format", format);
      putIf(body, "caPem", caPem);
      JsonNode r = api.post(RECEIVERS, body);
      print(
          r,
          () ->
              "Added receiver "
                  + r.path("name").asText()
                  + " ("
                  + r.path("format").asText()
                  + ") → "
                  + r.path("url").asText()
                  + "\n");
    }
  }

  @Command(name = "remove", description = "Remove a receiver that no rule names.")
  static final class ReceiverRemove extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Override
    public String question() {
      return "Remove receiver " + name + "?";
    }

    @Parameters(paramLabel = "NAME", description = "Receiver name or id.")
    String name;

    @Override
    void run(ControllerClient api) {
      api.delete(RECEIVERS + "/" + ControllerClient.segment(name));
      print(object().put("removed", name), () -> "Removed receiver " + name + "\n");
    }
  }

  /** The condition of a rule in words: {@code offline > 10m}, {@code disk / ≥ 90%}. */
  static String condition(JsonNode r) {
    String forText = r.path("for").asText("");
    String after = forText.isEmpty() ? "" : " for " + forText;
    String app = r.path("app").asText("");
    return switch (r.path("type").asText()) {
      case "device-offline" -> "offline > " + forText;
      case "app-failed" -> (app.isEmpty() ? "any app" : "app " + app) + " FAILED" + after;
      case "disk-usage" ->
          "disk "
              + r.path("mount").asText("any")
              + " ≥ "
              + number(r.path("percent").asDouble())
              + "%"
              + after;
      case "certificate-expiring" -> "certificate expires within " + r.path("within").asText();
      case "rollout-paused" -> "rollout" + (app.isEmpty() ? "" : " of " + app) + " PAUSED" + after;
      case "device-quarantined" -> "QUARANTINED" + after;
      case "cluster-degraded" -> "cluster DEGRADED" + after;
      default -> r.path("type").asText();
    };
  }

  static String rule(JsonNode r, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Rule", r.path("name").asText() + " (" + r.path("id").asText() + ")");
    f.put("Type", r.path("type").asText());
    if (!r.path("project").asText("").isEmpty()) {
      f.put("Project", r.path("project").asText());
    }
    f.put("Condition", condition(r));
    f.put(
        "cluster-degraded".equals(r.path("type").asText()) ? "Clusters" : "Devices",
        r.path("selector").asText("").isEmpty() ? "all" : r.path("selector").asText());
    f.put("Severity", r.path("severity").asText());
    f.put("Receivers", receivers(r));
    f.put("Repeat", r.path("repeat").asText("once per change"));
    f.put(
        "Created", Formats.timestamp(r, "createdAt", now) + " by " + r.path("createdBy").asText());
    return Table.fields(f);
  }

  private static String receivers(JsonNode r) {
    List<String> names = new ArrayList<>();
    r.path("receivers").forEach(n -> names.add(n.asText()));
    return names.isEmpty() ? "all" : String.join(",", names);
  }

  private static String number(double d) {
    return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
  }

  private static void putIf(ObjectNode body, String field, String value) {
    if (value != null && !value.isBlank()) {
      body.put(field, value.strip());
    }
  }
}
