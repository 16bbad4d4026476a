package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code edgefleet profiles …}: layered cluster profiles, their immutable versions and what a new
 * version changes.
 */
@Command(
    name = "profiles",
    description = "Create, publish, list, show and compare layered cluster profiles.",
    subcommands = {
      ProfilesCommand.Create.class,
      ProfilesCommand.Publish.class,
      ProfilesCommand.ListProfiles.class,
      ProfilesCommand.Get.class,
      ProfilesCommand.Diff.class
    })
final class ProfilesCommand {
  static final String PROFILES = "/api/v1/profiles";

  /** Larger than any sensible profile file. */
  static final int MAX_FILE_BYTES = 256 * 1024;

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  static String path(String name) {
    return PROFILES + "/" + ControllerClient.segment(name);
  }

  /** A profile reference {@code NAME} or {@code NAME@N}. */
  record Ref(String name, Integer version) {
    static Ref parse(String text, ApiCommand command) {
      String t = text.strip();
      int at = t.lastIndexOf('@');
      if (at < 0) {
        return new Ref(t, null);
      }
      String v = t.substring(at + 1);
      try {
        int n = Integer.parseInt(v);
        if (at == 0 || n < 1) {
          throw new NumberFormatException();
        }
        return new Ref(t.substring(0, at), n);
      } catch (NumberFormatException e) {
        throw command.badInput(
            "'" + text + "' is not a profile version: write NAME@N with N a number, like base@2");
      }
    }
  }

  /**
   * The profile file: a YAML (or JSON) mapping with {@code layers} and optionally {@code
   * description}, {@code selector} and {@code rollout}.
   */
  static ObjectNode readFile(Path file, ApiCommand command) {
    JsonNode doc;
    try {
      if (Files.size(file) > MAX_FILE_BYTES) {
        throw command.badInput("profile file " + file + " is larger than 256 KiB");
      }
      doc = YAML.readTree(Files.readString(file));
    } catch (IOException e) {
      throw command.badInput("cannot read profile file " + file + ": " + Formats.problem(e));
    }
    if (doc == null || !doc.isObject()) {
      throw command.badInput(
          "profile file "
              + file
              + " must be a mapping with 'layers': a list of {name, kind, ...} (see `profiles"
              + " create --help`)");
    }
    ObjectNode o = (ObjectNode) doc;
    JsonNode layers = o.path("layers");
    if (!layers.isArray() || layers.isEmpty()) {
      throw command.badInput(
          "profile file " + file + " has no 'layers': give a list of {name, kind, ...} layers");
    }
    for (String field : iterable(o)) {
      if (!field.equals("layers")
          && !field.equals("description")
          && !field.equals("selector")
          && !field.equals("rollout")) {
        throw command.badInput(
            "profile file "
                + file
                + ": unknown key '"
                + field
                + "' (allowed: layers, description, selector, rollout)");
      }
    }
    JsonNode rollout = o.path("rollout");
    if (!rollout.isMissingNode() && !rollout.isNull() && !rollout.isTextual()) {
      // A policy written as a mapping in the file: sent as its text (JSON is YAML too).
      o.put("rollout", rollout.toString());
    }
    return o;
  }

  private static Iterable<String> iterable(ObjectNode o) {
    java.util.List<String> names = new java.util.ArrayList<>();
    o.fieldNames().forEachRemaining(names::add);
    return names;
  }

  @Command(
      name = "create",
      description = {
        "Create a profile for the clusters --select matches, from a profile file.",
        "The file (YAML or JSON) lists the layers in the order they are applied:",
        "  layers:",
        "    - {name: k3s, kind: kubernetes, kubernetesVersion: v1.20.2+k3s1,"
            + " config: {disable: [traefik]}}",
        "    - {name: cni, kind: networking, app: calico, version: 3.20.0, values: {}}",
        "Kinds: kubernetes, networking, storage, addon, app. With layers, version 1 is"
            + " published at once."
      })
  static final class Create extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Profile name (a DNS label).")
    String name;

