package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.DeviceNames;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet devices …}: the fleet's devices, their approval, tags and pre-registration. */
@Command(
    name = "devices",
    description =
        "List, inspect, rename, approve, tag and retire devices; pre-register serial numbers.",
    subcommands = {
      DevicesCommand.ListDevices.class,
      DevicesCommand.Get.class,
      DevicesCommand.Rename.class,
      DevicesCommand.Tag.class,
      DevicesCommand.Untag.class,
      DevicesCommand.Approve.class,
      DevicesCommand.Reject.class,
      DevicesCommand.Decommission.class,
      DevicesCommand.Preregister.class,
      DevicesCommand.ListPreregistrations.class,
      DevicesCommand.Apps.class,
      DevicesCommand.Events.class,
      DevicesCommand.Metrics.class,
      AttestationCommand.class
    })
final class DevicesCommand {
  static final String DEVICES = "/api/v1/devices";
  static final String PREREGISTRATIONS = "/api/v1/preregistrations";

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "list",
      description = {
        "List devices with their status and last contact.",
        "With --watch, keep the list up to date until Ctrl-C."
      })
  static final class ListDevices extends TokenCommand {
    @Option(
        names = "--selector",
        paramLabel = "SELECTOR",
        description =
            "Only devices whose tags match, e.g. 'site=berlin' or 'env in (prod,stage)'; '*' or"
                + " '' for every device.")
    String selector;

    @Option(
        names = "--status",
        paramLabel = "STATUS",
        split = ",",
        converter = Converters.DeviceStatus.class,
        description =
            "Only devices in these statuses, separated by commas: PENDING, NEVER_SEEN, ONLINE,"
                + " DEGRADED, ERROR, OFFLINE, REJECTED or DECOMMISSIONED.")
    List<String> statuses = new ArrayList<>();

    @Option(
        names = "--sort",
        paramLabel = "KEY",
        description =
            "Order by name, status, lastSeen or enrolledAt; a leading '-' reverses it, e.g."
                + " -lastSeen (default: the order devices were created in).")
    String sort;

    @Option(
        names = "--page-size",
        paramLabel = "N",
        description = "Devices asked for per request, 1 to 1000 (default: 500); all are shown.")
    int pageSize = 500;

    @Mixin WatchOptions watching;

    @Override
    void validate() {
      if (pageSize < 1 || pageSize > 1000) {
        throw badInput("--page-size must be 1 to 1000, got " + pageSize);
      }
    }

    @Override
    void run(ControllerClient api) {
      StringBuilder query = new StringBuilder("?limit=").append(pageSize);
      if (selector != null) {
        query.append("&selector=").append(ControllerClient.segment(selector));
      }
      if (!statuses.isEmpty()) {
        query.append("&status=").append(String.join(",", new LinkedHashSet<>(statuses)));
      }
      if (sort != null && !sort.isBlank()) {
        query.append("&sort=").append(ControllerClient.segment(sort.strip()));
      }
      if (watching.watch) {
        exitCode =
            watching
                .watch(this)
                .run(
                    () -> {
                      JsonNode listing =
                          all(api, query.toString(), pageSize, sort != null && !sort.isBlank());
                      return Watch.Frame.going(
                          WatchOptions.text(
                              this, listing, () -> table(listing.path("items"), now())));
                    });
        return;
      }
      JsonNode items =
          all(api, query.toString(), pageSize, sort != null && !sort.isBlank()).path("items");
      printItems(items, () -> table(items, now()));
    }

    /**
     * Every page of the listing as one {@code {"items": [...]}}: following {@code next} in the
     * default order, by offset when sorted (a sorted listing has no cursor).
     */
    static JsonNode all(ControllerClient api, String query, int pageSize, boolean sorted) {
      ObjectNode listing = object();
      ArrayNode items = listing.putArray("items");
      java.util.Set<String> seen = new java.util.HashSet<>();
      String after = null;
      while (true) {
        String page =
            sorted
                ? "&offset=" + items.size()
                : after == null ? "" : "&after=" + ControllerClient.segment(after);
        JsonNode answer = api.get(DEVICES + query + page);
        int before = items.size();
        for (JsonNode d : answer.path("items")) {
          if (sorted && !seen.add(d.path("id").asText())) {
            // A controller that ignores offset answers the first page again.
            throw new CliException(
                CliException.FAILED,
                "the controller answered a device twice while paging a sorted listing: it does"
                    + " not page by offset (an older version?); leave out --sort");
          }
          items.add(d);
        }
        if (sorted) {
          // A short page is the last one.
          if (items.size() - before < pageSize) {
            return listing;
          }
        } else {
          after = answer.hasNonNull("next") ? answer.path("next").asText() : null;
          if (after == null) {
            return listing;
          }
        }
      }
    }
  }

  @Command(
      name = "rename",
      description = {
        "Rename a device. Names are unique: 1 to 63 letters, digits, '.', '_' or '-', starting"
            + " and ending with a letter or digit."
      })
  static final class Rename extends TokenCommand {
    @Parameters(
        index = "0",
        paramLabel = "ID",
        converter = Converters.Id.class,
        description = "Device id or enrollment code.")
    String id;

    @Parameters(index = "1", paramLabel = "NAME", description = "The new name.")
    String name;

    @Override
    void validate() {
      try {
        DeviceNames.validate(name);
      } catch (IllegalArgumentException e) {
        throw badInput(e.getMessage());
      }
    }

    @Override
    void run(ControllerClient api) {
      showDevice(this, api.patch(device(id), object().put("name", name)));
    }
  }

  @Command(
      name = "get",
      aliases = "show",
      description = "Show one device with its hardware facts, identity and trust.")
  static final class Get extends TokenCommand {
    @Parameters(paramLabel = "ID", converter = Converters.Id.class, description = "Device id.")
    String id;

    @Override
    void run(ControllerClient api) {
      JsonNode device = api.get(device(id));
      JsonNode slots = agentSlots(api, Formats.text(device, "id"));
      if (slots != null && device instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
        o.set("agentSlots", slots);
      }
      JsonNode artifacts = artifacts(api, Formats.text(device, "id"));
      if (artifacts != null && device instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
        o.set("artifacts", artifacts);
      }
      JsonNode siteCache = siteCache(api, Formats.text(device, "id"));
      if (siteCache != null && device instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
        o.set("siteCache", siteCache);
      }
      print(device, () -> details(device, now()));
    }
  }

  @Command(name = "tag", description = "Set tags on a device (replacing values of existing keys).")
  static final class Tag extends TokenCommand {
    @Parameters(
        index = "0",
        paramLabel = "ID",
        converter = Converters.Id.class,
        description = "Device id.")
    String id;

    @Parameters(
        index = "1..*",
        arity = "1..*",
        paramLabel = "KEY=VALUE",
        converter = Converters.Tag.class,
        description = "Tags to set.")
    List<Tags.Tag> tags = new ArrayList<>();

    private Map<String, String> set = Map.of();

    @Override
    void validate() {
      set = tagMap(tags);
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object();
      set.forEach(body.putObject("set")::put);
      body.putArray("remove");
      showDevice(this, api.patch(device(id) + "/tags", body));
    }
  }

  @Command(name = "untag", description = "Remove tags from a device.")
  static final class Untag extends TokenCommand {
    @Parameters(
        index = "0",
        paramLabel = "ID",
        converter = Converters.Id.class,
        description = "Device id.")
    String id;

    @Parameters(
        index = "1..*",
        arity = "1..*",
        paramLabel = "KEY",
        converter = Converters.TagKey.class,
        description = "Tag keys to remove.")
    List<String> keys = new ArrayList<>();

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object();
      body.putObject("set");
      new LinkedHashSet<>(keys).forEach(body.putArray("remove")::add);
      showDevice(this, api.patch(device(id) + "/tags", body));
    }
  }

  /** A lifecycle transition: {@code POST /api/v1/devices/{id}/<action>} answering the device. */
  abstract static class Transition extends TokenCommand {
    @Parameters(
        paramLabel = "ID",
        converter = Converters.Id.class,
        description = "Device id or enrollment code.")
    String id;

    abstract String action();

    @Override
    void run(ControllerClient api) {
      showDevice(this, api.post(device(id) + "/" + action(), object()));
    }
  }

  @Command(name = "approve", description = "Approve a device that waits for approval.")
  static final class Approve extends Transition {
    @Override
    String action() {
      return "approve";
    }
  }

  @Command(name = "reject", description = "Reject a device that waits for approval.")
  static final class Reject extends Transition implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Override
    public String question() {
      return "Reject device " + id + "? It cannot connect unless it enrolls again.";
    }

    @Override
    String action() {
      return "reject";
    }
  }

  @Command(
      name = "decommission",
      description = "Retire a device: its certificate stops working and it is disconnected.")
  static final class Decommission extends Transition implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Override
    public String question() {
      return "Decommission device "
          + id
          + "? Its certificate stops working and it is disconnected.";
    }

    @Override
    String action() {
      return "decommission";
    }
  }

  @Command(
      name = "preregister",
      description = "Pre-register a serial number: a device reporting it enrolls without a token.")
  static final class Preregister extends TokenCommand {
    @Option(
        names = "--serial",
        required = true,
        paramLabel = "SERIAL",
        converter = Converters.Id.class,
        description = "The hardware serial number the agent reports.")
    String serial;

    @Option(
        names = "--tag",
        paramLabel = "KEY=VALUE",
        converter = Converters.Tag.class,
        description = "Tag the device gets; repeatable.")
    List<Tags.Tag> tags = new ArrayList<>();

    @Option(names = "--require-approval", description = "The device waits for approval.")
    boolean requireApproval;

    @Option(
        names = "--require-tpm",
        description =
            "Only a device whose key lives in a TPM 2.0 may enroll with this serial; a software"
                + " key is refused with TPM_REQUIRED.")
    boolean requireTpm;

    @Option(names = "--name", paramLabel = "NAME", description = "Name of the device.")
    String name;

    private Map<String, String> tagMap = Map.of();

    @Override
    void validate() {
      tagMap = tagMap(tags);
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object().put("serial", serial);
      tagMap.forEach(body.putObject("tags")::put);
      body.put("requireApproval", requireApproval);
      if (requireTpm) {
        body.put("requireTpm", true);
      }
      Optional.ofNullable(name).ifPresent(n -> body.put("name", n));
      JsonNode created = api.post(PREREGISTRATIONS, body);
      print(created, () -> preregistrations(List.of(created), now()));
    }
  }

  @Command(name = "preregistrations", description = "List pre-registered serial numbers.")
  static final class ListPreregistrations extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(PREREGISTRATIONS).path("items");
      printItems(items, () -> preregistrations(items, now()));
    }
  }

  @Command(
      name = "apps",
      description = "Show the applications a device should run, and what it reports it runs.")
  static final class Apps extends TokenCommand {
    @Parameters(paramLabel = "ID", converter = Converters.Id.class, description = "Device id.")
    String id;

    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(device(id) + "/apps").path("items");
      printItems(items, () -> AppsCommand.appTable(items, now()));
    }
  }

  @Command(name = "events", description = "Show the events a device reported, newest first.")
  static final class Events extends TokenCommand {
    @Parameters(paramLabel = "ID", converter = Converters.Id.class, description = "Device id.")
    String id;

    @Option(
        names = "--limit",
        paramLabel = "N",
        defaultValue = "50",
        converter = Converters.Limit.class,
        description = "How many events to show (default: ${DEFAULT-VALUE}).")
    int limit = 50;

    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(device(id) + "/events?limit=" + limit).path("items");
      printItems(items, () -> events(items, now()));
    }
  }

  @Command(
      name = "metrics",
      description = {
        "Show a device's node and workload metrics from its telemetry.",
        "Per metric the last value and the minimum, mean and maximum over the newest window;"
            + " -o json prints every window of --since."
      })
  static final class Metrics extends TokenCommand {
    @Parameters(paramLabel = "ID", converter = Converters.Id.class, description = "Device id.")
    String id;

    @Option(
        names = "--since",
        paramLabel = "DURATION",
        defaultValue = "1h",
        converter = Converters.DurationText.class,
        description = "How far back, 1m to 24h (default: ${DEFAULT-VALUE}).")
    String since = "1h";

    @Override
    void run(ControllerClient api) {
      JsonNode metrics = api.get(device(id) + "/metrics?since=" + ControllerClient.segment(since));
      print(metrics, () -> metrics(metrics, now()));
    }
  }

  /** The newest telemetry window of a device: a line saying which, then one row per metric. */
  static String metrics(JsonNode answer, Instant now) {
    JsonNode latest = answer.path("latest");
    if (latest.isMissingNode() || latest.isNull()) {
      return "No telemetry from " + Formats.text(answer, "deviceId") + " in this time.\n";
    }
    StringBuilder out =
        new StringBuilder("Window: ")
            .append(Formats.text(latest, "from"))
            .append(" to ")
            .append(Formats.text(latest, "at"))
            .append(" (")
            .append(Formats.relative(latest, "at", now))
            .append(latest.path("partial").asBoolean() ? ", partial" : "")
            .append("); ")
            .append(answer.path("summaries").size())
            .append(" windows in all\n\n");
    Table table = new Table("metric", "last", "min", "mean", "max", "samples");
    latest
        .path("metrics")
        .properties()
        .forEach(
            m ->
                table.row(
                    m.getKey(),
                    metric(m.getKey(), m.getValue().path("last")),
                    metric(m.getKey(), m.getValue().path("min")),
                    metric(m.getKey(), m.getValue().path("mean")),
                    metric(m.getKey(), m.getValue().path("max")),
                    m.getValue().path("count").asText()));
    return out.append(table.render()).toString();
  }

  /** A value in its metric's unit: bytes in binary units, percentages to one decimal. */
  private static String metric(String name, JsonNode value) {
    if (!value.isNumber()) {
      return "";
    }
    double v = value.asDouble();
    if (name.endsWith(".bytes")) {
      return Formats.bytes(Math.round(v));
    }
    if (name.endsWith(".percent")) {
      return String.format(java.util.Locale.ROOT, "%.1f%%", v);
    }
    return v == Math.rint(v) && Math.abs(v) < 1e15
        ? String.valueOf((long) v)
        : String.format(java.util.Locale.ROOT, "%.2f", v);
  }

  static String events(Iterable<JsonNode> events, Instant now) {
    Table table = new Table("time", "age", "kind", "message");
    for (JsonNode e : events) {
      table.row(
          Formats.text(e, "at"),
          Formats.relative(e, "at", now),
          Formats.text(e, "kind"),
          Formats.text(e, "message"));
    }
    return table.render();
  }

  static String table(Iterable<JsonNode> devices, Instant now) {
    Table table =
        new Table("id", "name", "status", "trust", "reason", "last seen", "tags", "agent");
    for (JsonNode d : devices) {
      table.row(
          Formats.text(d, "id"),
          Formats.text(d, "name"),
          Formats.text(d, "status"),
          trust(d),
          Formats.text(d, "statusReason"),
          Formats.relative(d, "lastSeen", now),
          Tags.format(d.path("tags")),
          version(d));
    }
    return table.render();
  }

  static String details(JsonNode d, Instant now) {
    JsonNode facts = d.path("facts");
    SequencedMap<String, String> fields = new LinkedHashMap<>();
    fields.put("ID", Formats.text(d, "id"));
    fields.put("Name", Formats.text(d, "name"));
    fields.put("Serial", Formats.text(d, "serial"));
    fields.put("Status", Formats.text(d, "status"));
    fields.put("Reason", Formats.text(d, "statusReason"));
    fields.put("Status since", Formats.timestamp(d, "statusSince", now));
    fields.put("Last seen", Formats.timestamp(d, "lastSeen", now));
    fields.put("Tags", Tags.format(d.path("tags")));
    JsonNode trust = d.path("trust");
    fields.put("Identity", Formats.text(d, "identity"));
    fields.put("Trust", Formats.text(trust, "state"));
    fields.put("Trust reason", Formats.text(trust, "reason"));
    fields.put("Trust since", Formats.timestamp(trust, "since", now));
    fields.put("Last attested", Formats.timestamp(trust, "lastAttested", now));
    fields.put("Agent version", version(d));
    JsonNode slots = d.path("agentSlots");
    if (!slots.isMissingNode()) {
      String active = Formats.text(slots, "active");
      fields.put(
          "Agent slots",
          active.isEmpty()
              ? "not running from slots"
              : "a: "
                  + orNone(slots, "slotA")
                  + (active.equals("a") ? " (active)" : "")
                  + ", b: "
                  + orNone(slots, "slotB")
                  + (active.equals("b") ? " (active)" : ""));
      if (slots.hasNonNull("updateVersion")) {
        fields.put(
            "Last agent update",
            Formats.text(slots, "updateVersion")
                + " "
                + Formats.text(slots, "updatePhase")
                + (slots.hasNonNull("updateReason")
                    ? ": " + Formats.text(slots, "updateReason")
                    : "")
                + " ("
                + Formats.timestamp(slots, "updateAt", now)
                + ")");
      }
    }
    artifactFields(d.path("artifacts"), fields, now);
    siteCacheField(d.path("siteCache"), fields);
    fields.put("Enrollment code", Formats.text(d, "enrollmentCode"));
    fields.put("Created", Formats.timestamp(d, "createdAt", now));
    fields.put("Enrolled", Formats.timestamp(d, "enrolledAt", now));
    fields.put("Hostname", Formats.text(facts, "hostname"));
    fields.put("OS", (Formats.text(facts, "os") + " " + Formats.text(facts, "osVersion")).strip());
    fields.put("Architecture", Formats.text(facts, "arch"));
    fields.put("CPUs", Formats.text(facts, "cpus"));
    fields.put("Memory", size(facts, "memoryBytes"));
    fields.put("Disk", size(facts, "diskBytes"));
    List<String> macs = new ArrayList<>();
    facts.path("macs").forEach(m -> macs.add(m.asText()));
    fields.put("MACs", String.join(",", macs));
    fields.put("K3s", yesNo(facts, "k3s"));
    fields.put("Kubelet", yesNo(facts, "kubelet"));
    fields.put("Kubernetes", Formats.text(facts, "kubernetesVersion"));
    int groups = facts.path("kubernetesApiVersions").size();
    fields.put("API groups", groups == 0 ? "" : String.valueOf(groups));
    return Table.fields(fields);
  }

  private static String orNone(JsonNode n, String field) {
    return n.hasNonNull(field) ? Formats.text(n, field) : "empty";
  }

  /**
   * The device's artifacts: the download policy that applies, what it holds and fetches, why its
   * downloads wait, and how far it is with what it stages.
   */
  private static void artifactFields(JsonNode a, SequencedMap<String, String> fields, Instant now) {
    if (a.isMissingNode()) {
      return;
    }
    JsonNode policy = a.path("downloads");
    fields.put(
        "Download policy",
        policy.isObject()
            ? Formats.text(a, "policy")
                + ": "
                + DownloadPoliciesCommand.budget(policy)
                + ", "
                + DownloadPoliciesCommand.windows(policy)
            : "none (any time, no budget)");
    if (a.hasNonNull("reportedAt")) {
      fields.put(
          "Artifacts held",
          a.path("held").size() + " (reported " + Formats.relative(a, "reportedAt", now) + ")");
    }
    List<String> fetching = new ArrayList<>();
    for (JsonNode f : a.path("fetching")) {
      fetching.add(
          Formats.revision(Formats.text(f, "digest"))
              + " "
              + Formats.bytes(f.path("bytes").asLong())
              + " of "
              + Formats.bytes(f.path("size").asLong()));
    }
    if (!fetching.isEmpty()) {
      fields.put("Downloading", String.join("; ", fetching));
    }
    if (a.hasNonNull("waiting")) {
      fields.put("Downloads wait", Formats.text(a, "waiting"));
    }
    List<String> staging = new ArrayList<>();
    for (JsonNode s : a.path("staging")) {
      staging.add(
          Formats.text(s, "app")
              + " "
              + Formats.revision(Formats.text(s, "revision"))
              + ": "
              + Formats.text(s, "status"));
    }
    if (!staging.isEmpty()) {
      fields.put("Staging", String.join("; ", staging));
    }
  }

  /**
   * The site cache line: the device serves its site, fetches from its site's cache first, or its
   * site has none. Nothing when the controller does not say (an older one).
   */
  static void siteCacheField(JsonNode c, SequencedMap<String, String> fields) {
    if (c.isMissingNode() || c.isNull()) {
      return;
    }
    String site = c.hasNonNull("site") ? Formats.text(c, "site") : null;
    String url = c.hasNonNull("url") ? Formats.text(c, "url") : "no address reported yet";
    String value;
    if (!c.hasNonNull("cache")) {
      value =
          site == null
              ? "none (no site tag)"
              : "none (no device of site " + site + " is tagged edgefleet.io/site-cache=true)";
    } else if (c.path("serves").asBoolean()) {
      value = "serves site " + site + " (" + url + ")";
    } else {
      String name = c.hasNonNull("cacheName") ? Formats.text(c, "cacheName") : null;
      value =
          (name == null ? Formats.text(c, "cache") : name + " (" + Formats.text(c, "cache") + ")")
              + " of site "
              + site
              + ", "
              + url;
    }
    fields.put("Site cache", value);
  }

  /** The device's site cache, or null when the controller does not say (an older one). */
  static JsonNode siteCache(ControllerClient api, String id) {
    try {
      return api.get(device(id) + "/site-cache");
    } catch (CliException e) {
      return null;
    }
  }

  /** The device's artifacts, or null when the controller does not say (an older one). */
  static JsonNode artifacts(ControllerClient api, String id) {
    try {
      return api.get(device(id) + "/artifacts");
    } catch (CliException e) {
      return null;
    }
  }

  /** What the device last reported of its agent slots, or null when it reported nothing. */
  static JsonNode agentSlots(ControllerClient api, String id) {
    try {
      return api.get(device(id) + "/agent");
    } catch (CliException e) {
      return null;
    }
  }

  static String preregistrations(Iterable<JsonNode> items, Instant now) {
    Table table = new Table("serial", "name", "tags", "approval", "tpm", "device", "created");
    for (JsonNode p : items) {
      table.row(
          Formats.text(p, "serial"),
          Formats.text(p, "name"),
          Tags.format(p.path("tags")),
          p.path("requireApproval").asBoolean() ? "required" : "automatic",
          p.path("requireTpm").asBoolean() ? "required" : "",
          Formats.text(p, "deviceId"),
          Formats.relative(p, "createdAt", now));
    }
    return table.render();
  }

  /** A device answered by a change, as a one-row table. */
  private static void showDevice(ApiCommand command, JsonNode device) {
    command.print(device, () -> table(List.of(device), command.now()));
  }

  private static String device(String id) {
    return DEVICES + "/" + ControllerClient.segment(id);
  }

  /** The trust of a device with a TPM (TRUSTED, QUARANTINED); empty for a software key. */
  static String trust(JsonNode d) {
    return "tpm".equals(d.path("identity").asText()) ? Formats.text(d.path("trust"), "state") : "";
  }

  private static String version(JsonNode d) {
    String version = Formats.text(d, "agentVersion");
    return version.isEmpty() ? Formats.text(d.path("facts"), "agentVersion") : version;
  }

  private static String size(JsonNode facts, String field) {
    return facts.path(field).isNumber() ? Formats.bytes(facts.path(field).asLong()) : "";
  }

  private static String yesNo(JsonNode facts, String field) {
    return facts.path(field).isBoolean() ? (facts.path(field).asBoolean() ? "yes" : "no") : "";
  }
}
