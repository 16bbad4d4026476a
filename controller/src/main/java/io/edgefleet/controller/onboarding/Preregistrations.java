package io.edgefleet.controller.onboarding;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.store.JsonColumns;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Labels;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Hardware registered by serial number before it ships. When a device with that serial calls home
 * it is enrolled with these tags, without a token. Thread-safe.
 */
public final class Preregistrations {
  private static final int MAX_SERIAL = 200;
  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;

  public Preregistrations(Jdbi jdbi, Clock clock, AuditLog audit) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
  }

  /**
   * @param requireTpm only a device whose key lives in a TPM may enroll with this serial
   */
  public record CreateRequest(
      String serial,
      String name,
      Map<String, String> tags,
      Boolean requireApproval,
      Boolean requireTpm) {
    public CreateRequest(
        String serial, String name, Map<String, String> tags, Boolean requireApproval) {
      this(serial, name, tags, requireApproval, null);
    }
  }

  public record View(
      String serial,
      String name,
      Map<String, String> tags,
      boolean requireApproval,
      Instant createdAt,
      String deviceId,
      boolean requireTpm) {}

  public View create(CreateRequest req, String actor) {
    String serial = req.serial() == null ? "" : req.serial().trim();
    if (serial.isEmpty() || serial.length() > MAX_SERIAL) {
      throw ControllerException.invalid("serial is required (1 to 200 characters)");
    }
    Map<String, String> tags = req.tags() == null ? Map.of() : req.tags();
    ClusterTags.refuseReserved(tags.keySet());
    try {
      Labels.validate(tags);
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid(e.getMessage());
    }
    Instant now = clock.instant();
    boolean approval = Boolean.TRUE.equals(req.requireApproval());
    boolean tpm = Boolean.TRUE.equals(req.requireTpm());
    return jdbi.inTransaction(
        h -> {
          if (find(h, serial).isPresent()) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "serial " + serial + " is already pre-registered; remove it first to change it");
          }
          h.createUpdate(
                  "INSERT INTO preregistrations (serial, name, tags, require_approval, created_at,"
                      + " require_tpm) VALUES (:serial, :name, :tags, :approval, :now, :tpm)")
              .bind("serial", serial)
              .bind("name", req.name())
              .bind("tags", JsonColumns.tags(tags))
              .bind("approval", approval)
              .bind("now", now.toEpochMilli())
              .bind("tpm", tpm)
              .execute();
          audit.record(
              h, actor, "preregistration.create", serial, Map.of("tags", tags, "requireTpm", tpm));
          return new View(serial, req.name(), Map.copyOf(tags), approval, now, null, tpm);
        });
  }

  public List<View> list() {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT * FROM preregistrations ORDER BY created_at, serial")
                .map((rs, ctx) -> view(rs))
                .list());
  }

  public void delete(String serial, String actor) {
    jdbi.useTransaction(
        h -> {
          int n =
              h.createUpdate("DELETE FROM preregistrations WHERE serial = :serial")
                  .bind("serial", serial)
                  .execute();
          if (n == 0) {
            throw ControllerException.notFound("pre-registration", serial);
          }
          audit.record(h, actor, "preregistration.delete", serial, Map.of());
        });
  }

  public Optional<View> find(Handle h, String serial) {
    return h.createQuery("SELECT * FROM preregistrations WHERE serial = :serial")
        .bind("serial", serial)
        .map((rs, ctx) -> view(rs))
        .findOne();
  }

  /** Marks the serial as taken by a device, inside the enrolling transaction. */
  public void claim(Handle h, String serial, String deviceId) {
    h.createUpdate("UPDATE preregistrations SET device_id = :device WHERE serial = :serial")
        .bind("device", deviceId)
        .bind("serial", serial)
        .execute();
  }

  private static View view(ResultSet rs) throws SQLException {
    return new View(
        rs.getString("serial"),
        rs.getString("name"),
        JsonColumns.tags(rs.getString("tags")),
        rs.getBoolean("require_approval"),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        rs.getString("device_id"),
        rs.getBoolean("require_tpm"));
  }
}
