package io.edgefleet.controller.onboarding;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.common.Tokens;
import io.edgefleet.controller.store.JsonColumns;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Labels;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Onboarding tokens: shared secrets printed into bootstrap files. Only a hash is stored; the token
 * itself is shown once, at creation. A token carries tags that enrolling devices receive, an
 * optional use limit, an expiry ({@link #DEFAULT_EXPIRY} unless asked otherwise, {@code never} only
 * when asked), how many new devices it may enroll per minute, and whether its devices wait for
 * approval. Thread-safe.
 */
public final class OnboardingTokens {
  /** How long a token lives when its creator does not say: a leaked file is not valid forever. */
  public static final Duration DEFAULT_EXPIRY = Duration.ofDays(7);

  /** New devices one token may enroll per minute (and at once) when its creator does not say. */
  public static final int DEFAULT_PER_MINUTE = 60;

  /** The {@code expiresIn} value that asks for a token without expiry. */
  public static final String NEVER = "never";

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;

  public OnboardingTokens(Jdbi jdbi, Clock clock, AuditLog audit) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
  }

  /**
   * API request to create a token.
   *
   * @param expiresIn a duration such as {@code 7d}, {@code never}, or null for {@link
   *     #DEFAULT_EXPIRY}
   * @param perMinute new devices per minute, or null for {@link #DEFAULT_PER_MINUTE}
   */
  public record CreateRequest(
      String name,
      Map<String, String> tags,
      Integer maxUses,
      String expiresIn,
      Boolean requireApproval,
      Integer perMinute,
      Boolean requireTpm) {

    public CreateRequest(
        String name,
        Map<String, String> tags,
        Integer maxUses,
        String expiresIn,
        Boolean requireApproval,
        Integer perMinute) {
      this(name, tags, maxUses, expiresIn, requireApproval, perMinute, null);
    }

    public CreateRequest(
        String name,
        Map<String, String> tags,
        Integer maxUses,
        String expiresIn,
        Boolean requireApproval) {
      this(name, tags, maxUses, expiresIn, requireApproval, null, null);
    }
  }

  /** A token as the API shows it; {@code token} is present only in the answer to create. */
  public record View(
      String id,
      String name,
      String token,
      Map<String, String> tags,
      Integer maxUses,
      int uses,
      Instant expiresAt,
      boolean requireApproval,
      Instant createdAt,
      boolean revoked,
      int perMinute,
      boolean requireTpm) {}

  /**
   * What a successful enrollment with a token grants.
   *
   * @param requireTpm only a device whose key lives in a TPM may enroll with it
   */
  public record Grant(
      String tokenId,
      Map<String, String> tags,
      boolean requireApproval,
      int perMinute,
      boolean requireTpm) {}

  public View create(CreateRequest req, String actor) {
    Map<String, String> tags = req.tags() == null ? Map.of() : req.tags();
    ClusterTags.refuseReserved(tags.keySet());
    try {
      Labels.validate(tags);
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid(e.getMessage());
    }
    if (req.maxUses() != null && req.maxUses() < 1) {
      throw ControllerException.invalid("maxUses must be at least 1, got " + req.maxUses());
    }
    Instant expiresAt = null;
    if (!NEVER.equals(req.expiresIn())) {
      Duration d;
      try {
        d = req.expiresIn() == null ? DEFAULT_EXPIRY : Durations.parse(req.expiresIn());
      } catch (IllegalArgumentException e) {
        throw ControllerException.invalid(
            "expiresIn: " + e.getMessage() + " (or '" + NEVER + "' for a token without expiry)");
      }
      if (d.isZero()) {
        throw ControllerException.invalid("expiresIn must be positive");
      }
      expiresAt = clock.instant().plus(d);
    }
    int perMinute = req.perMinute() == null ? DEFAULT_PER_MINUTE : req.perMinute();
    if (perMinute < 1 || perMinute > 1_000_000) {
      throw ControllerException.invalid("perMinute must be 1..1000000, got " + perMinute);
    }
    if (req.name() != null && req.name().length() > 200) {
      throw ControllerException.invalid("name is longer than 200 characters");
    }
    String id = Ids.next("obt");
    String token = Ids.secret("efo");
    Instant now = clock.instant();
    boolean approval = Boolean.TRUE.equals(req.requireApproval());
    boolean tpm = Boolean.TRUE.equals(req.requireTpm());
    Instant exp = expiresAt;
    jdbi.useTransaction(
        h -> {
          h.createUpdate(
                  "INSERT INTO onboarding_tokens (id, name, token_hash, tags, max_uses, uses,"
                      + " expires_at, require_approval, revoked, created_at, per_minute,"
                      + " require_tpm) VALUES (:id, :name, :hash, :tags, :maxUses, 0, :exp,"
                      + " :approval, FALSE, :now, :perMinute, :tpm)")
              .bind("id", id)
              .bind("name", req.name())
              .bind("hash", Tokens.hash(token))
              .bind("tags", JsonColumns.tags(tags))
              .bind("maxUses", req.maxUses())
              .bind("exp", exp == null ? null : exp.toEpochMilli())
              .bind("approval", approval)
              .bind("now", now.toEpochMilli())
              .bind("perMinute", perMinute)
              .bind("tpm", tpm)
              .execute();
          audit.record(
              h,
              actor,
              "onboarding-token.create",
              id,
              Map.of(
                  "tags",
                  tags,
                  "requireApproval",
                  approval,
                  "expiresAt",
                  exp == null ? NEVER : exp.toString(),
                  "perMinute",
                  perMinute,
                  "requireTpm",
                  tpm));
        });
    return new View(
        id,
        req.name(),
        token,
        Map.copyOf(tags),
        req.maxUses(),
        0,
        exp,
        approval,
        now,
        false,
        perMinute,
        tpm);
  }

  public List<View> list() {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT * FROM onboarding_tokens ORDER BY created_at, id")
                .map((rs, ctx) -> view(rs))
                .list());
  }

  public void revoke(String id, String actor) {
    jdbi.useTransaction(
        h -> {
          int n =
              h.createUpdate("UPDATE onboarding_tokens SET revoked = TRUE WHERE id = :id")
                  .bind("id", id)
                  .execute();
          if (n == 0) {
            throw ControllerException.notFound("onboarding token", id);
          }
          audit.record(h, actor, "onboarding-token.revoke", id, Map.of());
        });
  }

  /** Checks that a token could enroll a device now, without using it. */
  public View checkUsable(String token) {
    return jdbi.withHandle(h -> usable(h, token));
  }

  /**
   * Uses the token once for a new device, inside the caller's transaction. The use counter is
   * incremented with a guarded update, so concurrent enrollments never exceed the limit.
   */
  public Grant consume(Handle h, String token) {
    View v = usable(h, token);
    int n =
        h.createUpdate(
                "UPDATE onboarding_tokens SET uses = uses + 1 WHERE id = :id"
                    + " AND (max_uses IS NULL OR uses < max_uses)")
            .bind("id", v.id())
            .execute();
    if (n == 0) {
      throw usedUp(v);
    }
    return new Grant(v.id(), v.tags(), v.requireApproval(), v.perMinute(), v.requireTpm());
  }

  private View usable(Handle h, String token) {
    Optional<View> found =
        h.createQuery("SELECT * FROM onboarding_tokens WHERE token_hash = :hash")
            .bind("hash", Tokens.hash(token))
            .map((rs, ctx) -> view(rs))
            .findOne();
    View v =
        found.orElseThrow(
            () ->
                new ControllerException(
                    ErrorCode.ONBOARDING_TOKEN_INVALID,
                    "the onboarding token is not known to this controller; create one with"
                        + " `edgefleet onboarding create` and write a new bootstrap file"));
    if (v.revoked()) {
      throw new ControllerException(
          ErrorCode.ONBOARDING_TOKEN_REVOKED,
          "onboarding token " + v.id() + " was revoked; ask the operator for a new bootstrap file");
    }
    if (v.expiresAt() != null && !clock.instant().isBefore(v.expiresAt())) {
      throw new ControllerException(
          ErrorCode.ONBOARDING_TOKEN_EXPIRED,
          "onboarding token "
              + v.id()
              + " expired at "
              + v.expiresAt()
              + "; create a new one with `edgefleet onboarding create`");
    }
    if (v.maxUses() != null && v.uses() >= v.maxUses()) {
      throw usedUp(v);
    }
    return v;
  }

  private static ControllerException usedUp(View v) {
    return new ControllerException(
        ErrorCode.ONBOARDING_TOKEN_USED_UP,
        "onboarding token "
            + v.id()
            + " has been used by all "
            + v.maxUses()
            + " devices it allows; create a new one with `edgefleet onboarding create --uses N`");
  }

  private static View view(ResultSet rs) throws SQLException {
    long exp = rs.getLong("expires_at");
    boolean hasExp = !rs.wasNull();
    int maxUses = rs.getInt("max_uses");
    boolean hasMax = !rs.wasNull();
    return new View(
        rs.getString("id"),
        rs.getString("name"),
        null,
        JsonColumns.tags(rs.getString("tags")),
        hasMax ? maxUses : null,
        rs.getInt("uses"),
        hasExp ? Instant.ofEpochMilli(exp) : null,
        rs.getBoolean("require_approval"),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        rs.getBoolean("revoked"),
        perMinute(rs),
        rs.getBoolean("require_tpm"));
  }

  private static int perMinute(ResultSet rs) throws SQLException {
    int n = rs.getInt("per_minute");
    return rs.wasNull() ? DEFAULT_PER_MINUTE : n;
  }
}