    @Option(
        names = "--select",
        paramLabel = "SELECTOR",
        description =
            "Clusters that follow the profile: a selector over cluster labels and 'name', such"
                + " as 'env=prod' or 'name in (store-1,store-2)'; '*' for every cluster (default:"
                + " the file's 'selector').")
    String select;

    @Option(
        names = {"-f", "--file"},
        paramLabel = "PROFILE.yaml",
        description = "Profile file with the layers of version 1.")
    Path file;

    @Option(names = "--description", paramLabel = "TEXT", description = "What the profile is for.")
    String description;

    @Option(
        names = "--rollout",
        paramLabel = "POLICY.yaml",
        description = "Rollout policy of version 1 (canary, waves, windows, thresholds).")
    Path rollout;

    private ObjectNode body;

    @Override
    void validate() {
      body = file == null ? object() : readFile(file, this);
      if (select != null) {
        body.put("selector", select.strip());
      }
      if (!body.hasNonNull("selector")) {
        throw badInput(
            "give the clusters the profile is for: --select 'env=prod' (or '*' for every"
                + " cluster)");
      }
      if (description != null) {
        body.put("description", description);
      }
      String policy = DeployCommand.readPolicy(rollout, this);
      if (policy != null) {
        body.put("rollout", policy);
      }
      body.put("name", name);
    }

