package io.edgefleet.controller.alerts;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Alert rules: created validated (every problem named at once), listed, deleted; never edited in
 * place (delete and create again). Deleting a rule resolves its firing alerts at the engine's next
 * tick. Every change is audited in the same transaction. Thread-safe.
 */
public final class AlertRules {
  static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  static final List<String> SEVERITIES = List.of("info", "warning", "critical");
  private static final Set<String> FIELDS =
      new LinkedHashSet<>(
          List.of(
              "name",
              "type",
              "selector",
              "app",
              "mount",
              "for",
              "within",
              "percent",
              "severity",
              "receivers",
              "repeat"));

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;

  public AlertRules(Jdbi jdbi, Clock clock, AuditLog audit) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
  }

  /**
   * Creates a rule from its JSON description.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming every problem, {@code CONFLICT}
   *     when the name is taken
   */
  public Rule create(JsonNode body, String actor) {
    return create(body, actor, Optional.empty());
  }

  /**
   * Creates a rule in a project: it watches only the devices the project's selector picks too.
   *
   * @param project the project the rule belongs to, if any
   */
  public Rule create(JsonNode body, String actor, Optional<ProjectScope.Project> project) {
    Fields f = Fields.of(body, "alert rule", FIELDS);
    String name = f.text("name");
    String typeText = f.text("type");
    String selector = Optional.ofNullable(f.text("selector")).orElse("");
    String app = blankToNull(f.text("app"));
    String mount = blankToNull(f.text("mount"));
    String forText = blankToNull(f.text("for"));
    String within = blankToNull(f.text("within"));
    Double percent = f.number("percent");
    String severity =
        Optional.ofNullable(blankToNull(f.text("severity")))
            .map(s -> s.toLowerCase(Locale.ROOT))
            .orElse("warning");
    List<String> receivers = f.texts("receivers");
    String repeat = blankToNull(f.text("repeat"));

    if (name == null || name.isEmpty()) {
      f.problem("'name' is required");
    } else if (!NAME.matcher(name).matches()) {
      f.problem(
          "name '"
              + name
              + "' must be 1-63 lower-case letters, digits and '-', starting and ending with a"
              + " letter or digit");
    }
    RuleType type = null;
    try {
      type = RuleType.parse(typeText);
    } catch (ControllerException e) {
      f.problem(e.getMessage());
    }
    if (!SEVERITIES.contains(severity)) {
      f.problem("severity '" + severity + "' must be one of " + String.join(", ", SEVERITIES));
    }
    Duration forDuration = parse(f, "for", forText);
    Duration withinDuration = parse(f, "within", within);
    Duration repeatDuration = parse(f, "repeat", repeat);
    if (repeatDuration != null && repeatDuration.toSeconds() < 1) {
      f.problem("repeat must be at least 1s (leave it out to notify once per change)");
    }
    if (!selector.isEmpty()) {
      try {
        selector = Selector.parse(selector).toString();
      } catch (IllegalArgumentException e) {
        f.problem("selector: " + e.getMessage());
      }
    }
    if (type != null) {
      if (!type.aboutDevices() && project.isPresent()) {
        f.problem(
            type.id()
                + " rules are not about devices and watch the whole fleet: a project cannot have"
                + " one (ask an administrator)");
      }
      if (type == RuleType.ROLLOUT_PAUSED && !selector.isEmpty()) {
        f.problem(type.id() + " rules are about rollouts: use 'app' instead of 'selector'");
      }
      if (app != null && type != RuleType.APP_FAILED && type != RuleType.ROLLOUT_PAUSED) {
        f.problem("'app' applies only to app-failed and rollout-paused rules");
      }
      if (mount != null && type != RuleType.DISK_USAGE) {
        f.problem("'mount' applies only to disk-usage rules");
      }
      if (type == RuleType.DEVICE_OFFLINE && forText == null) {
        f.problem("device-offline rules need 'for': how long a device may be offline, e.g. 10m");
      }
      if (type == RuleType.DEVICE_OFFLINE && forDuration != null && forDuration.isZero()) {
        f.problem("'for' of a device-offline rule must be more than 0s");
      }
      if (type == RuleType.CERTIFICATE_EXPIRING) {
        if (within == null) {
          f.problem(
              "certificate-expiring rules need 'within': how close the expiry may come, e.g. 30d");
        } else if (withinDuration != null && withinDuration.isZero()) {
          f.problem("'within' must be more than 0s");
        }
      } else if (within != null) {
        f.problem("'within' applies only to certificate-expiring rules");
      }
      if (type == RuleType.DISK_USAGE) {
        if (percent == null) {
          f.problem("disk-usage rules need 'percent': the usage that fires, e.g. 90");
        } else if (!(percent > 0 && percent <= 100)) {
          f.problem("percent must be more than 0 and at most 100, got " + percent);
        }
      } else if (percent != null) {
        f.problem("'percent' applies only to disk-usage rules");
      }
    }
    String ruleName = name;
    List<String> unknownReceivers =
        jdbi.withHandle(
            h -> {
              Set<String> known =
                  new LinkedHashSet<>(
                      h.createQuery("SELECT name FROM alert_receivers ORDER BY name")
                          .mapTo(String.class)
                          .list());
              return receivers.stream().filter(r -> !known.contains(r)).toList();
            });
    if (!unknownReceivers.isEmpty()) {
      f.problem(
          "unknown receiver"
              + (unknownReceivers.size() > 1 ? "s " : " ")
              + String.join(", ", unknownReceivers)
              + " (create receivers first, or leave 'receivers' out to notify every receiver)");
    }
    f.check("alert rule" + (ruleName == null ? "" : " '" + ruleName + "'"));

    RuleType t = type;
    String sel =
        project.isPresent() && t.aboutDevices()
            ? Selector.parse(selector).and(project.get().selector()).toString()
            : selector;
    Rule rule =
        new Rule(
            Ids.next("rule"),
            name,
            t,
            sel,
            app,
            mount,
            forDuration == null ? null : text(forDuration),
            withinDuration == null ? null : text(withinDuration),
            percent,
            severity,
            receivers,
            repeatDuration == null ? null : text(repeatDuration),
            actor,
            Instant.ofEpochMilli(clock.millis()),
            project.map(ProjectScope.Project::name).orElse(null));
    jdbi.useTransaction(
        h -> {
          if (byName(h, rule.name()).isPresent()) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "an alert rule named '"
                    + rule.name()
                    + "' exists; delete it first or pick another");
          }
          h.createUpdate(
                  "INSERT INTO alert_rules (id, name, type, selector, app, mount, for_ms, within_ms,"
                      + " percent, severity, receivers, repeat_ms, created_by, created_at, project)"
                      + " VALUES (:id, :name, :type, :selector, :app, :mount, :for, :within,"
                      + " :percent, :severity, :receivers, :repeat, :by, :at, :project)")
              .bind("project", rule.project())
              .bind("id", rule.id())
              .bind("name", rule.name())
              .bind("type", rule.type().id())
              .bind("selector", rule.selector())
              .bind("app", rule.app())
              .bind("mount", rule.mount())
              .bind("for", forDuration == null ? 0L : forDuration.toMillis())
              .bind("within", withinDuration == null ? null : withinDuration.toMillis())
              .bind("percent", rule.percent())
              .bind("severity", rule.severity())
              .bind("receivers", Json.write(rule.receivers()))
              .bind("repeat", repeatDuration == null ? null : repeatDuration.toMillis())
              .bind("by", actor)
              .bind("at", rule.createdAt().toEpochMilli())
              .execute();
          Map<String, Object> detail = new LinkedHashMap<>();
          detail.put("type", rule.type().id());
          detail.put("selector", rule.selector());
          detail.put("receivers", rule.receivers());
          if (rule.project() != null) {
            detail.put("project", rule.project());
          }
          audit.record(h, actor, "alert.rule.create", rule.name(), detail);
        });
    return rule;
  }

  public List<Rule> list() {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT * FROM alert_rules ORDER BY name")
                .map((rs, ctx) -> row(rs))
                .list());
  }

  /** A rule by id or name. */
  public Rule get(String idOrName) {
    return jdbi.withHandle(h -> find(h, idOrName))
        .orElseThrow(() -> ControllerException.notFound("alert rule", idOrName));
  }

  /** Deletes a rule by id or name; its firing alerts resolve at the engine's next tick. */
  public void delete(String idOrName, String actor) {
    jdbi.useTransaction(
        h -> {
          Rule r =
              find(h, idOrName)
                  .orElseThrow(() -> ControllerException.notFound("alert rule", idOrName));
          h.createUpdate("DELETE FROM alert_rules WHERE id = :id").bind("id", r.id()).execute();
          audit.record(h, actor, "alert.rule.delete", r.name(), Map.of("type", r.type().id()));
        });
  }

  /** Names of the rules that send to this receiver by name. */
  List<String> usingReceiver(Handle h, String receiver) {
    return h
        .createQuery("SELECT * FROM alert_rules ORDER BY name")
        .map((rs, ctx) -> row(rs))
        .list()
        .stream()
        .filter(r -> r.receivers().contains(receiver))
        .map(Rule::name)
        .toList();
  }

  private Optional<Rule> find(Handle h, String idOrName) {
    return h.createQuery("SELECT * FROM alert_rules WHERE id = :v")
        .bind("v", idOrName)
        .map((rs, ctx) -> row(rs))
        .findOne()
        .or(() -> byName(h, idOrName));
  }

  private static Optional<Rule> byName(Handle h, String name) {
    return h.createQuery("SELECT * FROM alert_rules WHERE name = :v")
        .bind("v", name)
        .map((rs, ctx) -> row(rs))
        .findOne();
  }

  static Rule row(ResultSet rs) throws SQLException {
    long forMs = rs.getLong("for_ms");
    long within = rs.getLong("within_ms");
    boolean hasWithin = !rs.wasNull();
    double percent = rs.getDouble("percent");
    boolean hasPercent = !rs.wasNull();
    long repeat = rs.getLong("repeat_ms");
    boolean hasRepeat = !rs.wasNull();
    RuleType type = RuleType.parse(rs.getString("type"));
    return new Rule(
        rs.getString("id"),
        rs.getString("name"),
        type,
        rs.getString("selector"),
        rs.getString("app"),
        rs.getString("mount"),
        forMs == 0 && type != RuleType.DEVICE_OFFLINE ? null : text(Duration.ofMillis(forMs)),
        hasWithin ? text(Duration.ofMillis(within)) : null,
        hasPercent ? percent : null,
        rs.getString("severity"),
        names(rs.getString("receivers")),
        hasRepeat ? text(Duration.ofMillis(repeat)) : null,
        rs.getString("created_by"),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        rs.getString("project"));
  }

  static List<String> names(String json) {
    try {
      return Json.mapper().readValue(json, new TypeReference<List<String>>() {});
    } catch (java.io.IOException e) {
      throw new IllegalStateException("stored receiver list is not JSON: " + json, e);
    }
  }

  private static Duration parse(Fields f, String field, String text) {
    if (text == null) {
      return null;
    }
    try {
      return Durations.parse(text);
    } catch (IllegalArgumentException e) {
      f.problem(field + ": " + e.getMessage());
      return null;
    }
  }

  /** Parses a stored duration text. */
  static Duration duration(String field, String text) {
    return Durations.parse(text);
  }

  /**
   * The exact duration in its largest whole unit: {@code 2s}, {@code 90s}, {@code 30d}, {@code
   * 1500ms}.
   */
  static String text(Duration d) {
    long ms = d.toMillis();
    if (ms == 0) {
      return "0s";
    }
    if (ms % 86_400_000 == 0) {
      return ms / 86_400_000 + "d";
    }
    if (ms % 3_600_000 == 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms % 60_000 == 0) {
      return ms / 60_000 + "m";
    }
    if (ms % 1000 == 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
