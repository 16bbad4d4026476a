package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code edgefleet fleet …}: the fleet at a glance. */
@Command(
    name = "fleet",
    description =
        "The fleet at a glance: how many devices are operational, and where the rest are.",
    subcommands = {FleetCommand.Summary.class})
final class FleetCommand {
  static final String SUMMARY = "/api/v1/fleet/summary";

  /** The status counts of the summary, in the order the table shows them. */
  static final List<String[]> STATUSES =
      List.of(
          new String[] {"online", "online"},
          new String[] {"degraded", "degraded"},
          new String[] {"error", "error"},
          new String[] {"offline", "offline"},
          new String[] {"never seen", "neverSeen"},
          new String[] {"pending", "pending"},
          new String[] {"rejected", "rejected"},
          new String[] {"decommissioned", "decommissioned"});

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "summary",
      description = {
        "Counts of devices per status and one sentence saying what they mean.",
        "Operational: ONLINE or DEGRADED. In maintenance: tagged maintenance-mode=true (whatever"
            + " the status). Updating: operational and still converging on a new desired state."
      })
  static final class Summary extends TokenCommand {
    @Option(
        names = "--selector",
        paramLabel = "SELECTOR",
        description =
            "Only devices whose tags match, e.g. region=eu,role!=spare; '*' or '' for every"
                + " device.")
    String selector;

    @Option(
        names = "--by",
        paramLabel = "TAGKEY",
        converter = Converters.TagKey.class,
        description = "One row per value of this tag, e.g. --by site.")
    String by;

    @Override
    void run(ControllerClient api) {
      StringBuilder q = new StringBuilder(SUMMARY);
      char sep = '?';
      if (selector != null) {
        q.append(sep).append("selector=").append(ControllerClient.segment(selector));
        sep = '&';
      }
      if (by != null) {
        q.append(sep).append("by=").append(ControllerClient.segment(by));
      }
      JsonNode summary = api.get(q.toString());
      print(summary, () -> render(summary));
    }
  }

  /** The sentence, then the counts per status, or with groups one row per tag value. */
  static String render(JsonNode s) {
    StringBuilder out = new StringBuilder();
    if (s.hasNonNull("selector")) {
      out.append("Devices matching ").append(Formats.text(s, "selector")).append(": ");
    }
    out.append(Formats.text(s, "sentence")).append(".\n\n");
    if (!s.hasNonNull("by")) {
      Table t = new Table("status", "devices");
      for (String[] st : STATUSES) {
        t.row(st[0], number(s, st[1]));
      }
      return out.append(t.render()).append(agents(s)).toString();
    }
    Table t =
        new Table(
            Formats.text(s, "by"),
            "devices",
            "operational",
            "online",
            "degraded",
            "error",
            "offline",
            "never seen",
            "maintenance",
            "updating");
    for (JsonNode g : s.path("groups")) {
      t.row(
          Formats.text(g, "value"),
          number(g, "enrolled"),
          percent(g),
          number(g, "online"),
          number(g, "degraded"),
          number(g, "error"),
          number(g, "offline"),
          number(g, "neverSeen"),
          number(g, "maintenance"),
          number(g, "updating"));
    }
    return out.append(t.render()).append(agents(s)).toString();
  }

  /** How many devices run each agent version, newest-looking last; empty when none said. */
  static String agents(JsonNode s) {
    JsonNode versions = s.path("agentVersions");
    if (versions.isEmpty()) {
      return "";
    }
    Table t = new Table("agent", "devices");
    versions.properties().forEach(e -> t.row(e.getKey(), String.valueOf(e.getValue().asInt())));
    return "\n" + t.render();
  }

  private static String number(JsonNode node, String field) {
    return String.format(Locale.ROOT, "%,d", node.path(field).asLong());
  }

  private static String percent(JsonNode g) {
    if (g.path("enrolled").asInt() == 0) {
      return "-";
    }
    double p = g.path("operationalPercent").asDouble();
    return p == Math.rint(p)
        ? String.format(Locale.ROOT, "%d %%", (long) p)
        : String.format(Locale.ROOT, "%.1f %%", p);
  }
}