    @Override
    void run(ControllerClient api) {
      JsonNode p = api.post(PROFILES, body);
      print(p, () -> details(p, now()));
      JsonNode r = p.path("latestRollout");
      if (!r.isMissingNode() && !r.isNull()) {
        note("follow it with: edgefleet rollouts status " + r.path("id").asText());
      } else if (file == null) {
        note("publish its first version with: edgefleet profiles publish " + name + " -f FILE");
      }
    }
  }

  @Command(
      name = "publish",
      description = {
        "Publish the next version of a profile and roll it out to the clusters following it.",
        "Versions never change; the rollout (--rollout POLICY.yaml or the file's 'rollout')"
            + " reaches canary clusters first, then the waves."
      })
  static final class Publish extends TokenCommand {
    @Parameters(
        paramLabel = "NAME[@N]",
        description = "Profile; NAME@N publishes version N (default: the next).")
    String ref;

    @Option(
        names = {"-f", "--file"},
        required = true,
        paramLabel = "PROFILE.yaml",
        description = "Profile file with the version's layers.")
    Path file;

    @Option(
        names = "--rollout",
        paramLabel = "POLICY.yaml",
        description = "Rollout policy: canary, waves, maintenance windows, thresholds, rollback.")
    Path rollout;

    private Ref profile;
    private ObjectNode body;

    @Override
    void validate() {
      profile = Ref.parse(ref, this);
      ObjectNode f = readFile(file, this);
      body = object();
      body.set("layers", f.path("layers"));
      if (profile.version() != null) {
        body.put("version", profile.version());
      }
      String policy = DeployCommand.readPolicy(rollout, this);
      if (policy != null) {
        body.put("rollout", policy);
      } else if (f.hasNonNull("rollout")) {
        body.put("rollout", f.path("rollout").asText());
      }
    }

    @Override
    void run(ControllerClient api) {
      JsonNode v = api.post(path(profile.name()) + "/versions", body);
      print(v, () -> versionDetails(v, now()));
      note(
          "follow the rollout with: edgefleet profiles get "
              + profile.name()
              + " (or edgefleet rollouts list)");
    }
  }

  @Command(name = "list", description = "List profiles with their newest version and rollout.")
  static final class ListProfiles extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(PROFILES).path("items");
      printItems(
          items,
          () -> {
            Table t = new Table("name", "selector", "version", "versions", "rollout", "state");
            for (JsonNode p : items) {
              JsonNode r = p.path("latestRollout");
              t.row(
                  p.path("name").asText(),
                  p.path("selector").asText("*").isBlank() ? "*" : p.path("selector").asText(),
                  p.path("latestVersion").isNumber() ? p.path("latestVersion").asText() : "-",
                  p.path("versions").asText(),
                  r.path("id").asText(""),
                  r.path("state").asText(""));
            }
            return t.render();
          });
    }
  }

  @Command(
      name = "get",
      description = "Show a profile (versions, clusters, rollout) or, with NAME@N, its layers.")
  static final class Get extends TokenCommand {
    @Parameters(paramLabel = "NAME[@N]", description = "Profile, or one version of it.")
    String ref;

    @Override
    void run(ControllerClient api) {
      Ref r = Ref.parse(ref, this);
      if (r.version() == null) {
        JsonNode p = api.get(path(r.name()));
        print(p, () -> details(p, now()));
      } else {
        JsonNode v = api.get(path(r.name()) + "/versions/" + r.version());
        print(v, () -> versionDetails(v, now()));
      }
    }
  }

  @Command(
      name = "diff",
      description = {
        "What changes from one version of a profile to another, per layer.",
        "With --cluster, also the cluster's rendered manifests as a unified diff and whether its"
            + " nodes restart."
      })
  static final class Diff extends TokenCommand {
    @Parameters(
        index = "0",
        paramLabel = "NAME@FROM",
        description = "The version now, e.g. base@1.")
    String from;

    @Parameters(
        index = "1",
        paramLabel = "[NAME@]TO",
        description = "The version to compare with, e.g. base@2 (or just 2).")
    String to;

    @Option(
        names = "--cluster",
        paramLabel = "CLUSTER",
        description = "Also show this cluster's rendered manifests, diffed.")
    String cluster;

    private Ref a;
    private Ref b;

    @Override
    void validate() {
      a = Ref.parse(from, this);
      String t = to.strip();
      b = t.matches("[0-9]+") ? Ref.parse(a.name() + "@" + t, this) : Ref.parse(t, this);
      if (a.version() == null || b.version() == null) {
        throw badInput("compare two versions: profiles diff NAME@1 NAME@2 [--cluster C]");
      }
      if (!a.name().equals(b.name())) {
        throw badInput(
            "'"
                + from
                + "' and '"
                + to
                + "' are versions of different profiles; compare versions of one profile");
      }
    }

    @Override
    void run(ControllerClient api) {
      String query = "?from=" + a.version() + "&to=" + b.version();
      if (cluster != null && !cluster.isBlank()) {
        query += "&cluster=" + ControllerClient.segment(cluster.strip());
      }
      JsonNode d = api.get(path(a.name()) + "/diff" + query);
      print(d, () -> diff(d));
    }
  }

  static String details(JsonNode p, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Name", p.path("name").asText());
    f.put("Selector", p.path("selector").asText("").isBlank() ? "*" : p.path("selector").asText());
    if (p.hasNonNull("description")) {
      f.put("Description", p.path("description").asText());
    }
    f.put(
        "Version",
        p.path("latestVersion").isNumber() ? p.path("latestVersion").asText() : "none yet");
    java.util.List<String> clusters = new java.util.ArrayList<>();
    p.path("clusters").forEach(c -> clusters.add(c.asText()));
    f.put("Clusters", clusters.isEmpty() ? "none" : String.join(", ", clusters));
    JsonNode r = p.path("latestRollout");
    if (!r.isMissingNode() && !r.isNull()) {
      f.put("Rollout", r.path("id").asText() + " " + r.path("state").asText());
      if (r.hasNonNull("reason")) {
        f.put("Why", r.path("reason").asText());
      }
    }
    f.put("Created", Formats.relative(p, "createdAt", now));
    StringBuilder out = new StringBuilder(Table.fields(f));
    JsonNode versions = p.path("versions");
    if (versions.isArray() && !versions.isEmpty()) {
      out.append('\n');
      Table t = new Table("version", "revision", "layers", "running on", "by", "created");
      for (JsonNode v : versions) {
        java.util.List<String> running = new java.util.ArrayList<>();
        v.path("running").forEach(c -> running.add(c.asText()));
        t.row(
            v.path("version").asText(),
            v.path("revision").asText(),
            v.path("layers").asText(),
            running.isEmpty() ? "" : running.size() + " cluster(s)",
            v.path("createdBy").asText(""),
            Formats.relative(v, "createdAt", now));
      }
      out.append(t.render());
    }
    JsonNode following = p.path("clusterVersions");
    if (following.isArray() && !following.isEmpty()) {
      out.append('\n');
      Table t = new Table("cluster", "follows", "wanted", "running");
      for (JsonNode c : following) {
        t.row(
            c.path("cluster").asText(),
            c.path("follows").asText(""),
            c.path("wanted").asText(""),
            c.path("running").asText(""));
      }
      out.append(t.render());
    }
    return out.toString();
  }

  static String versionDetails(JsonNode v, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Profile", v.path("profile").asText());
    f.put("Revision", v.path("revision").asText());
    f.put("Rollout policy", v.path("rolloutSummary").asText(""));
    f.put("Created", Formats.relative(v, "createdAt", now) + " by " + v.path("createdBy").asText());
    StringBuilder out = new StringBuilder(Table.fields(f));
    out.append('\n');
    Table t = new Table("#", "layer", "kind", "pins");
    int i = 1;
    for (JsonNode l : v.path("layers")) {
      t.row(String.valueOf(i++), l.path("name").asText(), l.path("kind").asText(), pins(l));
    }
    out.append(t.render());
    return out.toString();
  }

  static String pins(JsonNode l) {
    if ("kubernetes".equals(l.path("kind").asText())) {
      String version = l.path("kubernetesVersion").asText("");
      JsonNode config = l.path("config");
      String keys =
          config.isObject() && !config.isEmpty()
              ? "config: " + String.join(", ", iterable((ObjectNode) config))
              : "";
      return (version.isEmpty() ? "" : "K3s " + version + (keys.isEmpty() ? "" : "; ")) + keys;
    }
    JsonNode values = l.path("values");
    String v =
        values.isObject() && !values.isEmpty()
            ? " values: " + String.join(", ", iterable((ObjectNode) values))
            : "";
    return l.path("app").asText() + "@" + l.path("version").asText() + v;
  }

  static String diff(JsonNode d) {
    StringBuilder out = new StringBuilder();
    String name = d.path("profile").asText();
    out.append(name)
        .append('@')
        .append(d.path("from").asText())
        .append(" -> ")
        .append(name)
        .append('@')
        .append(d.path("to").asText())
        .append('\n');
    Table t = new Table("layer", "kind", "change", "from", "to", "details");
    int changed = 0;
    for (JsonNode l : d.path("layers")) {
      String change = l.path("change").asText();
      if (!change.equals("unchanged")) {
        changed++;
      }
      java.util.List<String> details = new java.util.ArrayList<>();
      l.path("details").forEach(x -> details.add(x.asText()));
      t.row(
          l.path("name").asText(),
          l.path("kind").asText(),
          change,
          l.path("from").asText(""),
          l.path("to").asText(""),
          String.join("; ", details));
    }
    out.append(t.render());
    if (changed == 0) {
      out.append("No layer changes.\n");
    }
    out.append("Nodes: ").append(d.path("restart").asText()).append('\n');
    if (d.hasNonNull("cluster")) {
      out.append('\n').append("Manifests of cluster ").append(d.path("cluster").asText());
      JsonNode lines = d.path("manifest");
      if (!lines.isArray() || lines.isEmpty()) {
        out.append(": unchanged\n");
      } else {
        out.append(":\n");
        lines.forEach(x -> out.append(x.asText()).append('\n'));
        if (d.path("manifestTruncated").asBoolean()) {
          out.append("... (more lines left off; the diff is bounded)\n");
        }
      }
    }
    return out.toString();
  }
}
