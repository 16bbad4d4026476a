package io.edgefleet.controller.telemetry;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import java.io.IOException;
import java.time.Instant;
import java.util.Map;
import org.jdbi.v3.core.Jdbi;

/** Reads of {@code device_metrics} for other packages, without the ingestion's memory. */
public final class MetricReads {
  /** Receives one device's newest summary. */
  @FunctionalInterface
  public interface NewestSummary {
    void accept(String deviceId, Instant at, Map<String, Telemetry.Stat> metrics);
  }

  private final Jdbi jdbi;

  public MetricReads(Jdbi jdbi) {
    this.jdbi = jdbi;
  }

  /**
   * Hands the newest summary of every device to {@code sink}, in one query; a summary that cannot
   * be read is skipped, the others still come.
   */
  public void eachNewest(NewestSummary sink) {
    jdbi.useHandle(
        h ->
            h.createQuery(
                    "SELECT m.device_id, m.at, m.metrics FROM device_metrics m JOIN (SELECT"
                        + " device_id, MAX(seq) AS seq FROM device_metrics GROUP BY device_id) l"
                        + " ON l.device_id = m.device_id AND l.seq = m.seq")
                .map(
                    (rs, ctx) ->
                        new Object[] {
                          rs.getString(1), Instant.ofEpochMilli(rs.getLong(2)), rs.getString(3)
                        })
                .forEach(
                    row -> {
                      try {
                        Map<String, Telemetry.Stat> metrics =
                            Json.mapper()
                                .readValue(
                                    (String) row[2],
                                    new TypeReference<Map<String, Telemetry.Stat>>() {});
                        sink.accept((String) row[0], (Instant) row[1], metrics);
                      } catch (IOException e) {
                        // A summary the ingestion should not have stored; the others still count.
                      }
                    }));
  }
}
