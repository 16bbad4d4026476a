package io.edgefleet.controller.trust;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/** The SQL of {@code device_trust} and {@code trust_references}. Stateless. */
final class TrustStore {

  void insert(Handle h, TrustRecord r, long now) {
    h.createUpdate(
            "INSERT INTO device_trust (device_id, ek_fingerprint, ek_issuer, ak_public,"
                + " pcr_selection, reference_pcrs, reference_event_log, reference_source,"
                + " reference_at, state, reason, since, last_attested, updated_at) VALUES (:id,"
                + " :ek, :issuer, :ak, :sel, :pcrs, :log, :source, :refAt, :state, :reason,"
                + " :since, :attested, :now)")
        .bind("id", r.deviceId())
        .bind("ek", r.ekFingerprint())
        .bind("issuer", r.ekIssuer())
        .bind("ak", r.akPublic())
        .bind("sel", Measurements.selection(r.pcrs()))
        .bind("pcrs", Measurements.write(r.referencePcrs()))
        .bind("log", r.referenceEventLog())
        .bind("source", r.referenceSource())
        .bind("refAt", r.referenceAt().toEpochMilli())
        .bind("state", r.state())
        .bind("reason", r.reason())
        .bind("since", r.since().toEpochMilli())
        .bind("attested", millis(r.lastAttested()))
        .bind("now", now)
        .execute();
  }

  Optional<TrustRecord> byId(Handle h, String deviceId) {
    return h.createQuery("SELECT * FROM device_trust WHERE device_id = :id")
        .bind("id", deviceId)
        .map((rs, ctx) -> row(rs, true))
        .findOne();
  }

  /** Every row without its event logs, for the controller's memory. */
  List<TrustRecord> all(Handle h) {
    return h.createQuery(
            "SELECT device_id, ek_fingerprint, ek_issuer, ak_public, pcr_selection,"
                + " reference_pcrs, reference_source, reference_at, current_pcrs, state, reason,"
                + " since, last_attested FROM device_trust")
        .map((rs, ctx) -> row(rs, false))
        .list();
  }

  /** Devices (other than those retired) already enrolled with this EK. */
  List<String> byEk(Handle h, String ekFingerprint) {
    return h.createQuery("SELECT device_id FROM device_trust WHERE ek_fingerprint = :ek")
        .bind("ek", ekFingerprint)
        .mapTo(String.class)
        .list();
  }

  /** The verdict of a quote: state and, while they differ from the reference, the measurements. */
  void judged(
      Handle h,
      String deviceId,
      String state,
      String reason,
      Instant since,
      Map<Integer, String> currentPcrs,
      String currentEventLog,
      Instant lastAttested,
      long now) {
    h.createUpdate(
            "UPDATE device_trust SET state = :state, reason = :reason, since = :since,"
                + " current_pcrs = :pcrs, current_event_log = :log, last_attested ="
                + " COALESCE(:attested, last_attested), updated_at = :now WHERE device_id = :id")
        .bind("state", state)
        .bind("reason", reason)
        .bind("since", since.toEpochMilli())
        .bind("pcrs", currentPcrs == null ? null : Measurements.write(currentPcrs))
        .bind("log", currentEventLog)
        .bind("attested", millis(lastAttested))
        .bind("now", now)
        .bind("id", deviceId)
        .execute();
  }

  /** Only the time of the last verified quote, when nothing else changed. */
  void attested(Handle h, String deviceId, Instant at) {
    h.createUpdate(
            "UPDATE device_trust SET last_attested = :at, updated_at = :at WHERE device_id = :id")
        .bind("at", at.toEpochMilli())
        .bind("id", deviceId)
        .execute();
  }

  void setReference(
      Handle h,
      String deviceId,
      Map<Integer, String> pcrs,
      String eventLog,
      String source,
      long now) {
    h.createUpdate(
            "UPDATE device_trust SET reference_pcrs = :pcrs, reference_event_log = :log,"
                + " reference_source = :source, reference_at = :now, updated_at = :now"
                + " WHERE device_id = :id")
        .bind("pcrs", Measurements.write(pcrs))
        .bind("log", eventLog)
        .bind("source", source)
        .bind("now", now)
        .bind("id", deviceId)
        .execute();
  }

  void pin(Handle h, Pin p) {
    h.createUpdate(
            "DELETE FROM trust_references WHERE scope = :scope AND match_key = :key"
                + " AND match_value = :value")
        .bind("scope", p.scope())
        .bind("key", p.key())
        .bind("value", p.value())
        .execute();
    h.createUpdate(
            "INSERT INTO trust_references (id, scope, match_key, match_value, pcrs, event_log,"
                + " source_device, created_by, created_at) VALUES (:id, :scope, :key, :value,"
                + " :pcrs, :log, :device, :by, :at)")
        .bind("id", p.id())
        .bind("scope", p.scope())
        .bind("key", p.key())
        .bind("value", p.value())
        .bind("pcrs", Measurements.write(p.pcrs()))
        .bind("log", p.eventLog())
        .bind("device", p.sourceDevice())
        .bind("by", p.createdBy())
        .bind("at", p.createdAt().toEpochMilli())
        .execute();
  }

  List<Pin> pins(Handle h) {
    return h.createQuery("SELECT * FROM trust_references ORDER BY created_at DESC, id")
        .map(
            (rs, ctx) ->
                new Pin(
                    rs.getString("id"),
                    rs.getString("scope"),
                    rs.getString("match_key"),
                    rs.getString("match_value"),
                    Measurements.read(rs.getString("pcrs")),
                    rs.getString("event_log"),
                    rs.getString("source_device"),
                    rs.getString("created_by"),
                    Instant.ofEpochMilli(rs.getLong("created_at"))))
        .list();
  }

  boolean unpin(Handle h, String id) {
    return h.createUpdate("DELETE FROM trust_references WHERE id = :id").bind("id", id).execute()
        > 0;
  }

  private static TrustRecord row(ResultSet rs, boolean logs) throws SQLException {
    return new TrustRecord(
        rs.getString("device_id"),
        rs.getString("ek_fingerprint"),
        rs.getString("ek_issuer"),
        rs.getString("ak_public"),
        Measurements.selection(rs.getString("pcr_selection")),
        Measurements.read(rs.getString("reference_pcrs")),
        logs ? rs.getString("reference_event_log") : null,
        rs.getString("reference_source"),
        Instant.ofEpochMilli(rs.getLong("reference_at")),
        Measurements.read(rs.getString("current_pcrs")),
        logs ? rs.getString("current_event_log") : null,
        rs.getString("state"),
        rs.getString("reason"),
        Instant.ofEpochMilli(rs.getLong("since")),
        instant(rs, "last_attested"));
  }

  private static Instant instant(ResultSet rs, String column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? null : Instant.ofEpochMilli(v);
  }

  private static Long millis(Instant i) {
    return i == null ? null : i.toEpochMilli();
  }
}
