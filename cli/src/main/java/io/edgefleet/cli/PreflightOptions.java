package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.SequencedMap;
import picocli.CommandLine.Option;

/**
 * {@code --dry-run} and {@code --force} of the verbs the controller checks before it starts: a dry
 * run shows what would change and changes nothing; {@code --force} starts although the check found
 * problems.
 */
final class PreflightOptions {
  @Option(
      names = "--dry-run",
      description = "Show what would change, per device, and change nothing.")
  boolean dryRun;

  @Option(
      names = "--force",
      description =
          "Start even though the controller's checks found problems (a target matching no"
              + " device, devices missing a tag the values use, an unreachable repository).")
  boolean force;

  /** The path with {@code ?dryRun=true} for a dry run. */
  String path(String path) {
    return dryRun ? path + "?dryRun=true" : path;
  }

  /** Adds {@code force} to a request body when asked for. */
  ObjectNode body(ObjectNode body) {
    if (force) {
      body.put("force", true);
    }
    return body;
  }

  /** A repository check ({@code repos add --dry-run}) for a person. */
  static String check(JsonNode c) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Name", c.path("name").asText());
    f.put("URL", c.path("url").asText());
    f.put("Branch", c.path("branch").asText());
    f.put("Commit", Formats.revision(c.path("commit").asText()));
    if (!c.path("hostKeyFingerprint").asText("").isEmpty()) {
      f.put("SSH host key", c.path("hostKeyFingerprint").asText() + " (would be pinned)");
    }
    return Table.fields(f) + "\nDry run: the repository answers; nothing was added.\n";
  }

  /** A deployment plan ({@code ?dryRun=true} answer) for a person. */
  static String plan(JsonNode p) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Deployment", p.path("deployment").asText());
    String from = p.path("fromVersion").asText("");
    String to = p.path("app").asText() + "@" + p.path("version").asText();
    f.put("App", from.isEmpty() ? to : p.path("app").asText() + "@" + from + " → " + to);
    String fromRevision = p.path("fromRevision").asText("");
    f.put(
        "Revision",
        (fromRevision.isEmpty() ? "" : Formats.revision(fromRevision) + " → ")
            + Formats.revision(p.path("revision").asText()));
    String target = p.path("target").asText("");
    f.put(
        "Target",
        (target.isBlank() ? "*" : target)
            + " ("
            + p.path("targeted").asInt()
            + " of "
            + p.path("activeDevices").asInt()
            + " active device(s))");
    f.put("Rollout policy", p.path("policy").asText());
    f.put(
        "Rollout",
        p.path("startsRollout").asBoolean()
            ? "would start"
            : "none would start: the deployment already names this revision");
    StringBuilder batches = new StringBuilder();
    for (JsonNode b : p.path("batches")) {
      if (!batches.isEmpty()) {
        batches.append(", ");
      }
      batches.append(b.path("name").asText()).append(' ').append(b.path("devices").asInt());
    }
    f.put("Batches", batches.toString());
    StringBuilder changes = new StringBuilder();
    p.path("changes")
        .properties()
        .forEach(
            e -> {
              if (e.getValue().asInt() > 0) {
                if (!changes.isEmpty()) {
                  changes.append(", ");
                }
                changes
                    .append(e.getValue().asInt())
                    .append(' ')
                    .append(e.getKey().toLowerCase(Locale.ROOT));
              }
            });
    f.put("Devices", changes.isEmpty() ? "none" : changes.toString());
    int configurations = p.path("configurations").asInt();
    int rendered = p.path("rendered").asInt();
    f.put(
        "Rendered",
        rendered
            + " of "
            + configurations
            + " distinct configuration(s)"
            + (rendered < configurations
                ? "; the others render when their devices are released"
                : ""));
    StringBuilder out = new StringBuilder(Table.fields(f));
    JsonNode problems = p.path("problems");
    if (problems.isEmpty()) {
      out.append("\nNo problem found.\n");
    } else {
      out.append("\nProblems:\n");
      for (JsonNode x : problems) {
        StringBuilder line = new StringBuilder();
        int devices = x.path("devices").asInt();
        if (devices > 0) {
          StringBuilder examples = new StringBuilder();
          x.path("examples")
              .forEach(e -> examples.append(examples.isEmpty() ? "" : ", ").append(e.asText()));
          int more = devices - x.path("examples").size();
          line.append(devices)
              .append(" device(s) (")
              .append(examples)
              .append(more > 0 ? " and " + more + " more" : "")
              .append("): ");
        }
        line.append(x.path("message").asText());
        out.append(Table.wrap("  - ", line.toString(), Screen.current()));
      }
    }
    Table t = new Table("device", "name", "batch", "running", "change", "why");
    for (JsonNode d : p.path("devices")) {
      t.row(
          d.path("device").asText(),
          d.path("name").asText(""),
          d.path("batch").asText(),
          Formats.revision(d.path("running").asText("")),
          d.path("action").asText().toLowerCase(Locale.ROOT),
          d.path("problem").asText(""));
    }
    out.append('\n').append(t.render());
    int notListed = p.path("devicesNotListed").asInt();
    if (notListed > 0) {
      out.append("… and ").append(notListed).append(" more device(s); -o json has the counts\n");
    }
    out.append("\nDry run: nothing was changed.\n");
    return out.toString();
  }
}
