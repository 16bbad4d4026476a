package io.edgefleet.controller.devices;

import io.edgefleet.controller.store.JsonColumns;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Json;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.jdbi.v3.core.Handle;

/** SQL for the {@code devices} table. Every method runs inside the caller's handle. */
public final class DeviceStore {
  /**
   * Changes to what {@link #light} reads (devices added, renamed, retagged, their lifecycle), in
   * this process: counted when written and again when committed, so a read that began before a
   * commit is never taken for current afterwards.
   */
  private static final AtomicLong LIGHT_WRITES = new AtomicLong();

  /** How often what {@link #light} reads was written so far; a cache of it compares this. */
  public static long lightGeneration() {
    return LIGHT_WRITES.get();
  }

  private static void lightWritten(Handle h) {
    LIGHT_WRITES.incrementAndGet();
    if (h.isInTransaction()) {
      h.afterCommit(LIGHT_WRITES::incrementAndGet);
    }
  }

  /** The advisory lock that serialises the choice of device names across controller replicas. */
  private static final long NAMES_LOCK = 0x6465766e616d6573L;

  /**
   * Holds the device names until the caller's transaction ends: on PostgreSQL a transaction-level
   * advisory lock, so two replicas never pick the same free name; on SQLite the single writer
   * already does.
   */
  public void lockNames(Handle h) {
    if (postgres(h)) {
      h.createQuery("SELECT pg_advisory_xact_lock(:key)")
          .bind("key", NAMES_LOCK)
          .mapTo(String.class)
          .findOne();
    }
  }

  private static boolean postgres(Handle h) {
    try {
      return "PostgreSQL".equals(h.getConnection().getMetaData().getDatabaseProductName());
    } catch (java.sql.SQLException e) {
      return false;
    }
  }

  public void insert(Handle h, DeviceRecord d, long now) {
    lightWritten(h);
    h.createUpdate(
            "INSERT INTO devices (id, name, serial, lifecycle, enrollment_code, key_fingerprint,"
                + " public_key, certificate_pem, certificate_serial, certificate_expires_at, tags,"
                + " facts, agent_version, onboarding_token_id, created_at, enrolled_at, updated_at)"
                + " VALUES (:id, :name, :serial, :lifecycle, :code, :keyFp, :pub, :cert, :certSerial,"
                + " :certExp, :tags, :facts, :agentVersion, :tokenId, :created, :enrolled, :now)")
        .bind("id", d.id())
        .bind("name", d.name())
        .bind("serial", d.serial())
        .bind("lifecycle", d.lifecycle().name())
        .bind("code", d.enrollmentCode())
        .bind("keyFp", d.keyFingerprint())
        .bind("pub", d.publicKeyPem())
        .bind("cert", d.certificatePem())
        .bind("certSerial", d.certificateSerial())
        .bind("certExp", millis(d.certificateExpiresAt()))
        .bind("tags", JsonColumns.tags(d.tags()))
        .bind("facts", Json.write(d.facts()))
        .bind("agentVersion", d.agentVersion())
        .bind("tokenId", d.onboardingTokenId())
        .bind("created", millis(d.createdAt()))
        .bind("enrolled", millis(d.enrolledAt()))
        .bind("now", now)
        .execute();
  }

  public Optional<DeviceRecord> byId(Handle h, String id) {
    return one(h, "id", id);
  }

  public Optional<DeviceRecord> byKeyFingerprint(Handle h, String fp) {
    return one(h, "key_fingerprint", fp);
  }

  public Optional<DeviceRecord> byEnrollmentCode(Handle h, String code) {
    return one(h, "enrollment_code", code);
  }

  /** Devices with this serial that still count (not rejected or decommissioned). */
  public List<DeviceRecord> activeBySerial(Handle h, String serial) {
    return h.createQuery(
            "SELECT * FROM devices WHERE serial = :serial AND lifecycle IN ('PENDING','ACTIVE')")
        .bind("serial", serial)
        .map((rs, ctx) -> row(rs))
        .list();
  }

  /** The ids of the active devices, in order. */
  public List<String> activeIds(Handle h) {
    return h.createQuery("SELECT id FROM devices WHERE lifecycle = 'ACTIVE' ORDER BY id")
        .mapTo(String.class)
        .list();
  }

  /** What alert rules need of an active device. */
  public record Active(
      String id, String name, Map<String, String> tags, Instant certificateExpires) {}

