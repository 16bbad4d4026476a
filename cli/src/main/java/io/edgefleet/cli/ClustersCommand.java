package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.Durations;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet clusters …}: K3s clusters the controller forms from tagged devices. */
@Command(
    name = "clusters",
    description = {
      "Create, change, inspect and retire K3s clusters formed from the devices a selector picks.",
      "The controller waits for the minimum of servers, makes the first one initialise etcd,"
          + " joins the others one at a time, then agents; it replaces members that are untagged,"
          + " decommissioned or offline past the grace, without breaking etcd quorum.",
      "Example: edgefleet clusters create store-1 --select clusterpool=SJC_Store_1 --servers 3..3"
          + " --agents 0..2 --kubernetes v1.20.2+k3s1"
    },
    subcommands = {
      ClustersCommand.Create.class,
      ClustersCommand.ListClusters.class,
      ClustersCommand.Get.class,
      ClustersCommand.Update.class,
      ClustersCommand.Deactivate.class,
      ClustersCommand.Delete.class,
      ClustersCommand.RotateToken.class
    })
final class ClustersCommand {
  static final String CLUSTERS = "/api/v1/clusters";

  private static final Pattern RANGE = Pattern.compile("(\\d{1,4})(?:\\.\\.(\\d{1,4}))?");

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  /** A count range {@code MIN..MAX} or one number for both. */
  record Range(int min, int max) {
    static Range parse(String text, String option) {
      Matcher m = RANGE.matcher(text.strip());
      if (!m.matches()) {
        throw new IllegalArgumentException(
            option + " takes MIN..MAX or one number (for example 3..5 or 3), got '" + text + "'");
      }
      int min = Integer.parseInt(m.group(1));
      int max = m.group(2) == null ? min : Integer.parseInt(m.group(2));
      if (max < min) {
        throw new IllegalArgumentException(
            option + " " + text + ": the maximum is below the minimum; give MIN..MAX");
      }
      return new Range(min, max);
    }
  }

  /** The settings create and update share. */
  abstract static class Settings extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Cluster name (a DNS label, e.g. store-1).")
    String name;

    @Option(
        names = "--select",
        paramLabel = "SELECTOR",
        description = "The devices that may be members, as a tag selector (clusterpool=sjc-1).")
    String selector;

    @Option(
        names = "--servers",
        paramLabel = "MIN..MAX",
        description = "How many servers (etcd members): odd numbers, e.g. 1..1, 3..3 or 3..5.")
    String servers;

    @Option(
        names = "--agents",
        paramLabel = "MIN..MAX",
        description = "How many agents (worker nodes), e.g. 0..2.")
    String agents;

    @Option(
        names = "--kubernetes",
        paramLabel = "VERSION",
        description =
            "The K3s version to run, e.g. v1.20.2+k3s1; push its binary with 'edgefleet"
                + " artifacts push'.")
    String kubernetes;

    @Option(
        names = "--profile",
        paramLabel = "NAME[@N]",
        description = "The profile the cluster follows; NAME@N pins version N.")
    String profile;

    @Option(
        names = "--label",
        paramLabel = "KEY=VALUE",
        converter = Converters.Tag.class,
        description = "A Kubernetes label for every node; repeatable.")
    List<Tags.Tag> labels = new ArrayList<>();

    @Option(
        names = "--grace",
        paramLabel = "DURATION",
        converter = Converters.DurationText.class,
        description = "How long a member may be offline before it is replaced (default: 5m).")
    String grace;

    @Option(
        names = "--import-url",
        paramLabel = "URL",
        description = "A manifest to apply once the cluster is ready (import into a manager).")
    String importUrl;

    Range serverRange;
    Range agentRange;

    @Override
    void validate() {
      try {
        serverRange = servers == null ? null : Range.parse(servers, "--servers");
        agentRange = agents == null ? null : Range.parse(agents, "--agents");
      } catch (IllegalArgumentException e) {
        throw badInput(e.getMessage());
      }
    }

