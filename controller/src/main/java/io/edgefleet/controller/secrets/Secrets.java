package io.edgefleet.controller.secrets;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.SecretTargets;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.controller.store.UniqueViolation;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;

/**
 * Secrets for devices, stored with envelope encryption: each version's values are sealed with
 * AES-256-GCM under a fresh data key, and that data key under the current master key of the {@link
 * MasterKeyRing}. Values are opened only to seal them to one device ({@link SecretDelivery}); the
 * API shows metadata only. Every change is audited and makes the desired state of the devices
 * recomputed (through {@code changed}). Thread-safe.
 */
public final class Secrets implements SecretTargets {
  /** Most secrets a controller keeps. */
  public static final int MAX_SECRETS = 1000;

  private static final TypeReference<List<String>> STRINGS = new TypeReference<>() {};

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final MasterKeyRing ring;
  private final MasterKeyUsers otherKeyUsers;
  private final Envelope envelope;
  private final DeviceStore devices;
  private final Consumer<String> changed;

  /** A secret to create or a new version of one; {@code name} is ignored on update. */
  public record Request(
      String name,
      Map<String, String> data,
      Map<String, String> stringData,
      String target,
      String namespace) {}

  /** What the API shows of a secret: never its values. */
  public record View(
      String name,
      String namespace,
      String target,
      long version,
      List<String> keys,
      long size,
      int matchedDevices,
      Instant createdAt,
      String createdBy,
      Instant updatedAt,
      String updatedBy) {}

  /** A master key rotation: the new key, how many data keys it wraps now, the old keys dropped. */
  public record Rotation(String keyId, int rewrapped, List<String> retired) {}

  /** A secret opened for delivery: its values as base64, by key. */
  record Opened(
      String name, long version, String namespace, Selector target, Map<String, String> data) {}

  private record Row(
      String name,
      String namespace,
      String target,
      long version,
      String keyNames,
      long size,
      String masterKeyId,
      String wrapped,
      String sealed,
      String createdBy,
      long createdAt,
      String updatedBy,
      long updatedAt) {
    Envelope.Sealed stored() {
      return new Envelope.Sealed(masterKeyId, wrapped, sealed);
    }
  }

  /**
   * @param changed told the name of every secret changed: the devices' desired state is to be
   *     recomputed
   */
  public Secrets(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      MasterKeyRing ring,
      DeviceStore devices,
      Consumer<String> changed) {
    this(jdbi, clock, audit, ring, devices, changed, next -> Set.of());
  }

  /**
   * @param otherKeyUsers other features that seal values under the master keys: told of a new key
   *     at a rotation, they say which keys they still use, so those are kept
   */
  public Secrets(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      MasterKeyRing ring,
      DeviceStore devices,
      Consumer<String> changed,
      MasterKeyUsers otherKeyUsers) {
    this.otherKeyUsers = otherKeyUsers;
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.ring = ring;
    this.envelope = new Envelope(ring);
    this.devices = devices;
    this.changed = changed;
  }

  public View create(Request r, String actor) {
    String name = SecretInput.name(r.name());
    String namespace = SecretInput.namespace(r.namespace());
    Selector target = Selector.parse("target", r.target());
    Map<String, byte[]> values = SecretInput.values(r.data(), r.stringData());
    Envelope.Sealed sealed = envelope.seal(name, 1, values);
    long now = clock.millis();
    try {
      insert(name, namespace, target, values, sealed, now, actor);
    } catch (JdbiException e) {
      // A concurrent create of the same name inserted first: its row was not there to be seen.
      if (UniqueViolation.is(e)) {
        throw exists(name);
      }
      throw e;
    }
    changed.accept(name);
    return get(name);
  }

  private static ControllerException exists(String name) {
    return new ControllerException(
        ErrorCode.SECRET_EXISTS,
        "secret " + name + " exists; change it with an update (a new version)");
  }