  /** The active devices, in id order, with only what alert rules need. */
  public List<Active> active(Handle h) {
    return h.createQuery(
            "SELECT id, name, tags, certificate_expires_at FROM devices"
                + " WHERE lifecycle = 'ACTIVE' ORDER BY id")
        .map(
            (rs, ctx) -> {
              long exp = rs.getLong(4);
              Instant expires = rs.wasNull() ? null : Instant.ofEpochMilli(exp);
              return new Active(
                  rs.getString(1), rs.getString(2), JsonColumns.tags(rs.getString(3)), expires);
            })
        .list();
  }

  /**
   * The names of the devices among {@code ids} that exist, whatever their lifecycle (a name may be
   * null). Many ids are answered from one read of every device's name, so a call is one query.
   */
  public Map<String, String> names(Handle h, Collection<String> ids) {
    Map<String, String> names = new HashMap<>();
    if (ids.isEmpty()) {
      return names;
    }
    if (ids.size() > MAX_LISTED_IDS) {
      Set<String> wanted = ids instanceof Set<String> set ? set : new HashSet<>(ids);
      h.createQuery("SELECT id, name FROM devices")
          .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
          .forEach(
              r -> {
                if (wanted.contains(r[0])) {
                  names.put(r[0], r[1]);
                }
              });
      return names;
    }
    h.createQuery("SELECT id, name FROM devices WHERE id IN (<ids>)")
        .bindList("ids", List.copyOf(ids))
        .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
        .forEach(r -> names.put(r[0], r[1]));
    return names;
  }

  /** A device's name (may be null) and tags. */
  public record Labels(String name, Map<String, String> tags) {}

