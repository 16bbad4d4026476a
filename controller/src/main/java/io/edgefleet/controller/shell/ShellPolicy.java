package io.edgefleet.controller.shell;

import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.ErrorCode;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Jdbi;

/**
 * Who may open a remote shell on which device: grants per role and device tag selector, each valid
 * until a time or without end, optionally needing a second person's approval of a shell request.
 * Holding {@code tunnels:shell} is not enough on its own: a shell needs a grant of one of the
 * caller's roles that selects the device now, and the device's own configuration must allow shells.
 * Thread-safe.
 */
public final class ShellPolicy {
  /** How long a pending request waits for approval. */
  public static final Duration REQUEST_TTL = Duration.ofHours(1);

  /** How long an approval lasts when a grant does not say. */
  public static final int DEFAULT_APPROVAL_MINUTES = 60;

  /** The most grants the controller keeps: each is read on every shell. */
  public static final int MAX_GRANTS = 1000;

  /** The most pending requests one person may have. */
  public static final int MAX_PENDING_PER_REQUESTER = 20;

  private static final Pattern ROLE = Pattern.compile("[a-z][a-z0-9-]{0,63}");

  /** What the policy needs to know about a device. */
  public record Target(
      String id, String name, Map<String, String> tags, List<String> remoteAccess) {
    public Target {
      tags = Map.copyOf(tags);
      remoteAccess = List.copyOf(remoteAccess);
    }
  }

  /** Finds devices by id. */
  @FunctionalInterface
  public interface Devices {
    Optional<Target> find(String deviceId);
  }

  /**
   * API request to create a grant.
   *
   * @param validFor a duration such as {@code 8h} or {@code 30d}; null (and no validUntil) for a
   *     grant without end
   * @param validUntil an instant; exclusive with validFor
   * @param approvalMinutes how long an approval lasts, 1 to 1440; null for 60
   */
  public record GrantRequest(
      String role,
      String selector,
      String validFor,
      Instant validUntil,
      Boolean requireApproval,
      Integer approvalMinutes,
      String description) {}

  public record Grant(
      String id,
      String role,
      String selector,
      Instant validUntil,
      boolean requireApproval,
      int approvalMinutes,
      String description,
      Instant createdAt,
      String createdBy,
      boolean expired) {}

  /** API request for a shell that needs approval. */
  public record RequestInput(String device, String reason) {}

  public record Request(
      String id,
      String requester,
      String device,
      String reason,
      String state,
      Instant createdAt,
      Instant expiresAt,
      String decidedBy,
      Instant decidedAt) {}

  /** What allowed a shell: the grant, and the approved request when the grant needs one. */
  public record Allowed(String grantId, Optional<String> requestId) {}

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final Devices devices;
  private final Predicate<String> roleExists;