  private void insert(
      String name,
      String namespace,
      Selector target,
      Map<String, byte[]> values,
      Envelope.Sealed sealed,
      long now,
      String actor) {
    jdbi.useTransaction(
        h -> {
          if (row(h, name).isPresent()) {
            throw exists(name);
          }
          int count = h.createQuery("SELECT COUNT(*) FROM secrets").mapTo(Integer.class).one();
          if (count >= MAX_SECRETS) {
            throw new ControllerException(
                ErrorCode.SECRET_LIMIT_REACHED,
                "this controller holds "
                    + MAX_SECRETS
                    + " secrets, the most it keeps; delete one"
                    + " that is no longer needed");
          }
          h.createUpdate(
                  "INSERT INTO secrets (name, namespace, target, version, key_names, size,"
                      + " master_key_id, data_key_wrapped, value_sealed, created_by, created_at,"
                      + " updated_by, updated_at) VALUES (:name, :ns, :target, 1, :keys, :size,"
                      + " :mk, :wrapped, :sealed, :actor, :now, :actor, :now)")
              .bind("name", name)
              .bind("ns", namespace)
              .bind("target", target.toString())
              .bind("keys", Json.write(List.copyOf(values.keySet())))
              .bind("size", SecretInput.size(values))
              .bind("mk", sealed.masterKeyId())
              .bind("wrapped", sealed.wrapped())
              .bind("sealed", sealed.sealed())
              .bind("actor", actor)
              .bind("now", now)
              .execute();
          audit.record(h, actor, "secret.create", name, detail(1, namespace, target, values));
        });
  }