  /**
   * The names and tags of the devices among {@code ids} that exist, whatever their lifecycle. Many
   * ids are answered from one read of every device, so a call is one query.
   */
  public Map<String, Labels> labels(Handle h, Collection<String> ids) {
    Map<String, Labels> out = new HashMap<>();
    if (ids.isEmpty()) {
      return out;
    }
    boolean all = ids.size() > MAX_LISTED_IDS;
    Set<String> wanted = ids instanceof Set<String> set ? set : new HashSet<>(ids);
    var q =
        h.createQuery(
            all
                ? "SELECT id, name, tags FROM devices"
                : "SELECT id, name, tags FROM devices WHERE id IN (<ids>)");
    if (!all) {
      q.bindList("ids", List.copyOf(ids));
    }
    q.map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2), rs.getString(3)})
        .forEach(
            r -> {
              if (wanted.contains(r[0])) {
                out.put(r[0], new Labels(r[1], JsonColumns.tags(r[2])));
              }
            });
    return out;
  }

  /** The active devices' tags, in id order. */
  public List<Map.Entry<String, Map<String, String>>> activeTags(Handle h) {
    return h.createQuery("SELECT id, tags FROM devices WHERE lifecycle = 'ACTIVE' ORDER BY id")
        .map((rs, ctx) -> Map.entry(rs.getString(1), JsonColumns.tags(rs.getString(2))))
        .list();
  }

  /** Ids bound into one query at most; SQLite allows a few thousand parameters. */
  private static final int MAX_LISTED_IDS = 500;

  /** The tags of every device, whatever its lifecycle, by id. */
  public Map<String, Map<String, String>> tags(Handle h) {
    Map<String, Map<String, String>> tags = new LinkedHashMap<>();
    h.createQuery("SELECT id, tags FROM devices")
        .map((rs, ctx) -> Map.entry(rs.getString(1), JsonColumns.tags(rs.getString(2))))
        .forEach(e -> tags.put(e.getKey(), e.getValue()));
    return tags;
  }

  /** Whether a certificate with this serial was revoked. */
  public boolean revoked(Handle h, String serial) {
    return h.createQuery("SELECT COUNT(*) FROM revoked_certificates WHERE serial = :s")
            .bind("s", serial)
            .mapTo(Integer.class)
            .one()
        > 0;
  }

  public List<DeviceRecord> all(Handle h) {
    return h.createQuery("SELECT * FROM devices ORDER BY created_at, id")
        .map((rs, ctx) -> row(rs))
        .list();
  }

  /**
   * Every device in enrollment order with only what a listing filters and sorts on: id, name,
   * serial, lifecycle, tags and times. Keys, certificates, facts and the agent version are left out
   * (null), so a large fleet is read cheaply; read the page's full rows with {@link #byIds}.
   */
  public List<DeviceRecord> light(Handle h) {
    // Many devices carry the same tags: each distinct column value is parsed once per read.
    Map<String, Map<String, String>> parsed = new HashMap<>();
    return h.createQuery(
            "SELECT id, name, serial, lifecycle, tags, created_at, enrolled_at, decommissioned_at"
                + " FROM devices ORDER BY created_at, id")
        .map(
            (rs, ctx) ->
                new DeviceRecord(
                    rs.getString(1),
                    rs.getString(2),
                    rs.getString(3),
                    DeviceRecord.Lifecycle.valueOf(rs.getString(4)),
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    parsed.computeIfAbsent(
                        String.valueOf(rs.getString(5)), t -> JsonColumns.tags(nullable(t))),
                    null,
                    null,
                    null,
                    instant(rs, "created_at"),
                    instant(rs, "enrolled_at"),
                    instant(rs, "decommissioned_at")))
        .list();
  }

  /**
   * Every device in enrollment order with what its view shows ({@link DeviceService#view}): the
   * full row without keys and certificates, the bulk of a row that no view needs.
   */
  public List<DeviceRecord> forViews(Handle h) {
    return h.createQuery(
            "SELECT id, name, serial, lifecycle, enrollment_code, certificate_expires_at, tags,"
                + " facts, agent_version, created_at, enrolled_at, decommissioned_at FROM devices"
                + " ORDER BY created_at, id")
        .map(
            (rs, ctx) ->
                new DeviceRecord(
                    rs.getString("id"),
                    rs.getString("name"),
                    rs.getString("serial"),
                    DeviceRecord.Lifecycle.valueOf(rs.getString("lifecycle")),
                    rs.getString("enrollment_code"),
                    null,
                    null,
                    null,
                    null,
                    null,
                    instant(rs, "certificate_expires_at"),
                    JsonColumns.tags(rs.getString("tags")),
                    JsonColumns.read(rs.getString("facts"), DeviceFacts.class),
                    rs.getString("agent_version"),
                    null,
                    instant(rs, "created_at"),
                    instant(rs, "enrolled_at"),
                    instant(rs, "decommissioned_at")))
        .list();
  }

  /** The full rows of the devices among {@code ids} that exist, by id. */
  public Map<String, DeviceRecord> byIds(Handle h, Collection<String> ids) {
    Map<String, DeviceRecord> out = new HashMap<>();
    List<String> all = List.copyOf(ids);
    for (int i = 0; i < all.size(); i += MAX_LISTED_IDS) {
      h.createQuery("SELECT * FROM devices WHERE id IN (<ids>)")
          .bindList("ids", all.subList(i, Math.min(all.size(), i + MAX_LISTED_IDS)))
          .map((rs, ctx) -> row(rs))
          .forEach(d -> out.put(d.id(), d));
    }
    return out;
  }

  public void activate(
      Handle h, String id, String certPem, String certSerial, Instant certExpires, long now) {
    lightWritten(h);
    h.createUpdate(
            "UPDATE devices SET lifecycle = 'ACTIVE', certificate_pem = :cert, certificate_serial"
                + " = :serial, certificate_expires_at = :exp, enrolled_at = :now, updated_at = :now"
                + " WHERE id = :id")
        .bind("cert", certPem)
        .bind("serial", certSerial)
        .bind("exp", certExpires.toEpochMilli())
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  /** Replaces the device's key (a renewal for a new key); its certificate is replaced next. */
  public void setKey(Handle h, String id, String keyFingerprint, String publicKeyPem, long now) {
    h.createUpdate(
            "UPDATE devices SET key_fingerprint = :fp, public_key = :pub, updated_at = :now"
                + " WHERE id = :id")
        .bind("fp", keyFingerprint)
        .bind("pub", publicKeyPem)
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  /** Replaces the certificate; the one the device presented stays accepted until it expires. */
  public void renew(
      Handle h,
      String id,
      String certPem,
      String certSerial,
      Instant certExpires,
      String presentedSerial,
      long now) {
    h.createUpdate(
            "UPDATE devices SET certificate_pem = :cert, certificate_serial = :serial,"
                + " previous_certificate_serial = :previous, certificate_expires_at = :exp,"
                + " updated_at = :now WHERE id = :id")
        .bind("cert", certPem)
        .bind("serial", certSerial)
        .bind("previous", presentedSerial)
        .bind("exp", certExpires.toEpochMilli())
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  public void setLifecycle(Handle h, String id, DeviceRecord.Lifecycle lifecycle, long now) {
    lightWritten(h);
    h.createUpdate(
            "UPDATE devices SET lifecycle = :lifecycle, updated_at = :now"
                + (lifecycle == DeviceRecord.Lifecycle.DECOMMISSIONED
                    ? ", decommissioned_at = :now"
                    : "")
                + " WHERE id = :id")
        .bind("lifecycle", lifecycle.name())
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  public void setTags(Handle h, String id, Map<String, String> tags, long now) {
    lightWritten(h);
    h.createUpdate("UPDATE devices SET tags = :tags, updated_at = :now WHERE id = :id")
        .bind("tags", JsonColumns.tags(tags))
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  public void setName(Handle h, String id, String name, long now) {
    lightWritten(h);
    h.createUpdate("UPDATE devices SET name = :name, updated_at = :now WHERE id = :id")
        .bind("name", name)
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  /** The device called {@code name}, whatever its lifecycle (names are unique). */
  public Optional<DeviceRecord> byName(Handle h, String name) {
    return one(h, "name", name);
  }

  /** The names of all devices that begin with {@code prefix}. */
  public Set<String> namesStartingWith(Handle h, String prefix) {
    return new HashSet<>(
        h.createQuery("SELECT name FROM devices WHERE substr(name, 1, :n) = :prefix")
            .bind("n", prefix.length())
            .bind("prefix", prefix)
            .mapTo(String.class)
            .list());
  }

  public void setAgentVersion(Handle h, String id, String version, long now) {
    h.createUpdate("UPDATE devices SET agent_version = :v, updated_at = :now WHERE id = :id")
        .bind("v", version)
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  /**
   * The Kubernetes version each active device's cluster reports, by id; devices that report none
   * are left out.
   */
  public Map<String, String> activeKubernetesVersions(Handle h) {
    Map<String, String> out = new HashMap<>();
    h.createQuery("SELECT id, facts FROM devices WHERE lifecycle = 'ACTIVE'")
        .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
        .forEach(
            r -> {
              if (r[1] != null && r[1].contains("kubernetesVersion")) {
                DeviceFacts f = JsonColumns.read(r[1], DeviceFacts.class);
                if (f != null && f.kubernetesVersion() != null) {
                  out.put(r[0], f.kubernetesVersion());
                }
              }
            });
    return out;
  }

  /** Replaces the device's facts, such as when its agent reports its cluster anew. */
  public void setFacts(Handle h, String id, DeviceFacts facts, long now) {
    h.createUpdate("UPDATE devices SET facts = :facts, updated_at = :now WHERE id = :id")
        .bind("facts", Json.write(facts))
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  private Optional<DeviceRecord> one(Handle h, String column, String value) {
    return h.createQuery("SELECT * FROM devices WHERE " + column + " = :v")
        .bind("v", value)
        .map((rs, ctx) -> row(rs))
        .findOne();
  }

  private static DeviceRecord row(ResultSet rs) throws SQLException {
    return new DeviceRecord(
        rs.getString("id"),
        rs.getString("name"),
        rs.getString("serial"),
        DeviceRecord.Lifecycle.valueOf(rs.getString("lifecycle")),
        rs.getString("enrollment_code"),
        rs.getString("key_fingerprint"),
        rs.getString("public_key"),
        rs.getString("certificate_pem"),
        rs.getString("certificate_serial"),
        rs.getString("previous_certificate_serial"),
        instant(rs, "certificate_expires_at"),
        JsonColumns.tags(rs.getString("tags")),
        JsonColumns.read(rs.getString("facts"), DeviceFacts.class),
        rs.getString("agent_version"),
        rs.getString("onboarding_token_id"),
        instant(rs, "created_at"),
        instant(rs, "enrolled_at"),
        instant(rs, "decommissioned_at"));
  }

  private static Instant instant(ResultSet rs, String column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? null : Instant.ofEpochMilli(v);
  }

  private static String nullable(String text) {
    return text.equals("null") ? null : text;
  }

  private static Long millis(Instant i) {
    return i == null ? null : i.toEpochMilli();
  }
}
