package io.edgefleet.controller.rollouts;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.edgefleet.controller.rollouts.MaintenanceWindows.Window;
import io.edgefleet.protocol.Durations;
import java.io.IOException;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * How a rollout proceeds: which batches of devices are updated in turn, when a batch counts as
 * succeeded or failed, what happens on failure, and when devices may be updated at all.
 *
 * <p>A policy is parsed from YAML (JSON is YAML too); every field is optional and an empty text or
 * {@code {}} gives the {@link #defaults()}:
 *
 * <pre>{@code
 * canary: 10%              # optional first batch: a count (3 or "3") or a percent ("10%"), or an
 *                          # object {size: 10%, successThreshold, failureThreshold, soak,
 *                          # progressDeadline} overriding the defaults below for this batch
 * waves:                   # optional; each entry a count, a percent, or an object as for canary
 *   - 50%
 *   - {size: 50%, soak: 10m}
 * # or: waves: {byTag: region, <thresholds>}  -> one batch per distinct value of the tag
 * successThreshold: 100%   # a batch succeeds when this percent of its devices are READY on the
 *                          # new version
 * failureThreshold: 0%     # a batch fails when MORE than this percent of its devices failed
 *                          # (0% = any failure)
 * soak: 0s                 # wait after a batch succeeded before the next starts; failures during
 *                          # the soak still count
 * progressDeadline: 10m    # a released device not READY within this has failed (unless it is
 *                          # offline); also the deadline of a batch
 * onFailure: pause         # pause | rollback
 * offlineAtDeadline: proceed  # proceed | pause: at a batch's deadline, go on without devices
 *                          # that are offline (they update when they return), or pause
 * disruptionBudget: {tag: site, maxUnavailable: 1}  # optional: at most N devices per distinct
 *                          # value of the tag updating at once; devices without the tag form
 *                          # one group ""
 * stagingTimeout: 24h      # how long a batch waits for its devices to download the new
 *                          # revision's artifacts ahead (staging); after it, a device still
 *                          # staging counts as pending and the batch goes on without it
 * maintenance:             # optional
 *   tag: maintenance       # device tag naming the device's window (default maintenance)
 *   timeZoneTag: tz        # device tag naming the device's time zone (default tz)
 *   default: night         # window for devices without the tag; if absent they are always open
 *   windows:
 *     night: {cron: "0 2 * * *", duration: 3h, timeZone: Europe/Berlin}  # timeZone default UTC
 * }</pre>
 *
 * <p>Rules: batch sizes are counts of at least 1 or percentages from 1% to 100% (of all devices
 * targeted by the rollout); thresholds are percentages from 0% to 100% (a plain number such as
 * {@code 90} is a percentage too); durations are written as in {@code 30s}, {@code 10m}, {@code
 * 2h}, {@code 1d}; the soak may be 0s and the progress deadline is at least 1s; a window lasts 1m
 * to 7d and its name consists of lowercase letters, digits and '-' (at most 63, not starting with
 * '-'). Cron expressions starting with {@code *} or {@code @} must be quoted in YAML. Batches are
 * named {@code canary}, {@code wave-1}, {@code wave-2}, …; without canary and waves there is a
 * single batch {@code all} of 100%.
 *
 * <p>{@link #parse} reports all problems at once, each with its path. Instances are immutable and
 * thread-safe; {@link #equals} compares the parsed model, not the {@link #source()} text.
 */
public final class RolloutPolicy {

  /** What a rollout does when a batch fails. */
  public enum FailureAction {
    PAUSE,
    ROLLBACK
  }

  /** What a rollout does at a batch's deadline when some of its devices are offline. */
  public enum OfflineAction {
    PROCEED,
    PAUSE
  }

  /**
   * When a batch has succeeded or failed.
   *
   * @param successPercent 0–100: the batch succeeds once at least this percent of its devices are
   *     READY on the new version
   * @param failurePercent 0–100: the batch fails once more than this percent of its devices failed
   * @param soak at least zero: the wait after success before the next batch starts
   * @param progressDeadline at least 1s: how long a released device may take to become READY, and
   *     the batch's deadline
   */
  public record Thresholds(
      int successPercent, int failurePercent, Duration soak, Duration progressDeadline) {
    /** The defaults: success 100%, failure 0%, soak 0s, progress deadline 10m. */
    public static final Thresholds DEFAULT =
        new Thresholds(100, 0, Duration.ZERO, Duration.ofMinutes(10));

    public Thresholds {
      Objects.requireNonNull(soak, "soak");
      Objects.requireNonNull(progressDeadline, "progressDeadline");
      if (successPercent < 0 || successPercent > 100) {
        throw new IllegalArgumentException(
            "successPercent " + successPercent + " is not between 0 and 100");
      }
      if (failurePercent < 0 || failurePercent > 100) {
        throw new IllegalArgumentException(
            "failurePercent " + failurePercent + " is not between 0 and 100");
      }
      if (soak.isNegative()) {
        throw new IllegalArgumentException("soak " + soak + " is negative");
      }
      if (progressDeadline.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException(
            "progressDeadline " + progressDeadline + " is shorter than 1s");
      }
    }
  }

  /** The size of a batch; consume with an exhaustive {@code switch}. */
  public sealed interface Size permits Count, Percent, ByTag {}

  /** A fixed number of devices, at least 1 (capped at the devices remaining). */
  public record Count(int devices) implements Size {
    public Count {
      if (devices < 1) {
        throw new IllegalArgumentException("a batch needs at least 1 device, not " + devices);
      }
    }
  }

  /** A percentage (1–100) of all devices targeted, rounded up (capped at the devices remaining). */
  public record Percent(int percent) implements Size {
    public Percent {
      if (percent < 1 || percent > 100) {
        throw new IllegalArgumentException(percent + "% is not between 1% and 100%");
      }
    }
  }

  /** All remaining devices, one batch per distinct value of {@code tag}. */
  public record ByTag(String tag) implements Size {
    public ByTag {
      Objects.requireNonNull(tag, "tag");
      if (tag.isBlank()) {
        throw new IllegalArgumentException("byTag needs a tag key");
      }
    }
  }

  /**
   * One step of the rollout as written in the policy; {@link ByTag} steps expand to several batches
   * in {@link BatchPlanner}.
   */
  public record BatchSpec(String name, Size size, Thresholds thresholds) {
    public BatchSpec {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(size, "size");
      Objects.requireNonNull(thresholds, "thresholds");
    }
  }

  /**
   * At most {@code maxUnavailable} (at least 1) devices per distinct value of {@code tag} may be
   * updating (released, not yet READY) at once; devices without the tag form one group {@code ""}.
   */
  public record DisruptionBudget(String tag, int maxUnavailable) {
    public DisruptionBudget {
      Objects.requireNonNull(tag, "tag");
      if (tag.isBlank()) {
        throw new IllegalArgumentException("a disruption budget needs a tag key");
      }
      if (maxUnavailable < 1) {
        throw new IllegalArgumentException(
            "maxUnavailable must be at least 1, not " + maxUnavailable);
      }
    }
  }

  private static final YAMLMapper MAPPER =
      YAMLMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  private static final Pattern WHOLE = Pattern.compile("\\d{1,9}");
  private static final Pattern PERCENT = Pattern.compile("(\\d{1,9})\\s*%");
  private static final Pattern MARK = Pattern.compile("line (\\d+), column (\\d+)");

  private static final List<String> TOP_FIELDS =
      List.of(
          "canary",
          "waves",
          "successThreshold",
          "failureThreshold",
          "soak",
          "progressDeadline",
          "onFailure",
          "offlineAtDeadline",
          "disruptionBudget",
          "maintenance",
          "stagingTimeout");
  private static final List<String> THRESHOLD_FIELDS =
      List.of("successThreshold", "failureThreshold", "soak", "progressDeadline");
  private static final List<String> BATCH_FIELDS =
      List.of("size", "successThreshold", "failureThreshold", "soak", "progressDeadline");
  private static final List<String> BY_TAG_FIELDS =
      List.of("byTag", "successThreshold", "failureThreshold", "soak", "progressDeadline");
  private static final List<String> BUDGET_FIELDS = List.of("tag", "maxUnavailable");
  private static final List<String> MAINTENANCE_FIELDS =
      List.of("tag", "timeZoneTag", "default", "windows");
  private static final List<String> WINDOW_FIELDS = List.of("cron", "duration", "timeZone");

  /** How long a batch waits for its devices to stage when the policy does not say. */
  public static final Duration DEFAULT_STAGING_TIMEOUT = Duration.ofHours(24);

  private static final RolloutPolicy DEFAULTS = parse("");

  private final String source;
  private final List<BatchSpec> batches;
  private final Thresholds defaults;
  private final FailureAction onFailure;
  private final OfflineAction offlineAtDeadline;
  private final Optional<DisruptionBudget> disruptionBudget;
  private final MaintenanceWindows maintenance;
  private final Duration stagingTimeout;

  private RolloutPolicy(
      String source,
      List<BatchSpec> batches,
      Thresholds defaults,
      FailureAction onFailure,
      OfflineAction offlineAtDeadline,
      Optional<DisruptionBudget> disruptionBudget,
      MaintenanceWindows maintenance,
      Duration stagingTimeout) {
    this.stagingTimeout = stagingTimeout;
    this.source = source;
    this.batches = List.copyOf(batches);
    this.defaults = defaults;
    this.onFailure = onFailure;
    this.offlineAtDeadline = offlineAtDeadline;
    this.disruptionBudget = disruptionBudget;
    this.maintenance = maintenance;
  }

  /**
   * Parses and validates a policy.
   *
   * @param yamlText YAML or JSON; empty or blank text, a document holding only comments, and {@code
   *     {}} all mean the defaults
   * @throws RolloutPolicyException listing every problem found, each with its path
   */
  public static RolloutPolicy parse(String yamlText) {
    Objects.requireNonNull(yamlText, "yamlText");
    JsonNode root = readTree(yamlText);
    Reader reader = new Reader();
    RolloutPolicy policy = reader.policy(yamlText, root);
    if (!reader.problems.isEmpty()) {
      throw new RolloutPolicyException(reader.problems);
    }
    return policy;
  }

  /**
   * The policy of an empty document (equal to {@code parse("")}): one batch {@code all} of 100%,
   * {@link Thresholds#DEFAULT}, pause on failure, proceed without offline devices, no disruption
   * budget, no maintenance windows. The default thresholds of a policy are {@link
   * #defaultThresholds()}.
   */
  public static RolloutPolicy defaults() {
    return DEFAULTS;
  }

  private static JsonNode readTree(String text) {
    if (text.isBlank()) {
      return MAPPER.createObjectNode();
    }
    try (JsonParser parser = MAPPER.createParser(text)) {
      JsonNode root = MAPPER.readTree(parser);
      if (root != null && parser.nextToken() != null) {
        throw new RolloutPolicyException(
            List.of("the text holds more than one YAML document; a policy is a single document"));
      }
      return root == null || root.isMissingNode() || root.isNull()
          ? MAPPER.createObjectNode()
          : root;
    } catch (JsonProcessingException e) {
      throw new RolloutPolicyException(List.of(yamlProblem(e)));
    } catch (IOException e) {
      throw new IllegalStateException("reading a string cannot fail", e);
    }
  }

  private static String yamlProblem(JsonProcessingException e) {
    String message = String.valueOf(e.getOriginalMessage());
    // SnakeYAML messages interleave sentences with marks (" in 'reader', line …" followed by an
    // indented source excerpt and caret); keep the sentences, the location is added below.
    List<String> sentences = new ArrayList<>();
    String where = "";
    boolean inMark = false;
    for (String line : message.lines().toList()) {
      if (line.startsWith(" in '")) {
        inMark = true;
        Matcher m = MARK.matcher(line);
        if (m.find()) {
          where = " (line " + m.group(1) + ", column " + m.group(2) + ")";
        }
      } else if (!(inMark && line.startsWith("    ")) && !line.isBlank()) {
        inMark = false;
        sentences.add(line.strip());
      }
    }
    StringBuilder problem =
        new StringBuilder("not valid YAML: ").append(String.join(": ", sentences));
    JsonLocation location = e.getLocation();
    if (!where.isEmpty()) {
      problem.append(where); // SnakeYAML's problem mark points at the offending character
    } else if (location != null && location.getLineNr() > 0) {
      problem
          .append(" (line ")
          .append(location.getLineNr())
          .append(", column ")
          .append(location.getColumnNr())
          .append(")");
    }
    String lower = message.toLowerCase(Locale.ROOT);
    if (lower.contains("alias") || lower.contains("anchor") || lower.contains("'@'")) {
      problem.append(
          "; values starting with '*' or '@' (such as cron expressions) must be quoted,"
              + " e.g. cron: \"*/5 * * * *\"");
    }
    return problem.toString();
  }

  /** Collects every problem while building the policy from the tree. */
  private static final class Reader {
    final List<String> problems = new ArrayList<>();

    RolloutPolicy policy(String source, JsonNode root) {
      if (!root.isObject()) {
        problems.add(
            "a policy must be a YAML mapping of fields such as 'canary: 10%', not " + kind(root));
        return null;
      }
      unknownFields(root, "", TOP_FIELDS);
      Thresholds defaults = thresholds(root, "", Thresholds.DEFAULT);
      List<BatchSpec> batches = new ArrayList<>();
      field(root, "canary")
          .flatMap(n -> batch(n, "canary", "canary", defaults))
          .ifPresent(batches::add);
      field(root, "waves").ifPresent(n -> waves(n, defaults, batches));
      if (!root.has("canary") && !root.has("waves")) {
        batches.add(new BatchSpec("all", new Percent(100), defaults));
      }
      FailureAction onFailure =
          field(root, "onFailure")
              .flatMap(n -> choice(n, "onFailure", FailureAction.class))
              .orElse(FailureAction.PAUSE);
      OfflineAction offline =
          field(root, "offlineAtDeadline")
              .flatMap(n -> choice(n, "offlineAtDeadline", OfflineAction.class))
              .orElse(OfflineAction.PROCEED);
      Optional<DisruptionBudget> budget = field(root, "disruptionBudget").flatMap(this::budget);
      MaintenanceWindows maintenance =
          field(root, "maintenance").map(this::maintenance).orElse(MaintenanceWindows.ALWAYS);
      Duration stagingTimeout =
          field(root, "stagingTimeout")
              .flatMap(n -> duration(n, "stagingTimeout", Duration.ofMinutes(1)))
              .orElse(DEFAULT_STAGING_TIMEOUT);
      if (!problems.isEmpty()) {
        return null;
      }
      return new RolloutPolicy(
          source, batches, defaults, onFailure, offline, budget, maintenance, stagingTimeout);
    }

    /** The value of a field, or empty if absent; an explicit null is reported as a problem. */
    Optional<JsonNode> field(JsonNode object, String name) {
      return field(object, "", name);
    }

    Optional<JsonNode> field(JsonNode object, String parentPath, String name) {
      JsonNode value = object.get(name);
      if (value == null) {
        return Optional.empty();
      }
      if (value.isNull()) {
        problems.add(path(parentPath, name) + ": has no value; give one or leave the field out");
        return Optional.empty();
      }
      return Optional.of(value);
    }

    void unknownFields(JsonNode object, String path, List<String> known) {
      Iterator<String> names = object.fieldNames();
      while (names.hasNext()) {
        String name = names.next();
        if (!known.contains(name)) {
          problems.add(
              (path.isEmpty() ? "" : path + ": ")
                  + "unknown field '"
                  + name
                  + "' (known: "
                  + String.join(", ", known)
                  + ")");
        }
      }
    }

    Thresholds thresholds(JsonNode object, String path, Thresholds base) {
      int success =
          field(object, path, "successThreshold")
              .flatMap(n -> percent(n, path(path, "successThreshold"), 0))
              .orElse(base.successPercent());
      int failure =
          field(object, path, "failureThreshold")
              .flatMap(n -> percent(n, path(path, "failureThreshold"), 0))
              .orElse(base.failurePercent());
      Duration soak =
          field(object, path, "soak")
              .flatMap(n -> duration(n, path(path, "soak"), Duration.ZERO))
              .orElse(base.soak());
      Duration deadline =
          field(object, path, "progressDeadline")
              .flatMap(n -> duration(n, path(path, "progressDeadline"), Duration.ofSeconds(1)))
              .orElse(base.progressDeadline());
      return new Thresholds(success, failure, soak, deadline);
    }

    Optional<BatchSpec> batch(JsonNode node, String path, String name, Thresholds defaults) {
      if (node.isObject()) {
        unknownFields(node, path, BATCH_FIELDS);
        Thresholds thresholds = thresholds(node, path, defaults);
        Optional<JsonNode> sizeNode = field(node, path, "size");
        if (sizeNode.isEmpty() && !node.has("size")) {
          problems.add(path + ": 'size' is required (a count such as 3 or a percent such as 10%)");
        }
        return sizeNode
            .flatMap(n -> size(n, path(path, "size")))
            .map(s -> new BatchSpec(name, s, thresholds));
      }
      return size(node, path).map(s -> new BatchSpec(name, s, defaults));
    }

    Optional<Size> size(JsonNode node, String path) {
      String text = node.asText().strip();
      if (node.isIntegralNumber() || (node.isTextual() && WHOLE.matcher(text).matches())) {
        long n = node.isIntegralNumber() ? node.asLong() : Long.parseLong(text);
        if (n < 1 || n > Integer.MAX_VALUE) {
          problems.add(path + ": '" + text + "' is not a device count of at least 1");
          return Optional.empty();
        }
        return Optional.of(new Count((int) n));
      }
      Matcher m = PERCENT.matcher(text);
      if (node.isTextual() && m.matches()) {
        long p = Long.parseLong(m.group(1));
        if (p < 1 || p > 100) {
          problems.add(path + ": '" + text + "' is not a percentage between 1% and 100%");
          return Optional.empty();
        }
        return Optional.of(new Percent((int) p));
      }
      if (!node.isValueNode()) {
        problems.add(
            path
                + ": expected a device count such as 3 or a percentage such as 10%, not "
                + kind(node));
        return Optional.empty();
      }
      problems.add(
          path
              + ": '"
              + text
              + "' is not a batch size: use a device count such as 3 or a percentage such as 10%");
      return Optional.empty();
    }

    /** A percentage between {@code min}% and 100%, written {@code 90%}, {@code "90"} or 90. */
    Optional<Integer> percent(JsonNode node, String path, int min) {
      if (!node.isValueNode()) {
        problems.add(path + ": expected a percentage such as 90%, not " + kind(node));
        return Optional.empty();
      }
      String text = node.asText().strip();
      OptionalInt value = OptionalInt.empty();
      if (node.isIntegralNumber()) {
        value = node.canConvertToInt() ? OptionalInt.of(node.asInt()) : OptionalInt.of(-1);
      } else if (node.isTextual()) {
        Matcher m = PERCENT.matcher(text);
        if (m.matches()) {
          value = OptionalInt.of(Integer.parseInt(m.group(1)));
        } else if (WHOLE.matcher(text).matches()) {
          value = OptionalInt.of(Integer.parseInt(text));
        }
      }
      if (value.isEmpty() || value.getAsInt() < min || value.getAsInt() > 100) {
        problems.add(path + ": '" + text + "' is not a percentage between " + min + "% and 100%");
        return Optional.empty();
      }
      return Optional.of(value.getAsInt());
    }

    Optional<Duration> duration(JsonNode node, String path, Duration min) {
      if (!node.isValueNode()) {
        problems.add(path + ": expected a duration such as 10m, not " + kind(node));
        return Optional.empty();
      }
      Duration d;
      try {
        d = Durations.parse(node.asText());
      } catch (IllegalArgumentException e) {
        problems.add(path + ": " + e.getMessage());
        return Optional.empty();
      }
      if (d.compareTo(min) < 0) {
        problems.add(
            path + ": '" + node.asText() + "' is shorter than the minimum " + Durations.human(min));
        return Optional.empty();
      }
      return Optional.of(d);
    }

    <E extends Enum<E>> Optional<E> choice(JsonNode node, String path, Class<E> type) {
      String choices =
          String.join(
              ", ",
              Stream.of(type.getEnumConstants())
                  .map(e -> e.name().toLowerCase(Locale.ROOT))
                  .sorted()
                  .toList());
      if (!node.isValueNode()) {
        problems.add(path + ": expected one of " + choices + ", not " + kind(node));
        return Optional.empty();
      }
      String text = node.asText().strip();
      for (E e : type.getEnumConstants()) {
        if (e.name().equalsIgnoreCase(text)) {
          return Optional.of(e);
        }
      }
      problems.add(path + ": '" + text + "' is not one of " + choices);
      return Optional.empty();
    }

    Optional<String> text(JsonNode node, String path, String what) {
      if (!node.isTextual() && !node.isNumber()) {
        problems.add(path + ": expected " + what + ", not " + kind(node));
        return Optional.empty();
      }
      String text = node.asText().strip();
      if (text.isEmpty()) {
        problems.add(path + ": must not be empty; expected " + what);
        return Optional.empty();
      }
      return Optional.of(text);
    }

    void waves(JsonNode node, Thresholds defaults, List<BatchSpec> batches) {
      if (node.isArray()) {
        if (node.isEmpty()) {
          problems.add("waves: lists no waves; give at least one or leave 'waves' out");
        }
        for (int i = 0; i < node.size(); i++) {
          String path = "waves[" + i + "]";
          if (node.get(i).isNull()) {
            problems.add(path + ": has no value; give a batch size such as 50%");
            continue;
          }
          batch(node.get(i), path, "wave-" + (i + 1), defaults).ifPresent(batches::add);
        }
      } else if (node.isObject()) {
        unknownFields(node, "waves", BY_TAG_FIELDS);
        Thresholds thresholds = thresholds(node, "waves", defaults);
        if (!node.has("byTag")) {
          problems.add(
              "waves: as a mapping, 'byTag: <tag>' is required (or give a list such as [50%, 50%])");
          return;
        }
        field(node, "waves", "byTag")
            .flatMap(n -> text(n, "waves.byTag", "a tag key such as region"))
            .ifPresent(tag -> batches.add(new BatchSpec("by-" + tag, new ByTag(tag), thresholds)));
      } else {
        problems.add(
            "waves: expected a list of batch sizes such as [50%, 50%] or {byTag: <tag>}, not "
                + kind(node));
      }
    }

    Optional<DisruptionBudget> budget(JsonNode node) {
      if (!node.isObject()) {
        problems.add(
            "disruptionBudget: expected a mapping such as {tag: site, maxUnavailable: 1}, not "
                + kind(node));
        return Optional.empty();
      }
      unknownFields(node, "disruptionBudget", BUDGET_FIELDS);
      Optional<String> tag = Optional.empty();
      if (!node.has("tag")) {
        problems.add("disruptionBudget: 'tag' is required (the device tag to group by, e.g. site)");
      } else {
        tag =
            field(node, "disruptionBudget", "tag")
                .flatMap(n -> text(n, "disruptionBudget.tag", "a tag key such as site"));
      }
      int max = 1;
      Optional<JsonNode> maxNode = field(node, "disruptionBudget", "maxUnavailable");
      if (maxNode.isPresent()) {
        JsonNode n = maxNode.get();
        String text = n.asText().strip();
        boolean whole =
            (n.isIntegralNumber() && n.canConvertToInt())
                || (n.isTextual() && WHOLE.matcher(text).matches());
        int value = whole ? Integer.parseInt(text) : 0;
        if (value < 1) {
          problems.add(
              "disruptionBudget.maxUnavailable: '"
                  + (n.isValueNode() ? text : kind(n))
                  + "' is not a whole number of at least 1");
        } else {
          max = value;
        }
      }
      int maxUnavailable = max;
      return tag.map(t -> new DisruptionBudget(t, maxUnavailable));
    }

    MaintenanceWindows maintenance(JsonNode node) {
      if (!node.isObject()) {
        problems.add(
            "maintenance: expected a mapping with 'windows' (and optionally tag, timeZoneTag,"
                + " default), not "
                + kind(node));
        return MaintenanceWindows.ALWAYS;
      }
      unknownFields(node, "maintenance", MAINTENANCE_FIELDS);
      String tag =
          field(node, "maintenance", "tag")
              .flatMap(n -> text(n, "maintenance.tag", "a tag key such as maintenance"))
              .orElse(MaintenanceWindows.DEFAULT_TAG);
      String timeZoneTag =
          field(node, "maintenance", "timeZoneTag")
              .flatMap(n -> text(n, "maintenance.timeZoneTag", "a tag key such as tz"))
              .orElse(MaintenanceWindows.DEFAULT_TIME_ZONE_TAG);
      List<Window> windows = new ArrayList<>();
      List<String> names = new ArrayList<>();
      Optional<JsonNode> windowsNode = field(node, "maintenance", "windows");
      if (!node.has("windows")) {
        problems.add(
            "maintenance.windows: at least one window is required, e.g."
                + " night: {cron: \"0 2 * * *\", duration: 3h}");
      } else if (windowsNode.isPresent()) {
        JsonNode w = windowsNode.get();
        if (!w.isObject() || w.isEmpty()) {
          problems.add(
              "maintenance.windows: expected a mapping of window names to windows, e.g."
                  + " night: {cron: \"0 2 * * *\", duration: 3h}");
        } else {
          for (Map.Entry<String, JsonNode> entry : w.properties()) {
            names.add(entry.getKey());
            window(entry.getKey(), entry.getValue()).ifPresent(windows::add);
          }
        }
      }
      Optional<String> defaultWindow =
          field(node, "maintenance", "default")
              .flatMap(n -> text(n, "maintenance.default", "a window name such as night"));
      if (defaultWindow.isPresent() && !names.contains(defaultWindow.get())) {
        problems.add(
            "maintenance.default: '"
                + defaultWindow.get()
                + "' names no window (known: "
                + String.join(", ", names)
                + ")");
        return MaintenanceWindows.ALWAYS;
      }
      if (!problems.isEmpty()) {
        return MaintenanceWindows.ALWAYS; // the policy is invalid anyway
      }
      return defaultWindow
          .map(d -> new MaintenanceWindows(tag, timeZoneTag, windows, d))
          .orElseGet(() -> new MaintenanceWindows(tag, timeZoneTag, windows));
    }

    Optional<Window> window(String name, JsonNode node) {
      String path = "maintenance.windows." + name;
      int before = problems.size();
      if (!MaintenanceWindows.WINDOW_NAME.matcher(name).matches()) {
        problems.add(
            path
                + ": '"
                + name
                + "' is not a valid window name: use lowercase letters, digits and '-',"
                + " starting with a letter or digit, at most 63 characters");
      }
      if (!node.isObject()) {
        problems.add(
            path
                + ": expected a mapping such as {cron: \"0 2 * * *\", duration: 3h}, not "
                + kind(node));
        return Optional.empty();
      }
      unknownFields(node, path, WINDOW_FIELDS);
      Optional<Cron> cron = Optional.empty();
      if (!node.has("cron")) {
        problems.add(path + ": 'cron' is required, e.g. cron: \"0 2 * * *\"");
      } else {
        cron =
            field(node, path, "cron")
                .flatMap(n -> text(n, path + ".cron", "a cron expression such as \"0 2 * * *\""))
                .flatMap(
                    text -> {
                      try {
                        return Optional.of(Cron.parse(text));
                      } catch (IllegalArgumentException e) {
                        problems.add(path + ".cron: " + e.getMessage());
                        return Optional.empty();
                      }
                    });
      }
      Optional<Duration> duration = Optional.empty();
      if (!node.has("duration")) {
        problems.add(path + ": 'duration' is required, e.g. duration: 3h");
      } else {
        duration =
            field(node, path, "duration")
                .flatMap(n -> duration(n, path + ".duration", Duration.ZERO))
                .filter(
                    d -> {
                      boolean ok =
                          d.compareTo(MaintenanceWindows.MIN_DURATION) >= 0
                              && d.compareTo(MaintenanceWindows.MAX_DURATION) <= 0;
                      if (!ok) {
                        problems.add(
                            path
                                + ".duration: '"
                                + node.get("duration").asText()
                                + "' is not between 1m and 7d");
                      }
                      return ok;
                    });
      }
      ZoneId zone = ZoneOffset.UTC;
      Optional<String> zoneName =
          field(node, path, "timeZone")
              .flatMap(n -> text(n, path + ".timeZone", "an IANA time zone such as Europe/Berlin"));
      if (zoneName.isPresent()) {
        try {
          zone = ZoneId.of(zoneName.get());
        } catch (DateTimeException e) {
          problems.add(
              path
                  + ".timeZone: '"
                  + zoneName.get()
                  + "' is not a time zone (use an IANA name such as Europe/Berlin)");
        }
      }
      if (problems.size() > before || cron.isEmpty() || duration.isEmpty()) {
        return Optional.empty();
      }
      return Optional.of(new Window(name, cron.get(), duration.get(), zone));
    }

    private static String path(String parent, String name) {
      return parent.isEmpty() ? name : parent + "." + name;
    }

    private static String kind(JsonNode node) {
      if (node.isObject()) {
        return "a mapping";
      }
      if (node.isArray()) {
        return "a list";
      }
      if (node.isNull() || node.isMissingNode()) {
        return "nothing";
      }
      return "'" + node.asText() + "'";
    }
  }

  /** The batches as written: canary first if given, then the waves in order. Never empty. */
  public List<BatchSpec> batches() {
    return batches;
  }

  /**
   * The top-level thresholds: the base of every batch's thresholds, and those of the leftover batch
   * {@code rest}. (Not named {@code defaults()}: that is the static default policy.)
   */
  public Thresholds defaultThresholds() {
    return defaults;
  }

  public FailureAction onFailure() {
    return onFailure;
  }

  public OfflineAction offlineAtDeadline() {
    return offlineAtDeadline;
  }

  public Optional<DisruptionBudget> disruptionBudget() {
    return disruptionBudget;
  }

  /**
   * How long a batch waits for a device to hold the new revision's artifacts before it counts the
   * device as pending and goes on without it; {@link #DEFAULT_STAGING_TIMEOUT} when not given.
   */
  public Duration stagingTimeout() {
    return stagingTimeout;
  }

  /** The maintenance windows; {@link MaintenanceWindows#ALWAYS} when the policy names none. */
  public MaintenanceWindows maintenance() {
    return maintenance;
  }

  /** The text this policy was parsed from, verbatim; {@code parse(source())} equals this. */
  public String source() {
    return source;
  }

  /**
   * One short human line, e.g. {@code canary 10%, waves 50%, 50%; success ≥100%, soak 5m, deadline
   * 10m; on failure rollback}.
   */
  public String describe() {
    List<String> steps = new ArrayList<>();
    List<String> waves = new ArrayList<>();
    for (BatchSpec b : batches) {
      switch (b.size()) {
        case ByTag byTag -> steps.add("one wave per " + byTag.tag());
        case Count c when b.name().equals("canary") -> steps.add("canary " + size(c));
        case Percent p when b.name().equals("canary") -> steps.add("canary " + size(p));
        case Count c when b.name().equals("all") -> steps.add("all at once");
        case Percent p when b.name().equals("all") -> steps.add("all at once");
        case Count c -> waves.add(size(c));
        case Percent p -> waves.add(size(p));
      }
    }
    if (!waves.isEmpty()) {
      steps.add("waves " + String.join(", ", waves));
    }
    StringBuilder line = new StringBuilder(String.join(", ", steps));
    line.append("; success ≥").append(defaults.successPercent()).append('%');
    if (defaults.failurePercent() > 0) {
      line.append(", failures ≤").append(defaults.failurePercent()).append('%');
    }
    if (!defaults.soak().isZero()) {
      line.append(", soak ").append(Durations.human(defaults.soak()));
    }
    line.append(", deadline ").append(Durations.human(defaults.progressDeadline()));
    line.append("; on failure ").append(onFailure.name().toLowerCase(Locale.ROOT));
    if (offlineAtDeadline == OfflineAction.PAUSE) {
      line.append("; pause for offline devices at deadline");
    }
    disruptionBudget.ifPresent(
        b ->
            line.append("; at most ")
                .append(b.maxUnavailable())
                .append(" updating per ")
                .append(b.tag()));
    if (!maintenance.isAlways()) {
      line.append("; maintenance windows ")
          .append(String.join(", ", maintenance.windows().stream().map(Window::name).toList()));
      maintenance.defaultWindow().ifPresent(d -> line.append(" (default ").append(d).append(')'));
    }
    if (!stagingTimeout.equals(DEFAULT_STAGING_TIMEOUT)) {
      line.append("; staging timeout ").append(Durations.human(stagingTimeout));
    }
    return line.toString();
  }

  private static String size(Size size) {
    return switch (size) {
      case Count c -> c.devices() == 1 ? "1 device" : c.devices() + " devices";
      case Percent p -> p.percent() + "%";
      case ByTag t -> "by " + t.tag();
    };
  }

  /** Equal iff the parsed models are equal; the source texts may differ. */
  @Override
  public boolean equals(Object o) {
    return o instanceof RolloutPolicy other
        && other.batches.equals(batches)
        && other.defaults.equals(defaults)
        && other.onFailure == onFailure
        && other.offlineAtDeadline == offlineAtDeadline
        && other.disruptionBudget.equals(disruptionBudget)
        && other.maintenance.equals(maintenance)
        && other.stagingTimeout.equals(stagingTimeout);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        batches,
        defaults,
        onFailure,
        offlineAtDeadline,
        disruptionBudget,
        maintenance,
        stagingTimeout);
  }

  @Override
  public String toString() {
    return "RolloutPolicy[" + describe() + "]";
  }
}