  public ShellPolicy(
      Jdbi jdbi, Clock clock, AuditLog audit, Devices devices, Predicate<String> roleExists) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.devices = devices;
    this.roleExists = roleExists;
  }

  // ---- grants ----------------------------------------------------------------------------------

  public Grant grant(GrantRequest req, String actor) {
    if (req.role() == null || !ROLE.matcher(req.role()).matches()) {
      throw ControllerException.invalid(
          "role must name a role (lower case letters, digits and '-'), got '" + req.role() + "'");
    }
    if (!roleExists.test(req.role())) {
      throw ControllerException.invalid(
          "there is no role '" + req.role() + "': see `edgefleet roles list`");
    }
    String selectorText = req.selector() == null || req.selector().isBlank() ? "*" : req.selector();
    if (selectorText.length() > 2000) {
      throw ControllerException.invalid("selector is longer than 2000 characters");
    }
    Selector.parse("selector", selectorText);
    Instant now = clock.instant();
    Instant until;
    if (req.validFor() != null && req.validUntil() != null) {
      throw ControllerException.invalid("give validFor or validUntil, not both");
    } else if (req.validFor() != null) {
      Duration d;
      try {
        d = Durations.parse(req.validFor());
      } catch (IllegalArgumentException e) {
        throw ControllerException.invalid("validFor: " + e.getMessage());
      }
      if (d.isZero() || d.isNegative()) {
        throw ControllerException.invalid("validFor must be positive");
      }
      until = now.plus(d);
    } else {
      until = req.validUntil();
      if (until != null && !until.isAfter(now)) {
        throw ControllerException.invalid("validUntil " + until + " has passed already");
      }
    }
    int minutes = req.approvalMinutes() == null ? DEFAULT_APPROVAL_MINUTES : req.approvalMinutes();
    if (minutes < 1 || minutes > 1440) {
      throw ControllerException.invalid("approvalMinutes must be 1 to 1440, got " + minutes);
    }
    if (req.description() != null && req.description().length() > 500) {
      throw ControllerException.invalid("description is longer than 500 characters");
    }
    boolean approval = Boolean.TRUE.equals(req.requireApproval());
    String id = Ids.next("shg");
    jdbi.useTransaction(
        h -> {
          int count = h.createQuery("SELECT COUNT(*) FROM shell_grants").mapTo(Integer.class).one();
          if (count >= MAX_GRANTS) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "there are " + count + " shell grants, the most kept: delete expired ones first");
          }
          h.createUpdate(
                  "INSERT INTO shell_grants (id, role, selector, valid_until, require_approval,"
                      + " approval_minutes, description, created_at, created_by) VALUES (:id,"
                      + " :role, :selector, :until, :approval, :minutes, :description, :now,"
                      + " :actor)")
              .bind("id", id)
              .bind("role", req.role())
              .bind("selector", selectorText)
              .bind("until", until == null ? null : until.toEpochMilli())
              .bind("approval", approval)
              .bind("minutes", minutes)
              .bind("description", req.description())
              .bind("now", now.toEpochMilli())
              .bind("actor", actor)
              .execute();
          Map<String, Object> detail = new LinkedHashMap<>();
          detail.put("role", req.role());
          detail.put("selector", selectorText);
          detail.put("validUntil", until == null ? "never" : until.toString());
          detail.put("requireApproval", approval);
          audit.record(h, actor, "shell-grant.create", id, detail);
        });
    return new Grant(
        id,
        req.role(),
        selectorText,
        until,
        approval,
        minutes,
        req.description(),
        now,
        actor,
        false);
  }

  public List<Grant> grants() {
    long now = clock.millis();
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT * FROM shell_grants ORDER BY created_at, id")
                .map((rs, ctx) -> grant(rs, now))
                .list());
  }

  public void revoke(String id, String actor) {
    jdbi.useTransaction(
        h -> {
          int n =
              h.createUpdate("DELETE FROM shell_grants WHERE id = :id").bind("id", id).execute();
          if (n == 0) {
            throw ControllerException.notFound("shell grant", id);
          }
          audit.record(h, actor, "shell-grant.delete", id, Map.of());
        });
  }

  private static Grant grant(ResultSet rs, long now) throws SQLException {
    long until = rs.getLong("valid_until");
    boolean hasEnd = !rs.wasNull();
    return new Grant(
        rs.getString("id"),
        rs.getString("role"),
        rs.getString("selector"),
        hasEnd ? Instant.ofEpochMilli(until) : null,
        rs.getBoolean("require_approval"),
        rs.getInt("approval_minutes"),
        rs.getString("description"),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        rs.getString("created_by"),
        hasEnd && until <= now);
  }

  /** The grants in force now that one of the principal's roles holds and that select the device. */
  private List<Grant> covering(Principal p, Target device) {
    Set<String> roles = rolesOn(p, device);
    List<Grant> out = new ArrayList<>();
    for (Grant g : grants()) {
      if (!g.expired()
          && roles.contains(g.role())
          && Selector.parse(g.selector()).matches(device.tags())) {
        out.add(g);
      }
    }
    return out;
  }

  static Set<String> rolesOn(Principal p, Target device) {
    return ProjectScope.rolesOn(p, device.tags());
  }

  // ---- the decision ----------------------------------------------------------------------------

  /** The device, or 404 when it does not exist or the caller may not see it. */
  public Target device(String deviceId, Predicate<Map<String, String>> visible) {
    return devices
        .find(deviceId)
        .filter(d -> visible.test(d.tags()))
        .orElseThrow(() -> ControllerException.notFound("device", deviceId));
  }

  /**
   * Decides whether the principal may open a shell on the device now.
   *
   * @throws ControllerException SHELL_DISABLED, SHELL_NOT_GRANTED or SHELL_APPROVAL_REQUIRED with a
   *     message that says what to do next
   */
  public Allowed authorize(Principal p, Target device) {
    if (!device.remoteAccess().contains(DeviceFacts.ALLOW_SHELL)) {
      throw new ControllerException(
          ErrorCode.SHELL_DISABLED,
          "device "
              + device.name()
              + " does not allow remote shells: its own configuration must turn them on (start"
              + " its agent with --allow-shell)");
    }
    List<Grant> grants = covering(p, device);
    if (grants.isEmpty()) {
      throw new ControllerException(
          ErrorCode.SHELL_NOT_GRANTED,
          "no shell grant of "
              + (rolesOn(p, device).isEmpty()
                  ? "your roles"
                  : "your roles " + String.join(", ", rolesOn(p, device)))
              + " covers device "
              + device.name()
              + " now: ask an administrator for one (`edgefleet shell grants create --role ROLE"
              + " --selector SELECTOR --valid-for 8h`)");
    }
    for (Grant g : grants) {
      if (!g.requireApproval()) {
        return new Allowed(g.id(), Optional.empty());
      }
    }
    long now = clock.millis();
    Optional<Request> approved =
        requests(Optional.of(p.name()), Optional.of(device.id())).stream()
            .filter(r -> r.state().equals("approved") && r.expiresAt().toEpochMilli() > now)
            .findFirst();
    if (approved.isPresent()) {
      return new Allowed(grants.getFirst().id(), Optional.of(approved.get().id()));
    }
    Optional<Request> pending =
        requests(Optional.of(p.name()), Optional.of(device.id())).stream()
            .filter(r -> r.state().equals("pending"))
            .findFirst();
    throw new ControllerException(
        ErrorCode.SHELL_APPROVAL_REQUIRED,
        pending
            .map(
                r ->
                    "your shell request "
                        + r.id()
                        + " for device "
                        + device.name()
                        + " waits for approval: another person with tunnels:shell runs"
                        + " `edgefleet shell approve "
                        + r.id()
                        + "`")
            .orElse(
                "a shell on device "
                    + device.name()
                    + " needs a second person's approval: run `edgefleet shell request "
                    + device.name()
                    + " --reason TEXT`, then have another person approve it"));
  }

  // ---- requests --------------------------------------------------------------------------------

  public Request request(Principal p, RequestInput in, Predicate<Map<String, String>> visible) {
    if (in.device() == null || in.device().isBlank()) {
      throw ControllerException.invalid("device is required");
    }
    if (in.reason() == null || in.reason().isBlank()) {
      throw ControllerException.invalid("reason is required: say why the shell is needed");
    }
    if (in.reason().length() > 500) {
      throw ControllerException.invalid("reason is longer than 500 characters");
    }
    Target device = device(in.device(), visible);
    List<Grant> grants = covering(p, device);
    if (grants.isEmpty()) {
      throw new ControllerException(
          ErrorCode.SHELL_NOT_GRANTED,
          "no shell grant of your roles covers device "
              + device.name()
              + ": an approval would not allow a shell; ask an administrator for a grant first");
    }
    Instant now = clock.instant();
    Instant expires = now.plus(REQUEST_TTL);
    int minutes = grants.stream().mapToInt(Grant::approvalMinutes).max().orElseThrow();
    String id = Ids.next("shr");
    jdbi.useTransaction(
        h -> {
          int pending =
              h.createQuery(
                      "SELECT COUNT(*) FROM shell_requests WHERE requester = :r AND state ="
                          + " 'pending' AND expires_at > :now")
                  .bind("r", p.name())
                  .bind("now", now.toEpochMilli())
                  .mapTo(Integer.class)
                  .one();
          if (pending >= MAX_PENDING_PER_REQUESTER) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "you have "
                    + pending
                    + " pending shell requests, the most allowed: wait for them to be decided or"
                    + " to expire");
          }
          h.createUpdate(
                  "INSERT INTO shell_requests (id, requester, device_id, reason, state, created_at,"
                      + " expires_at, approval_minutes) VALUES (:id, :r, :d, :reason, 'pending',"
                      + " :now, :exp, :minutes)")
              .bind("minutes", minutes)
              .bind("id", id)
              .bind("r", p.name())
              .bind("d", device.id())
              .bind("reason", in.reason())
              .bind("now", now.toEpochMilli())
              .bind("exp", expires.toEpochMilli())
              .execute();
          audit.record(
              h,
              p.name(),
              "shell-request.create",
              id,
              Map.of("device", device.id(), "reason", in.reason()));
        });
    return new Request(id, p.name(), device.id(), in.reason(), "pending", now, expires, null, null);
  }

  /**
   * Approves or denies a pending request.
   *
   * @throws ControllerException SHELL_SELF_APPROVAL when the requester decides their own request,
   *     SHELL_REQUEST_STATE_CONFLICT when it is not pending any more, NOT_FOUND
   */
  public Request decide(
      String id, boolean approve, Principal approver, Predicate<Map<String, String>> visible) {
    return jdbi.inTransaction(
        h -> {
          Request r =
              h.createQuery("SELECT * FROM shell_requests WHERE id = :id")
                  .bind("id", id)
                  .map((rs, ctx) -> request(rs, clock.millis()))
                  .findOne()
                  .orElseThrow(() -> ControllerException.notFound("shell request", id));
          Target device =
              devices
                  .find(r.device())
                  .filter(d -> visible.test(d.tags()))
                  .orElseThrow(() -> ControllerException.notFound("shell request", id));
          if (r.requester().equals(approver.name())) {
            throw new ControllerException(
                ErrorCode.SHELL_SELF_APPROVAL,
                "you made shell request "
                    + id
                    + ": another person with tunnels:shell must "
                    + (approve ? "approve" : "deny")
                    + " it");
          }
          if (!r.state().equals("pending")) {
            throw new ControllerException(
                ErrorCode.SHELL_REQUEST_STATE_CONFLICT,
                "shell request "
                    + id
                    + " is "
                    + r.state()
                    + (r.decidedBy() == null ? "" : " (by " + r.decidedBy() + ")")
                    + ": only a pending request can be decided; ask for a new one");
          }
          Instant now = clock.instant();
          Instant expires = r.expiresAt();
          if (approve) {
            int minutes =
                h.createQuery("SELECT approval_minutes FROM shell_requests WHERE id = :id")
                    .bind("id", id)
                    .mapTo(Integer.class)
                    .one();
            expires = now.plus(Duration.ofMinutes(minutes));
          }
          String state = approve ? "approved" : "denied";
          h.createUpdate(
                  "UPDATE shell_requests SET state = :state, decided_by = :by, decided_at = :now,"
                      + " expires_at = :exp WHERE id = :id")
              .bind("state", state)
              .bind("by", approver.name())
              .bind("now", now.toEpochMilli())
              .bind("exp", expires.toEpochMilli())
              .bind("id", id)
              .execute();
          audit.record(
              h,
              approver.name(),
              approve ? "shell-request.approve" : "shell-request.deny",
              id,
              Map.of(
                  "device", r.device(), "requester", r.requester(), "until", expires.toString()));
          return new Request(
              r.id(),
              r.requester(),
              r.device(),
              r.reason(),
              state,
              r.createdAt(),
              expires,
              approver.name(),
              now);
        });
  }

  /** Requests, newest first; an expired request shows as {@code expired}. */
  public List<Request> requests(Optional<String> requester, Optional<String> device) {
    long now = clock.millis();
    StringBuilder sql = new StringBuilder("SELECT * FROM shell_requests WHERE 1 = 1");
    requester.ifPresent(r -> sql.append(" AND requester = :requester"));
    device.ifPresent(d -> sql.append(" AND device_id = :device"));
    sql.append(" ORDER BY created_at DESC, id DESC");
    return jdbi.withHandle(
        h -> {
          var q = h.createQuery(sql.toString());
          requester.ifPresent(r -> q.bind("requester", r));
          device.ifPresent(d -> q.bind("device", d));
          return q.setMaxRows(1000).map((rs, ctx) -> request(rs, now)).list();
        });
  }

  /** The requests the caller may see: those of devices it sees. */
  public List<Request> visibleRequests(
      Optional<String> state, Predicate<Map<String, String>> visible) {
    return requests(Optional.empty(), Optional.empty()).stream()
        .filter(r -> state.map(s -> s.equals(r.state())).orElse(true))
        .filter(r -> devices.find(r.device()).map(d -> visible.test(d.tags())).orElse(false))
        .toList();
  }

  private static Request request(ResultSet rs, long now) throws SQLException {
    String state = rs.getString("state");
    long expires = rs.getLong("expires_at");
    if ((state.equals("pending") || state.equals("approved")) && expires <= now) {
      state = "expired";
    }
    long decided = rs.getLong("decided_at");
    boolean wasDecided = !rs.wasNull();
    return new Request(
        rs.getString("id"),
        rs.getString("requester"),
        rs.getString("device_id"),
        rs.getString("reason"),
        state,
        Instant.ofEpochMilli(rs.getLong("created_at")),
        Instant.ofEpochMilli(expires),
        rs.getString("decided_by"),
        wasDecided ? Instant.ofEpochMilli(decided) : null);
  }
}
