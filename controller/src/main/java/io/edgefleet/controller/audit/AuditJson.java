package io.edgefleet.controller.audit;

import java.util.LinkedHashMap;
import java.util.Map;

/** How one chained entry is written in exports and to sinks: one JSON object. */
final class AuditJson {
  private AuditJson() {}

  /**
   * {@code seq, id, at} (ISO-8601, millisecond precision), {@code atMillis}, {@code actor, action,
   * target}, {@code detail} (the stored JSON text, exactly: the hash covers it byte for byte),
   * {@code prev} and {@code hash}.
   */
  static Map<String, Object> entry(AuditLog.ChainedEntry e) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("seq", e.seq());
    m.put("id", e.id());
    m.put("at", e.at().toString());
    m.put("atMillis", e.at().toEpochMilli());
    m.put("actor", e.actor());
    m.put("action", e.action());
    m.put("target", e.target());
    m.put("detail", e.detail());
    m.put("prev", e.prev());
    m.put("hash", e.hash());
    return m;
  }
}
