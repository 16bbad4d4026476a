package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code edgefleet apps …}: the app catalog (versioned charts and manifests pushed by operators)
 * and how applications run on the devices.
 */
@Command(
    name = "apps",
    description = {
      "Push, list and inspect the versions of the app catalog; show how applications run on the"
          + " devices."
    },
    subcommands = {
      AppsCommand.Push.class,
      AppsCommand.ListApps.class,
      AppsCommand.Versions.class,
      AppsCommand.Show.class,
      AppsCommand.Status.class
    })
final class AppsCommand {
  static final String APPS = "/api/v1/apps";
  static final String CATALOG = "/api/v1/catalog/apps";

  /**
   * The largest archive the controller takes: its push limit is 16 MiB of JSON, and base64 makes
   * three bytes four characters.
   */
  static final int MAX_ARCHIVE_BYTES = (16 << 20) / 4 * 3 - 64 * 1024;

  /** The states of an app on a device, in the order the summary line counts them. */
  static final List<String> STATES =
      List.of(
          "READY", "PROGRESSING", "APPLIED", "FAILED", "PENDING", "PENDING_OFFLINE", "NOT_PLACED");

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "push",
      description = {
        "Push a version of an app to the catalog: a Helm chart (directory or `helm package`"
            + " archive) or a directory of Kubernetes YAML.",
        "Versions are immutable and content-addressed: pushing the same content again changes"
            + " nothing, other content under an existing version is refused."
      })
  static final class Push extends TokenCommand {
    @Parameters(
        paramLabel = "NAME",
        description = "App name: lower-case letters, digits and '-' (for example pos).")
    String name;

    @Option(
        names = "--version",
        required = true,
        paramLabel = "VERSION",
        description = "The version to create, for example 1.2.0.")
    String version;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    static final class Source {
      @Option(
          names = "--chart",
          paramLabel = "DIR",
          description = "A Helm chart directory (with Chart.yaml).")
      Path chart;

      @Option(
          names = "--chart-archive",
          paramLabel = "FILE",
          description = "A chart archive as `helm package` writes it (.tgz).")
      Path chartArchive;

      @Option(
          names = "--manifests",
          paramLabel = "DIR",
          description = "A directory of Kubernetes YAML files (*.yaml, *.yml, *.json).")
      Path manifests;
    }

    @Option(
        names = "--description",
        paramLabel = "TEXT",
        description = "What this version is or changes; shown in `apps list`.")
    String description;

    private String kind;
    private byte[] archive;

    @Override
    void validate() {
      try {
        new AppRef(name, version);
        if (source.chart != null) {
          kind = "chart";
          if (!Files.isRegularFile(source.chart.resolve("Chart.yaml"))) {
            throw new IllegalArgumentException(
                source.chart
                    + " is not a Helm chart: it has no Chart.yaml (use --manifests for a"
                    + " directory of Kubernetes YAML)");
          }
          archive = DirectoryArchive.pack(source.chart);
        } else if (source.manifests != null) {
          kind = "manifests";
          if (Files.isRegularFile(source.manifests.resolve("Chart.yaml"))) {
            throw new IllegalArgumentException(
                source.manifests + " has Chart.yaml: push it with --chart");
          }
          if (DirectoryArchive.files(source.manifests).stream()
              .noneMatch(DirectoryArchive::isYaml)) {
            throw new IllegalArgumentException(
                source.manifests + " has no *.yaml, *.yml or *.json files");
          }
          archive = DirectoryArchive.pack(source.manifests);
        } else {
          kind = "chart";
          archive = readArchive(source.chartArchive);
        }
      } catch (IllegalArgumentException e) {
        throw badInput(e.getMessage());
      }
      if (archive.length > MAX_ARCHIVE_BYTES) {
        throw badInput(
            "the archive is "
                + Formats.bytes(archive.length)
                + " compressed; the controller takes at most "
                + Formats.bytes(MAX_ARCHIVE_BYTES));
      }
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object().put("version", version).put("kind", kind);
      Optional.ofNullable(description).ifPresent(d -> body.put("description", d));
      body.put("archive", Base64.getEncoder().encodeToString(archive));
      JsonNode pushed =
          api.post(CATALOG + "/" + ControllerClient.segment(name) + "/versions", body);
      note(pushSummary(pushed));
      print(pushed, () -> versionDetails(pushed, now()));
    }

    private static byte[] readArchive(Path file) {
      try {
        if (!Files.isRegularFile(file)) {
          throw new IllegalArgumentException("chart archive " + file + " does not exist");
        }
        if (Files.size(file) > MAX_ARCHIVE_BYTES) {
          throw new IllegalArgumentException(
              "chart archive "
                  + file
                  + " is "
                  + Formats.bytes(Files.size(file))
                  + "; the controller takes at most "
                  + Formats.bytes(MAX_ARCHIVE_BYTES));
        }
        return Files.readAllBytes(file);
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read chart archive " + file + ": " + e);
      }
    }
  }

  @Command(name = "list", description = "List the apps of the catalog with their latest version.")
  static final class ListApps extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(CATALOG).path("items");
      printItems(items, () -> catalogTable(items));
    }
  }

  @Command(name = "versions", description = "List the versions of a catalog app, newest first.")
  static final class Versions extends TokenCommand {
    @Parameters(paramLabel = "NAME", converter = Converters.Id.class, description = "App name.")
    String name;

    @Override
    void run(ControllerClient api) {
      JsonNode versions = api.get(CATALOG + "/" + ControllerClient.segment(name)).path("versions");
      printItems(versions, () -> versionTable(versions, now()));
    }
  }

  @Command(
      name = "show",
      description = {
        "Show a version of a catalog app: digest, files and, for charts, the default values.",
        "With --device (or --tag, --set, --values) also the YAML it renders to: what that device"
            + " would get."
      })
  static final class Show extends TokenCommand {
    @Parameters(
        paramLabel = "NAME@VERSION",
        converter = AppRef.Converter.class,
        description = "The version, for example pos@1.2.0.")
    AppRef ref;

    @Option(
        names = "--device",
        paramLabel = "ID",
        converter = Converters.Id.class,
        description = "Render for this device: its tags fill ${tag:KEY} and select overrides.")
    String device;

    @Option(
        names = "--tag",
        paramLabel = "KEY=VALUE",
        converter = Converters.Tag.class,
        description = "Render with this tag (over the device's); may be repeated.")
    List<Tags.Tag> tags = new ArrayList<>();

    @Mixin ValuesOptions values;

    private Map<String, Object> valueMap = Map.of();
    private Map<String, String> tagMap = Map.of();

    @Override
    void validate() {
      valueMap = values.values();
      tagMap = tagMap(tags);
    }

    @Override
    void run(ControllerClient api) {
      JsonNode version = api.get(ref.path());
      boolean render = device != null || !tagMap.isEmpty() || values.given();
      if (!render) {
        print(version, () -> showText(version, null, now()));
        return;
      }
      ObjectNode request = object();
      Optional.ofNullable(device).ifPresent(d -> request.put("device", d));
      if (!tagMap.isEmpty()) {
        request.set("tags", Json.mapper().valueToTree(tagMap));
      }
      if (!valueMap.isEmpty()) {
        request.set("values", Json.mapper().valueToTree(valueMap));
      }
      JsonNode preview = api.post(ref.path() + "/preview", request);
      ObjectNode both = version.deepCopy();
      both.set("preview", preview);
      print(both, () -> showText(version, preview, now()));
    }
  }

  @Command(
      name = "status",
      description = {
        "Without APP: every deployed application with how many of its devices are ready.",
        "With APP: that application on each of its devices: desired revision (with the commit it"
            + " came from, for Git apps), running revision (the last one the device reported"
            + " ready, also while the desired one is applying or has failed), state.",
        "States: READY, PROGRESSING, APPLIED, FAILED, PENDING, PENDING_OFFLINE (the device is"
            + " offline and updates when it reconnects), NOT_PLACED (the device cannot run the"
            + " app's kind of workload and does not get it; the reason says what it lacks).",
        "With --watch and APP, until no device is still on its way; the exit code says how: 0"
            + " ready everywhere, 7 failed on a device, 8 ready on every online device but waiting"
            + " for offline ones. Without APP, --watch runs until Ctrl-C."
      })
  static final class Status extends TokenCommand {
    @Parameters(
        paramLabel = "APP",
        arity = "0..1",
        converter = Converters.Id.class,
        description = "Application name, as `apps status` lists it.")
    String app;

    @Mixin WatchOptions watching;

    @Override
    void run(ControllerClient api) {
      if (watching.watch) {
        exitCode = watching.watch(this).run(() -> frame(api));
      } else if (app == null) {
        JsonNode items = api.get(APPS).path("items");
        printItems(items, () -> table(items));
        refusals(api, null).forEach(this::note);
      } else {
        JsonNode status = api.get(APPS + "/" + ControllerClient.segment(app) + "/status");
        JsonNode devices = status.path("devices");
        print(status, () -> deviceTable(devices, now()));
        spec.commandLine().getErr().println(summary(devices));
        refusals(api, app).forEach(this::note);
      }
    }

    /** Git apps whose newest content was refused, when this token may read the repositories. */
    private List<String> refusals(ControllerClient api, String only) {
      try {
        return refused(api.get(ReposCommand.REPOS).path("items"), only);
      } catch (CliException e) {
        return List.of();
      }
    }

    private Watch.Frame frame(ControllerClient api) {
      if (app == null) {
        JsonNode listing = api.get(APPS);
        return Watch.Frame.going(
            WatchOptions.text(this, listing, () -> table(listing.path("items"))));
      }
      JsonNode status = api.get(APPS + "/" + ControllerClient.segment(app) + "/status");
      JsonNode devices = status.path("devices");
      return new Watch.Frame(
          WatchOptions.text(this, status, () -> deviceTable(devices, now())), end(app, devices));
    }
  }

  /**
   * Whether a watched app has arrived: once no device is PENDING, PROGRESSING or APPLIED (or in a
   * state this CLI does not know), ready everywhere it can run (exit 0; a NOT_PLACED device is not
   * waited for), failed somewhere (7), or ready on every online device with offline ones still to
   * update (8).
   */
  static Optional<Watch.End> end(String app, JsonNode devices) {
    boolean failed = false;
    boolean offline = false;
    for (JsonNode d : devices) {
      switch (Formats.text(d, "state")) {
        case "READY", "NOT_PLACED" -> {}
        case "FAILED" -> failed = true;
        case "PENDING_OFFLINE" -> offline = true;
        default -> {
          return Optional.empty();
        }
      }
    }
    int code = failed ? Watch.APP_FAILED : offline ? Watch.OFFLINE_PENDING : 0;
    return Optional.of(
        new Watch.End(
            code, app + ": " + summary(devices) + (code == 0 ? "" : " (exit " + code + ")")));
  }

  /**
   * One line per Git application (of {@code only}, or all) whose new content the commit in effect
   * could not use: the devices keep the revision it had, or do not have it at all.
   */
  static List<String> refused(Iterable<JsonNode> sources, String only) {
    List<String> lines = new ArrayList<>();
    for (JsonNode s : sources) {
      for (JsonNode r : s.path("revisions")) {
        String app = Formats.text(r, "app");
        String error = Formats.text(r, "error");
        if (error.isEmpty() || (only != null && !only.equals(app))) {
          continue;
        }
        String revision = Formats.text(r, "revision");
        lines.add(
            app
                + " (repository "
                + Formats.text(s, "name")
                + "): its new content at "
                + Formats.revision(Formats.text(s.path("lastCommit"), "sha"))
                + " was refused, "
                + (revision.isEmpty()
                    ? "so it is not deployed"
                    : "so devices keep " + Formats.revision(revision))
                + ": "
                + firstLine(error));
      }
    }
    return lines;
  }

  /** The first line after a push: new, or already there. */
  static String pushSummary(JsonNode pushed) {
    String ref = Formats.text(pushed, "name") + "@" + Formats.text(pushed, "version");
    return pushed.path("created").asBoolean()
        ? "pushed " + ref + " (new version)"
        : ref + " already exists with the same content; nothing changed";
  }

  /** The catalog: one line per app. */
  static String catalogTable(Iterable<JsonNode> apps) {
    Table table = new Table("name", "latest", "versions", "kind", "description");
    for (JsonNode a : apps) {
      table.row(
          Formats.text(a, "name"),
          Formats.text(a, "latestVersion"),
          Formats.text(a, "versions"),
          Formats.text(a, "kind"),
          firstLine(Formats.text(a, "description")));
    }
    return table.render();
  }

  /** The versions of one app, in the order given (newest first). */
  static String versionTable(Iterable<JsonNode> versions, Instant now) {
    Table table =
        new Table("version", "kind", "digest", "size", "files", "created", "by", "description");
    for (JsonNode v : versions) {
      table.row(
          Formats.text(v, "version"),
          Formats.text(v, "kind"),
          Formats.revision(Formats.text(v, "digest")),
          Formats.bytes(v.path("size").asLong()),
          Formats.text(v, "files"),
          Formats.relative(v, "createdAt", now),
          Formats.text(v, "createdBy"),
          firstLine(Formats.text(v, "description")));
    }
    return table.render();
  }

  /** A version's metadata as {@code Key: value} lines. */
  static String versionDetails(JsonNode v, Instant now) {
    SequencedMap<String, String> fields = new LinkedHashMap<>();
    fields.put("Name", Formats.text(v, "name"));
    fields.put("Version", Formats.text(v, "version"));
    fields.put("Kind", Formats.text(v, "kind"));
    fields.put("Digest", Formats.text(v, "digest"));
    fields.put("Size", Formats.bytes(v.path("size").asLong()));
    fields.put("Files", Formats.text(v, "files"));
    fields.put("Description", Formats.text(v, "description"));
    fields.put("Created", Formats.timestamp(v, "createdAt", now));
    fields.put("By", Formats.text(v, "createdBy"));
    return Table.fields(fields);
  }

  /**
   * {@code apps show}: metadata, the file paths, then the rendered YAML if there is a preview, else
   * a chart's default values.
   */
  static String showText(JsonNode version, JsonNode preview, Instant now) {
    StringBuilder out = new StringBuilder(versionDetails(version, now));
    out.append("\nPaths:\n");
    for (JsonNode p : version.path("paths")) {
      out.append("  ").append(p.asText()).append('\n');
    }
    if (preview != null) {
      out.append('\n').append(previewHeader(preview)).append('\n');
      String yaml = Formats.text(preview, "yaml");
      out.append(yaml);
      if (!yaml.endsWith("\n")) {
        out.append('\n');
      }
    } else if (version.hasNonNull("values")) {
      out.append("\nDefault values (values.yaml):\n");
      Formats.text(version, "values").lines().forEach(l -> out.append("  ").append(l).append('\n'));
    }
    return out.toString();
  }

  /** {@code # rendered for device dev-1 (site=s1), sha256:…}: a YAML comment above the output. */
  static String previewHeader(JsonNode preview) {
    StringBuilder h = new StringBuilder("# rendered");
    String device = Formats.text(preview, "device");
    if (!device.isEmpty()) {
      h.append(" for device ").append(device);
    }
    JsonNode tags = preview.path("tags");
    if (tags.isObject()) {
      List<String> pairs = new ArrayList<>();
      tags.fields().forEachRemaining(e -> pairs.add(e.getKey() + "=" + e.getValue().asText()));
      h.append(" with tags ").append(pairs.isEmpty() ? "(none)" : String.join(",", pairs));
    } else {
      h.append(" with placeholder tags (${tag:KEY} as tag-KEY)");
    }
    return h.append(", ").append(Formats.text(preview, "digest")).toString();
  }

  /** The running applications: counts of devices per state. */
  static String table(Iterable<JsonNode> apps) {
    Table table =
        new Table(
            "app",
            "source",
            "devices",
            "ready",
            "failed",
            "pending",
            "pending offline",
            "not placed");
    for (JsonNode a : apps) {
      table.row(
          Formats.text(a, "app"),
          Formats.text(a, "source"),
          Formats.text(a, "devices"),
          Formats.text(a, "ready"),
          Formats.text(a, "failed"),
          Formats.text(a, "pending"),
          Formats.text(a, "pendingOffline"),
          Formats.text(a, "notPlaced"));
    }
    return table.render();
  }

  /**
   * One application across its devices: the revision desired with the commit it came from (Git
   * apps), and the revision running.
   */
  static String deviceTable(Iterable<JsonNode> deviceApps, Instant now) {
    Table table =
        new Table("device", "name", "desired", "commit", "running", "state", "reason", "since");
    for (JsonNode d : deviceApps) {
      table.row(
          Formats.text(d, "deviceId"),
          Formats.text(d, "deviceName"),
          revision(d, "desiredRevision"),
          Formats.revision(Formats.text(d, "desiredCommit")),
          revision(d, "readyRevision"),
          Formats.text(d, "state"),
          Formats.text(d, "reason"),
          Formats.relative(d, "desiredSince", now));
    }
    return table.render()
        + drift(deviceApps, "device", "deviceId", now)
        + staging(deviceApps, "device", "deviceId");
  }

  /**
   * Under a table of app states, the revision each device downloads ahead of its release and how
   * far it is ({@code staging 40 MiB of 100 MiB …} or {@code held}); nothing when none stages.
   */
  static String staging(Iterable<JsonNode> deviceApps, String what, String field) {
    Table table = new Table(what, "staging");
    boolean any = false;
    for (JsonNode d : deviceApps) {
      if (d.hasNonNull("staging")) {
        any = true;
        String text = Formats.text(d, "staging");
        int space = text.indexOf(' ');
        table.row(
            Formats.text(d, field),
            space < 0
                ? text
                : Formats.revision(text.substring(0, space)) + " " + text.substring(space + 1));
      }
    }
    return any ? "\n" + table.render() : "";
  }

  /**
   * Under a table of app states, what the agents recently put back that someone else deleted or
   * changed (their newest {@code drift-repaired} event of the last hour), one line per row that has
   * any; nothing when none has.
   */
  static String drift(Iterable<JsonNode> deviceApps, String what, String field, Instant now) {
    Table table = new Table(what, "drift repaired", "what was repaired");
    boolean any = false;
    for (JsonNode d : deviceApps) {
      JsonNode drift = d.path("drift");
      if (drift.isObject()) {
        any = true;
        table.row(
            Formats.text(d, field),
            Formats.relative(drift, "at", now),
            Formats.text(drift, "message"));
      }
    }
    return any ? "\n" + table.render() : "";
  }

  /** One device across its applications. */
  static String appTable(Iterable<JsonNode> deviceApps, Instant now) {
    Table table =
        new Table("app", "source", "desired", "commit", "running", "state", "reason", "since");
    for (JsonNode d : deviceApps) {
      table.row(
          Formats.text(d, "app"),
          Formats.text(d, "source"),
          revision(d, "desiredRevision"),
          Formats.revision(Formats.text(d, "desiredCommit")),
          revision(d, "readyRevision"),
          Formats.text(d, "state"),
          Formats.text(d, "reason"),
          Formats.relative(d, "desiredSince", now));
    }
    return table.render()
        + drift(deviceApps, "app", "app", now)
        + staging(deviceApps, "app", "app");
  }

  /** {@code 3 devices: 2 ready, 1 pending-offline}: the non-zero counts per state. */
  static String summary(Iterable<JsonNode> deviceApps) {
    Map<String, Integer> counts = new LinkedHashMap<>();
    STATES.forEach(s -> counts.put(s, 0));
    int total = 0;
    for (JsonNode d : deviceApps) {
      String state = Formats.text(d, "state");
      counts.merge(state.isEmpty() ? "UNKNOWN" : state, 1, Integer::sum);
      total++;
    }
    List<String> parts = new ArrayList<>();
    counts.forEach(
        (state, n) -> {
          if (n > 0) {
            parts.add(n + " " + state.toLowerCase(Locale.ROOT).replace('_', '-'));
          }
        });
    String devices = total + (total == 1 ? " device" : " devices");
    return parts.isEmpty() ? devices : devices + ": " + String.join(", ", parts);
  }

  private static String firstLine(String text) {
    int nl = text.indexOf('\n');
    return nl < 0 ? text : text.substring(0, nl);
  }

  /** A revision as tables show it: see {@link Formats#revision}. */
  private static String revision(JsonNode d, String field) {
    return Formats.revision(Formats.text(d, field));
  }
}
