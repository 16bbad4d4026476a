package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.ByteSizes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code edgefleet download-policies …}: when and how much devices may download artifacts
 * (container images, VM disks, agent releases).
 */
@Command(
    name = "download-policies",
    description = {
      "List, set and delete download policies: when (daily windows in a time zone) and how much"
          + " (bytes per day) the devices a selector picks may download artifacts.",
      "The policy of highest priority that picks a device applies to it; a device no policy picks"
          + " downloads at any time without a budget. Desired states and bundles always travel."
    },
    subcommands = {
      DownloadPoliciesCommand.ListPolicies.class,
      DownloadPoliciesCommand.Set.class,
      DownloadPoliciesCommand.Delete.class
    })
final class DownloadPoliciesCommand {
  static final String POLICIES = "/api/v1/download-policies";

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "list",
      description =
          "Every download policy, in the order they are matched (highest priority first).")
  static final class ListPolicies extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(POLICIES).path("items");
      printItems(items, () -> table(items, now()));
    }
  }

  @Command(
      name = "set",
      description = {
        "Create or replace a download policy.",
        "Example: edgefleet download-policies set satellite --selector link=satellite --budget"
            + " 200MiB --window 22:00-06:00 --zone Europe/Berlin --priority 10"
      })
  static final class Set extends TokenCommand {
    @Parameters(
        paramLabel = "NAME",
        description = "Policy name: lower case letters, digits and '-', at most 63.")
    String name;

    @Option(
        names = "--selector",
        paramLabel = "SELECTOR",
        description =
            "Devices the policy picks, as a tag selector (link=satellite); '*' (default) for every device.")
    String selector = "*";

    @Option(
        names = "--budget",
        paramLabel = "SIZE",
        description = "Most bytes per day, e.g. 200MiB or 1.5GiB; 0 (default) for no budget.")
    String budget = "0";

    @Option(
        names = "--window",
        paramLabel = "HH:MM-HH:MM",
        description =
            "A daily window when downloads may run (22:00-06:00 wraps past midnight); repeatable."
                + " None: at any time.")
    List<String> windows = new ArrayList<>();

    @Option(
        names = "--zone",
        paramLabel = "ZONE",
        description = "IANA time zone of the windows and of the budget's day (default UTC).")
    String zone = "UTC";

    @Option(
        names = "--priority",
        paramLabel = "N",
        description =
            "The highest priority among the policies picking a device applies (default 0).")
    int priority;

    @Option(names = "--description", paramLabel = "TEXT", description = "What the policy is for.")
    String description;

    private long bytesPerDay;

    @Override
    void validate() {
      try {
        bytesPerDay = ByteSizes.parse(budget);
      } catch (IllegalArgumentException e) {
        throw badInput("--budget: " + e.getMessage());
      }
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object();
      body.put("selector", selector);
      body.put("bytesPerDay", bytesPerDay);
      ArrayNode w = body.putArray("windows");
      windows.forEach(w::add);
      body.put("zone", zone);
      body.put("priority", priority);
      if (description != null) {
        body.put("description", description);
      }
      JsonNode p = api.put(POLICIES + "/" + ControllerClient.segment(name), body);
      print(p, () -> details(p, now()));
    }
  }

  @Command(
      name = "delete",
      description =
          "Delete a download policy: its devices fall back to the next policy that picks them.")
  static final class Delete extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Parameters(paramLabel = "NAME", description = "Policy name.")
    String name;

    @Override
    public String question() {
      return "Delete download policy " + name + "? Its devices fall back to the next policy.";
    }

    @Override
    void run(ControllerClient api) {
      api.delete(POLICIES + "/" + ControllerClient.segment(name));
      if (!json()) {
        out().println("deleted download policy " + name);
      }
    }
  }

  /** {@code 200 MiB/day}, or {@code no budget}. */
  static String budget(JsonNode p) {
    long b = p.path("bytesPerDay").asLong();
    return b == 0 ? "no budget" : ByteSizes.human(b) + "/day";
  }

  /** {@code 22:00-06:00 Europe/Berlin}, or {@code any time}. */
  static String windows(JsonNode p) {
    List<String> w = new ArrayList<>();
    p.path("windows").forEach(n -> w.add(n.asText()));
    return w.isEmpty() ? "any time" : String.join(",", w) + " " + Formats.text(p, "zone");
  }

  static String table(JsonNode items, Instant now) {
    Table t = new Table("name", "priority", "selector", "budget", "windows", "updated");
    for (JsonNode p : items) {
      t.row(
          Formats.text(p, "name"),
          Formats.text(p, "priority"),
          Formats.text(p, "selector"),
          budget(p),
          windows(p),
          Formats.relative(p, "updatedAt", now));
    }
    return t.render();
  }

  static String details(JsonNode p, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Name", Formats.text(p, "name"));
    f.put("Selector", Formats.text(p, "selector"));
    f.put("Budget", budget(p));
    f.put("Windows", windows(p));
    f.put("Priority", Formats.text(p, "priority"));
    f.put("Description", Formats.text(p, "description"));
    f.put(
        "Updated", Formats.timestamp(p, "updatedAt", now) + " by " + Formats.text(p, "updatedBy"));
    return Table.fields(f);
  }
}