  /** A new version: new values (and target or namespace when given), under a new data key. */
  public View update(String name, Request r, String actor) {
    Map<String, byte[]> values = SecretInput.values(r.data(), r.stringData());
    jdbi.useTransaction(
        h -> {
          Row old = row(h, name).orElseThrow(() -> ControllerException.notFound("secret", name));
          String namespace =
              r.namespace() == null ? old.namespace() : SecretInput.namespace(r.namespace());
          Selector target =
              r.target() == null
                  ? Selector.parse(old.target())
                  : Selector.parse("target", r.target());
          long version = old.version() + 1;
          Envelope.Sealed sealed = envelope.seal(name, version, values);
          int updated =
              h.createUpdate(
                      "UPDATE secrets SET namespace = :ns, target = :target, version = :v,"
                          + " key_names = :keys, size = :size, master_key_id = :mk,"
                          + " data_key_wrapped = :wrapped, value_sealed = :sealed, updated_by ="
                          + " :actor, updated_at = :now WHERE name = :name AND version = :old")
                  .bind("ns", namespace)
                  .bind("target", target.toString())
                  .bind("v", version)
                  .bind("keys", Json.write(List.copyOf(values.keySet())))
                  .bind("size", SecretInput.size(values))
                  .bind("mk", sealed.masterKeyId())
                  .bind("wrapped", sealed.wrapped())
                  .bind("sealed", sealed.sealed())
                  .bind("actor", actor)
                  .bind("now", clock.millis())
                  .bind("name", name)
                  .bind("old", old.version())
                  .execute();
          if (updated != 1) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "secret " + name + " was changed meanwhile; send the update again");
          }
          audit.record(h, actor, "secret.update", name, detail(version, namespace, target, values));
        });
    changed.accept(name);
    return get(name);
  }

  public void delete(String name, String actor) {
    jdbi.useTransaction(
        h -> {
          Row old = row(h, name).orElseThrow(() -> ControllerException.notFound("secret", name));
          h.createUpdate("DELETE FROM secrets WHERE name = :name").bind("name", name).execute();
          audit.record(
              h,
              actor,
              "secret.delete",
              name,
              Map.of("version", old.version(), "namespace", old.namespace()));
        });
    changed.accept(name);
  }

  public View get(String name) {
    return jdbi.withHandle(
        h -> {
          Row row = row(h, name).orElseThrow(() -> ControllerException.notFound("secret", name));
          return view(row, devices.activeTags(h));
        });
  }

  public List<View> list() {
    return jdbi.withHandle(
        h -> {
          var tags = devices.activeTags(h);
          List<View> out = new ArrayList<>();
          for (Row row : rows(h)) {
            out.add(view(row, tags));
          }
          return out;
        });
  }

  @Override
  public List<SecretTargets.Secret> secrets() {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT name, version, namespace, target FROM secrets ORDER BY name")
                .map(
                    (rs, ctx) -> {
                      Selector target = Selector.parse(rs.getString(4));
                      return new SecretTargets.Secret(
                          rs.getString(1), rs.getLong(2), rs.getString(3), target::matches);
                    })
                .list());
  }

  /** The secret with its values opened, for sealing to a device. */
  Optional<Opened> open(String name) {
    return jdbi.withHandle(h -> row(h, name))
        .map(
            row ->
                new Opened(
                    row.name(),
                    row.version(),
                    row.namespace(),
                    Selector.parse(row.target()),
                    envelope.open(row.name(), row.version(), row.stored())));
  }

  /**
   * Wraps every data key under a fresh master key, in one transaction, without touching a value;
   * then drops the master keys no data key uses any more. The new key is in the key file before
   * anything is wrapped with it, and an old key leaves the file only after the transaction
   * committed: a crash at any point leaves every secret readable.
   */
  public Rotation rotateMasterKey(String actor) {
    SecretBox next = ring.rotate();
    int rewrapped =
        jdbi.inTransaction(
            h -> {
              int n = 0;
              for (Row row : rows(h)) {
                if (row.masterKeyId().equals(next.keyId())) {
                  continue;
                }
                h.createUpdate(
                        "UPDATE secrets SET master_key_id = :mk, data_key_wrapped = :wrapped"
                            + " WHERE name = :name AND version = :v")
                    .bind("mk", next.keyId())
                    .bind("wrapped", envelope.rewrap(row.name(), row.version(), row.stored(), next))
                    .bind("name", row.name())
                    .bind("v", row.version())
                    .execute();
                n++;
              }
              audit.record(
                  h, actor, "secret.master-key.rotate", next.keyId(), Map.of("rewrapped", n));
              return n;
            });
    Set<String> inUse =
        new LinkedHashSet<>(
            jdbi.withHandle(
                h ->
                    h.createQuery("SELECT DISTINCT master_key_id FROM secrets")
                        .mapTo(String.class)
                        .list()));
    inUse.addAll(otherKeyUsers.keyIdsInUse(next));
    return new Rotation(next.keyId(), rewrapped, ring.retainOnly(inUse));
  }

  private static Map<String, Object> detail(
      long version, String namespace, Selector target, Map<String, byte[]> values) {
    return Map.of(
        "version",
        version,
        "namespace",
        namespace,
        "target",
        target.toString(),
        "keys",
        List.copyOf(values.keySet()));
  }

  private static View view(Row row, List<Map.Entry<String, Map<String, String>>> tags) {
    Selector target = Selector.parse(row.target());
    int matched = 0;
    for (var d : tags) {
      if (target.matches(d.getValue())) {
        matched++;
      }
    }
    List<String> keys;
    try {
      keys = Json.mapper().readValue(row.keyNames(), STRINGS);
    } catch (IOException e) {
      keys = List.of();
    }
    return new View(
        row.name(),
        row.namespace(),
        target.isEverything() ? Selector.ALL : target.toString(),
        row.version(),
        keys,
        row.size(),
        matched,
        Instant.ofEpochMilli(row.createdAt()),
        row.createdBy(),
        Instant.ofEpochMilli(row.updatedAt()),
        row.updatedBy());
  }

  private static final String COLUMNS =
      "name, namespace, target, version, key_names, size, master_key_id, data_key_wrapped,"
          + " value_sealed, created_by, created_at, updated_by, updated_at";

  private static Optional<Row> row(Handle h, String name) {
    return h.createQuery("SELECT " + COLUMNS + " FROM secrets WHERE name = :name")
        .bind("name", name)
        .map(Secrets::mapRow)
        .findOne();
  }

  private static List<Row> rows(Handle h) {
    return h.createQuery("SELECT " + COLUMNS + " FROM secrets ORDER BY name")
        .map(Secrets::mapRow)
        .list();
  }

  private static Row mapRow(java.sql.ResultSet rs, org.jdbi.v3.core.statement.StatementContext ctx)
      throws java.sql.SQLException {
    return new Row(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        rs.getLong(4),
        rs.getString(5),
        rs.getLong(6),
        rs.getString(7),
        rs.getString(8),
        rs.getString(9),
        rs.getString(10),
        rs.getLong(11),
        rs.getString(12),
        rs.getLong(13));
  }
}