    /** The request body: only what was given. */
    ObjectNode body() {
      ObjectNode body = object();
      if (selector != null) {
        body.put("selector", selector);
      }
      if (serverRange != null) {
        body.putObject("servers").put("min", serverRange.min()).put("max", serverRange.max());
      }
      if (agentRange != null) {
        body.putObject("agents").put("min", agentRange.min()).put("max", agentRange.max());
      }
      if (kubernetes != null) {
        body.put("kubernetesVersion", kubernetes);
      }
      if (profile != null) {
        body.put("profile", profile);
      }
      if (!labels.isEmpty()) {
        ObjectNode l = body.putObject("labels");
        tagMap(labels).forEach(l::put);
      }
      if (grace != null) {
        Duration d = Durations.parse(grace);
        body.put("graceSeconds", d.toSeconds());
      }
      if (importUrl != null) {
        body.put("importManifestUrl", importUrl);
      }
      return body;
    }
  }

  @Command(
      name = "create",
      description = {
        "Create a cluster: the controller forms it from the devices --select picks.",
        "Example: edgefleet clusters create store-1 --select clusterpool=SJC_Store_1 --servers"
            + " 3..3 --agents 0..2 --kubernetes v1.20.2+k3s1 --label site=sjc"
      })
  static final class Create extends Settings {
    @Mixin ProjectOption project;

    @Override
    void validate() {
      super.validate();
      if (selector == null || servers == null) {
        throw badInput(
            "give the devices with --select SELECTOR and the servers with --servers MIN..MAX");
      }
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = body();
      body.put("name", name);
      if (!body.has("agents")) {
        body.putObject("agents").put("min", 0).put("max", 0);
      }
      JsonNode c = api.post(project.path(CLUSTERS), body);
      print(c, () -> details(c, now()));
    }
  }

  @Command(
      name = "update",
      description = {
        "Change a cluster's settings; only what is given changes. Members follow one change at a"
            + " time (a new Kubernetes version rolls node by node, servers first).",
        "--activate lets the controller manage a deactivated cluster again."
      })
  static final class Update extends Settings {
    @Option(names = "--activate", description = "Resume a deactivated cluster.")
    boolean activate;

    @Override
    void validate() {
      super.validate();
      if (body().isEmpty() && !activate) {
        throw badInput(
            "nothing to change: give --select, --servers, --agents, --kubernetes, --profile,"
                + " --label, --grace, --import-url or --activate");
      }
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = body();
      if (activate) {
        body.put("deactivated", false);
      }
      JsonNode c = api.patch(path(name), body);
      print(c, () -> details(c, now()));
    }
  }

  @Command(name = "list", description = "Every cluster: state, servers, agents, version, why.")
  static final class ListClusters extends TokenCommand {
    @Mixin ProjectOption project;

    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(project.path(CLUSTERS)).path("items");
      printItems(items, () -> table(items));
    }
  }

  @Command(
      name = "get",
      description = "One cluster: its settings, state and reasons, members, etcd quorum health.")
  static final class Get extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Cluster name.")
    String name;

    @Override
    void run(ControllerClient api) {
      JsonNode c = api.get(path(name));
      print(c, () -> details(c, now()));
    }
  }

  @Command(
      name = "deactivate",
      description =
          "Stop the controller from changing a cluster: members keep running what they run;"
              + " 'update --activate' resumes.")
  static final class Deactivate extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Cluster name.")
    String name;

    @Override
    void run(ControllerClient api) {
      JsonNode c = api.post(path(name) + "/deactivate", object());
      print(c, () -> details(c, now()));
    }
  }

  @Command(
      name = "delete",
      description =
          "Delete a cluster: every member stops K3s and removes its data; the devices stay.")
  static final class Delete extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Parameters(paramLabel = "NAME", description = "Cluster name.")
    String name;

    @Override
    public String question() {
      return "Delete cluster " + name + "? Every member stops K3s and wipes its cluster data.";
    }

    @Override
    void run(ControllerClient api) {
      api.delete(path(name));
      if (!json()) {
        out().println("deleted cluster " + name);
      }
    }
  }

  @Command(
      name = "rotate-token",
      description =
          "Give the cluster a new join token; members fetch it with their next desired state.")
  static final class RotateToken extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Cluster name.")
    String name;

    @Override
    void run(ControllerClient api) {
      JsonNode c = api.post(path(name) + "/rotate-token", object());
      print(
          c,
          () ->
              "cluster "
                  + Formats.text(c, "name")
                  + " now has join token version "
                  + Formats.text(c, "tokenVersion")
                  + "\n");
    }
  }

  static String path(String name) {
    return CLUSTERS + "/" + ControllerClient.segment(name);
  }

  private static long count(JsonNode c, String role) {
    long n = 0;
    for (JsonNode m : c.path("members")) {
      if (role.equals(m.path("role").asText()) && !m.path("removing").asBoolean()) {
        n++;
      }
    }
    return n;
  }

  /** Members in the role and the range wanted, e.g. {@code 2 (3..3)}. */
  private static String shape(JsonNode c, String role, String range) {
    JsonNode r = c.path(range);
    return count(c, role) + " (" + Formats.text(r, "min") + ".." + Formats.text(r, "max") + ")";
  }

  static String table(JsonNode items) {
    boolean projects = ProjectOption.any(items);
    Table t =
        new Table(
            ProjectOption.headers(
                projects, "name", "state", "servers", "agents", "kubernetes", "profile", "reason"));
    for (JsonNode c : items) {
      t.row(
          ProjectOption.cells(
              projects,
              c,
              Formats.text(c, "name"),
              Formats.text(c, "state"),
              Formats.text(c, "servers") + " (" + Formats.text(c, "serversWanted") + ")",
              Formats.text(c, "agents") + " (" + Formats.text(c, "agentsWanted") + ")",
              Formats.text(c, "kubernetesVersion"),
              Formats.text(c, "profile"),
              Formats.text(c, "reason")));
    }
    return t.render();
  }

  static String details(JsonNode c, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Name", Formats.text(c, "name"));
    f.put("State", Formats.text(c, "state"));
    if (!c.path("project").asText("").isEmpty()) {
      f.put("Project", Formats.text(c, "project") + " (its selector is part of the selector)");
    }
    f.put("Selector", Formats.text(c, "selector"));
    f.put("Servers", shape(c, "server", "servers"));
    f.put("Agents", shape(c, "agent", "agents"));
    JsonNode k = c.path("kubernetes");
    String running = k.path("running").isArray() ? joined(k.path("running")) : "";
    f.put(
        "Kubernetes",
        Formats.text(c, "kubernetesVersion")
            + (running.isEmpty() ? "" : " (running: " + running + ")"));
    f.put("Profile", profile(c));
    List<String> labels = new ArrayList<>();
    c.path("labels")
        .properties()
        .forEach(e -> labels.add(e.getKey() + "=" + e.getValue().asText()));
    f.put("Labels", String.join(", ", labels));
    f.put("Grace", Formats.text(c, "graceSeconds") + "s");
    if (!Formats.text(c, "importManifestUrl").isEmpty()) {
      f.put("Import", Formats.text(c, "importManifestUrl") + " (" + importState(c) + ")");
    }
    f.put("Token", "version " + Formats.text(c, "tokenVersion"));
    f.put("Applier", applier(c));
    JsonNode etcd = c.path("etcd");
    if (!etcd.isMissingNode() && etcd.path("voters").asInt() > 0) {
      f.put(
          "Etcd",
          etcd.path("healthyVoters").asInt()
              + " of "
              + etcd.path("voters").asInt()
              + " voters healthy, quorum "
              + etcd.path("quorum").asInt()
              + (etcd.path("quorumAtRisk").asBoolean() ? " (AT RISK)" : ""));
    }
    StringBuilder out = new StringBuilder(Table.fields(f));
    JsonNode reasons = c.path("reasons");
    if (!reasons.isEmpty()) {
      out.append("\nReasons:\n");
      reasons.forEach(r -> out.append("  - ").append(r.asText()).append('\n'));
    }
    JsonNode members = c.path("members");
    if (!members.isEmpty()) {
      out.append("\nMembers:\n");
      Table t =
          new Table("node", "role", "phase", "ready", "kubernetes", "etcd", "address", "reported");
      for (JsonNode m : members) {
        String role = Formats.text(m, "role") + (m.path("init").asBoolean() ? " (init)" : "");
        t.row(
            Formats.text(m, "nodeName"),
            m.path("removing").asBoolean() ? role + ", leaving" : role,
            Formats.text(m, "phase"),
            Formats.text(m, "ready"),
            Formats.text(m, "kubernetesVersion"),
            m.path("etcdMember").asBoolean() ? "member" : "",
            Formats.text(m, "address"),
            m.path("lastReportSeconds").isNumber()
                ? Formats.relative(now.minusSeconds(m.path("lastReportSeconds").asLong()), now)
                : "");
      }
      out.append(t.render());
    }
    return out.toString();
  }

  /** The profile the cluster follows: the revision it should run and the one it runs. */
  private static String profile(JsonNode c) {
    JsonNode v = c.path("profileVersions");
    String wanted = v.path("wanted").asText("");
    String running = v.path("running").isArray() ? joined(v.path("running")) : "";
    if (wanted.isEmpty()) {
      return Formats.text(c, "profile");
    }
    return wanted + (running.isEmpty() ? "" : " (running: " + running + ")");
  }

  private static String applier(JsonNode c) {
    String id = Formats.text(c, "applier");
    if (id.isEmpty()) {
      return "";
    }
    for (JsonNode m : c.path("members")) {
      if (id.equals(m.path("deviceId").asText())) {
        return Formats.text(m, "nodeName") + " (" + id + ")";
      }
    }
    return id;
  }

  private static String joined(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return String.join(", ", out);
  }

  /** Where the import stands: pending, fetched, or why the last fetch failed. */
  static String importState(JsonNode c) {
    JsonNode s = c.path("importStatus");
    return switch (s.path("state").asText("PENDING")) {
      case "FETCHED" -> "fetched, applied by the applier as the app cluster-import";
      case "FAILED" ->
          "fetch failed: "
              + s.path("error").asText()
              + "; next try at "
              + s.path("nextAttemptAt").asText()
              + (s.path("digest").isTextual() ? "; the manifest fetched before stays" : "");
      default -> "pending: fetched once the cluster is up";
    };
  }
}
