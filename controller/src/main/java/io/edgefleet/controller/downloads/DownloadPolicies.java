package io.edgefleet.controller.downloads;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.ErrorCode;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Download policies: when and how much the devices a selector picks may download artifacts
 * (container images, VM disks, agent releases). Each policy has a name, a device tag selector, a
 * byte budget per day (0: none), daily windows in an IANA time zone (none: at any time) and a
 * priority; the policy of highest priority that picks a device applies to it (on equal priority,
 * the first name in alphabetical order), and a device no policy picks may download at any time,
 * without a budget. The applying policy travels in the device's desired state; every change is
 * audited and asks for the desired state of every device to be computed again (only the devices
 * whose applying policy changed get a new document).
 *
 * <p>The policies are few (at most {@value #MAX_POLICIES}) and read on every desired-state
 * computation, so they are held in memory and reloaded after each change. Thread-safe.
 */
public final class DownloadPolicies {
  /** The most policies a controller keeps: each is matched on every desired-state computation. */
  public static final int MAX_POLICIES = 500;

  /** The most windows one policy has. */
  public static final int MAX_WINDOWS = 24;

  /** Priorities run from {@code -MAX_PRIORITY} to {@code MAX_PRIORITY}. */
  public static final int MAX_PRIORITY = 1_000_000;

  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  /**
   * What an operator sends to create or replace a policy.
   *
   * @param selector device tag selector; empty or {@code *} for every device
   * @param bytesPerDay the most bytes of artifacts a device may download per day in the policy's
   *     zone; 0 or absent for no budget
   * @param windows daily windows {@code HH:MM-HH:MM}; empty or absent for any time
   * @param zone IANA time zone id of the windows and of the day the budget counts; absent for UTC
   * @param priority the policy of highest priority among those picking a device applies; absent 0
   */
  public record Request(
      String selector,
      Long bytesPerDay,
      List<String> windows,
      String zone,
      Integer priority,
      String description) {}

  /** A stored policy. */
  public record Policy(
      String name,
      String selector,
      long bytesPerDay,
      List<String> windows,
      String zone,
      int priority,
      String description,
      Instant createdAt,
      String createdBy,
      Instant updatedAt,
      String updatedBy) {
    public Policy {
      windows = List.copyOf(windows);
    }

    /** What the device's desired state says of this policy. */
    public DesiredState.DownloadPolicy section() {
      return new DesiredState.DownloadPolicy(bytesPerDay, windows, zone);
    }
  }

  /** The answer to a put: the policy, and whether it is new. */
  public record Put(Policy policy, boolean created) {}

  private record Matcher(Policy policy, Selector selector) {}

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final Runnable changed;
  private volatile List<Matcher> matchers;

  /**
   * @param changed called after every committed change, so that desired states are computed again
   */
  public DownloadPolicies(Jdbi jdbi, Clock clock, AuditLog audit, Runnable changed) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.changed = changed;
    this.matchers = load();
  }

  /** Every policy, highest priority first, then by name: the order in which they are matched. */
  public List<Policy> list() {
    return matchers.stream().map(Matcher::policy).toList();
  }

  /**
   * @throws ControllerException {@code DOWNLOAD_POLICY_NOT_FOUND} when there is none of that name
   */
  public Policy get(String name) {
    return matchers.stream()
        .map(Matcher::policy)
        .filter(p -> p.name().equals(name))
        .findFirst()
        .orElseThrow(() -> notFound(name));
  }

  /** The policy that applies to a device with these tags, if any. */
  public Optional<Policy> applying(Map<String, String> tags) {
    for (Matcher m : matchers) {
      if (m.selector().matches(tags)) {
        return Optional.of(m.policy());
      }
    }
    return Optional.empty();
  }

  /**
   * The {@code downloads} section of the desired state of a device with these tags; null when no
   * policy applies (any time, no budget).
   */
  public DesiredState.DownloadPolicy sectionFor(Map<String, String> tags) {
    return applying(tags).map(Policy::section).orElse(null);
  }

  /**
   * Creates or replaces the policy {@code name}; idempotent.
   *
   * @throws ControllerException {@code DOWNLOAD_POLICY_INVALID} naming the field that is wrong
   */
  public Put put(String name, Request r, String actor) {
    checkName(name);
    if (r == null) {
      throw invalid("the body must be a JSON object with selector, bytesPerDay, windows, zone");
    }
    String selectorText = r.selector() == null || r.selector().isBlank() ? "*" : r.selector();
    if (selectorText.length() > 2000) {
      throw invalid("selector is longer than 2000 characters");
    }
    Selector selector;
    try {
      selector = Selector.parse("selector", selectorText);
    } catch (ControllerException e) {
      throw new ControllerException(ErrorCode.DOWNLOAD_POLICY_INVALID, e.getMessage());
    }
    long bytes = r.bytesPerDay() == null ? 0 : r.bytesPerDay();
    if (bytes < 0) {
      throw invalid("bytesPerDay must be 0 (no budget) or more, got " + bytes);
    }
    List<String> windows = windows(r.windows());
    String zone = zone(r.zone());
    int priority = r.priority() == null ? 0 : r.priority();
    if (Math.abs((long) priority) > MAX_PRIORITY) {
      throw invalid(
          "priority must be between -"
              + MAX_PRIORITY
              + " and "
              + MAX_PRIORITY
              + ", got "
              + priority);
    }
    String description = r.description() == null ? null : r.description().strip();
    if (description != null && description.length() > 500) {
      throw invalid("description is longer than 500 characters");
    }
    long now = clock.millis();
    boolean created =
        jdbi.inTransaction(
            h -> {
              boolean exists = find(h, name).isPresent();
              if (exists) {
                h.createUpdate(
                        "UPDATE download_policies SET selector = :sel, bytes_per_day = :b, windows"
                            + " = :w, zone = :z, priority = :p, description = :d, updated_at ="
                            + " :now, updated_by = :actor WHERE name = :name")
                    .bind("sel", selector.toString())
                    .bind("b", bytes)
                    .bind("w", String.join(",", windows))
                    .bind("z", zone)
                    .bind("p", priority)
                    .bind("d", description)
                    .bind("now", now)
                    .bind("actor", actor)
                    .bind("name", name)
                    .execute();
              } else {
                int count =
                    h.createQuery("SELECT COUNT(*) FROM download_policies")
                        .mapTo(Integer.class)
                        .one();
                if (count >= MAX_POLICIES) {
                  throw invalid(
                      "this controller holds "
                          + MAX_POLICIES
                          + " download policies, the most it keeps; delete one that is no longer"
                          + " needed");
                }
                h.createUpdate(
                        "INSERT INTO download_policies (name, selector, bytes_per_day, windows,"
                            + " zone, priority, description, created_at, created_by, updated_at,"
                            + " updated_by) VALUES (:name, :sel, :b, :w, :z, :p, :d, :now, :actor,"
                            + " :now, :actor)")
                    .bind("name", name)
                    .bind("sel", selector.toString())
                    .bind("b", bytes)
                    .bind("w", String.join(",", windows))
                    .bind("z", zone)
                    .bind("p", priority)
                    .bind("d", description)
                    .bind("now", now)
                    .bind("actor", actor)
                    .execute();
              }
              Map<String, Object> detail = new LinkedHashMap<>();
              detail.put("selector", selector.toString());
              detail.put("bytesPerDay", bytes);
              detail.put("windows", windows);
              detail.put("zone", zone);
              detail.put("priority", priority);
              audit.record(
                  h,
                  actor,
                  exists ? "download-policy.update" : "download-policy.create",
                  name,
                  detail);
              return !exists;
            });
    reload();
    return new Put(get(name), created);
  }

  /**
   * Deletes a policy; the devices it applied to fall back to the next policy that picks them.
   *
   * @throws ControllerException {@code DOWNLOAD_POLICY_NOT_FOUND} when there is none of that name
   */
  public void delete(String name, String actor) {
    jdbi.useTransaction(
        h -> {
          Policy old = find(h, name).orElseThrow(() -> notFound(name));
          h.createUpdate("DELETE FROM download_policies WHERE name = :name")
              .bind("name", name)
              .execute();
          audit.record(
              h,
              actor,
              "download-policy.delete",
              name,
              Map.of("selector", old.selector(), "priority", old.priority()));
        });
    reload();
  }

  private void reload() {
    matchers = load();
    changed.run();
  }

  private static void checkName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw invalid(
          "name: '"
              + name
              + "' is not a policy name: lower case letters, digits and '-', at most 63, starting"
              + " and ending with a letter or digit");
    }
  }

  private static List<String> windows(List<String> texts) {
    if (texts == null) {
      return List.of();
    }
    if (texts.size() > MAX_WINDOWS) {
      throw invalid("windows: at most " + MAX_WINDOWS + " windows, got " + texts.size());
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) {
      out.add(DownloadWindow.parse("windows[" + i + "]", texts.get(i)).toString());
    }
    return List.copyOf(out);
  }

  private static String zone(String text) {
    if (text == null || text.isBlank()) {
      return "UTC";
    }
    String zone = text.strip();
    try {
      ZoneId id = ZoneId.of(zone);
      if (!zone.equals("UTC") && !ZoneId.getAvailableZoneIds().contains(id.getId())) {
        throw new DateTimeException("not a region");
      }
    } catch (DateTimeException e) {
      throw invalid(
          "zone: '" + text + "' is not an IANA time zone; use a name such as Europe/Berlin or UTC");
    }
    return zone;
  }

  private static ControllerException invalid(String message) {
    return new ControllerException(ErrorCode.DOWNLOAD_POLICY_INVALID, message);
  }

  private static ControllerException notFound(String name) {
    return new ControllerException(
        ErrorCode.DOWNLOAD_POLICY_NOT_FOUND,
        "download policy '" + name + "' does not exist: see `edgefleet download-policies list`");
  }

  private static final String COLUMNS =
      "name, selector, bytes_per_day, windows, zone, priority, description, created_at,"
          + " created_by, updated_at, updated_by";

  private static Optional<Policy> find(Handle h, String name) {
    return h.createQuery("SELECT " + COLUMNS + " FROM download_policies WHERE name = :name")
        .bind("name", name)
        .map((rs, ctx) -> policy(rs))
        .findOne();
  }

  private List<Matcher> load() {
    List<Policy> all =
        jdbi.withHandle(
            h ->
                h.createQuery("SELECT " + COLUMNS + " FROM download_policies")
                    .map((rs, ctx) -> policy(rs))
                    .list());
    return all.stream()
        .sorted(Comparator.comparingInt(Policy::priority).reversed().thenComparing(Policy::name))
        .map(p -> new Matcher(p, Selector.parse(p.selector())))
        .toList();
  }

  private static Policy policy(java.sql.ResultSet rs) throws java.sql.SQLException {
    String windows = rs.getString(4);
    return new Policy(
        rs.getString(1),
        rs.getString(2),
        rs.getLong(3),
        windows.isEmpty() ? List.of() : Arrays.asList(windows.split(",")),
        rs.getString(5),
        rs.getInt(6),
        rs.getString(7),
        Instant.ofEpochMilli(rs.getLong(8)),
        rs.getString(9),
        Instant.ofEpochMilli(rs.getLong(10)),
        rs.getString(11));
  }
}
