package io.edgefleet.controller.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What telemetry ingestion stores, skips and acknowledges; run on SQLite and PostgreSQL. */
abstract class TelemetryIngestContract {
  static final Instant NOW = Instant.parse("2026-11-21T12:00:00Z");
  static final String DEVICE = "dev-telemetry1";

  /** A clock that moves only when told. */
  static final class StepClock extends Clock {
    final AtomicLong millis = new AtomicLong(NOW.toEpochMilli());

    void advance(Duration d) {
      millis.addAndGet(d.toMillis());
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }
  }

  @TempDir Path dir;
  Database db;
  StepClock clock = new StepClock();
  TelemetryIngest ingest;

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    TestDevices.insertActive(db.jdbi(), DEVICE, Map.of(), NOW.minusSeconds(86400));
    TestDevices.insertActive(db.jdbi(), "dev-other", Map.of(), NOW.minusSeconds(86400));
    ingest = new TelemetryIngest(db.jdbi(), clock);
  }

  @AfterEach
  void close() {
    db.close();
  }

  static Telemetry.Metrics metrics(long seq, Instant at, double cpu) {
    return new Telemetry.Metrics(
        seq,
        at.minusSeconds(60),
        at,
        Map.of(
            "cpu.used.percent", new Telemetry.Stat(cpu - 5, cpu + 5, cpu, cpu + 1, 12),
            "app.web.ready", new Telemetry.Stat(1, 1, 1, 1, 12)));
  }

  static Telemetry.DeviceEvent event(long seq, String message) {
    return new Telemetry.DeviceEvent(
        seq, NOW.minusSeconds(30), "app-failed", "error", "web", message);
  }

  long rows(String table) {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery("SELECT COUNT(*) FROM " + table + " WHERE device_id = :d")
                    .bind("d", DEVICE)
                    .mapTo(Long.class)
                    .one());
  }

  List<Map<String, Object>> events() {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery(
                        "SELECT seq, at, kind, severity, app, message, received_at FROM"
                            + " device_events WHERE device_id = :d ORDER BY received_at, seq")
                    .bind("d", DEVICE)
                    .map(
                        (rs, ctx) -> {
                          // Typed by hand: the drivers differ in the Java types of BIGINT.
                          Map<String, Object> row = new java.util.HashMap<>();
                          long seq = rs.getLong("seq");
                          row.put("seq", rs.wasNull() ? null : seq);
                          row.put("at", rs.getLong("at"));
                          row.put("kind", rs.getString("kind"));
                          row.put("severity", rs.getString("severity"));
                          row.put("app", rs.getString("app"));
                          row.put("message", rs.getString("message"));
                          row.put("received_at", rs.getLong("received_at"));
                          return row;
                        })
                    .list());
  }

  @Test
  void storesEventsLossRecordsAndSummariesAndAcknowledgesTheHighestSeq() {
    long upTo =
        ingest.batch(
            DEVICE,
            List.of(
                event(3, "boom"),
                new Telemetry.Loss(4, NOW.minusSeconds(20), 7, "outbox full"),
                metrics(1, NOW.minusSeconds(120), 20),
                metrics(2, NOW.minusSeconds(60), 30)));

    assertThat(upTo).isEqualTo(4);
    assertThat(ingest.records()).isEqualTo(4);
    assertThat(rows("device_metrics")).isEqualTo(2);
    List<Map<String, Object>> events = events();
    assertThat(events).hasSize(2);
    assertThat(events.get(0))
        .containsEntry("seq", 3L)
        .containsEntry("kind", "app-failed")
        .containsEntry("severity", "error")
        .containsEntry("app", "web")
        .containsEntry("message", "boom")
        .containsEntry("at", NOW.minusSeconds(30).toEpochMilli())
        .containsEntry("received_at", NOW.toEpochMilli());
    assertThat(events.get(1))
        .containsEntry("kind", TelemetryIngest.LOSS_KIND)
        .containsEntry("severity", "warning");
    assertThat((String) events.get(1).get("message")).contains("outbox full").contains("7 events");

    TelemetryIngest.DeviceMetrics m = ingest.metrics(DEVICE, Duration.ofHours(1));
    assertThat(m.summaries()).extracting(TelemetryIngest.Summary::seq).containsExactly(1L, 2L);
    assertThat(m.summaries().get(1).metrics().get("cpu.used.percent"))
        .isEqualTo(new Telemetry.Stat(25, 35, 30, 31, 12));
    assertThat(m.latest().seq()).isEqualTo(2);
    assertThat(ingest.latest(DEVICE).orElseThrow().at()).isEqualTo(NOW.minusSeconds(60));
    assertThat(ingest.latest("dev-other")).isEmpty();
  }

  @Test
  void aResentBatchIsStoredOnceAndAcknowledgedAgain() {
    List<Telemetry> batch = List.of(event(1, "a"), metrics(2, NOW, 10));
    assertThat(ingest.batch(DEVICE, batch)).isEqualTo(2);
    assertThat(ingest.batch(DEVICE, batch)).isEqualTo(2);
    assertThat(rows("device_events")).isEqualTo(1);
    assertThat(rows("device_metrics")).isEqualTo(1);
    assertThat(ingest.records()).isEqualTo(2);
    assertThat(ingest.duplicates()).isEqualTo(2);
    // The same seq from another device is another record.
    assertThat(ingest.batch("dev-other", batch)).isEqualTo(2);
    assertThat(ingest.records()).isEqualTo(4);
  }

  @Test
  void badRecordsAreSkippedCountedAndReportedWhileTheRestIsStored() {
    Telemetry.Metrics nan =
        new Telemetry.Metrics(
            5,
            NOW.minusSeconds(60),
            NOW,
            Map.of("cpu", new Telemetry.Stat(1, Double.NaN, 1, 1, 1)));
    long upTo =
        ingest.batch(
            DEVICE,
            List.of(
                event(1, "fine"),
                new Telemetry.Loss(0, NOW, 1, "seq zero"),
                nan,
                new Telemetry.DeviceEvent(6, NOW, "k", "catastrophic", null, "x"),
                metrics(7, NOW, 10)));

    assertThat(upTo).as("refused records are acknowledged so they are not resent").isEqualTo(7);
    assertThat(ingest.refused()).isEqualTo(3);
    assertThat(ingest.records()).isEqualTo(2);
    assertThat(rows("device_metrics")).isEqualTo(1);
    List<Map<String, Object>> events = events();
    assertThat(events).extracting(e -> e.get("kind")).contains("app-failed");
    Map<String, Object> refused =
        events.stream()
            .filter(e -> TelemetryIngest.REFUSED_KIND.equals(e.get("kind")))
            .findFirst()
            .orElseThrow();
    assertThat(refused.get("seq")).isNull();
    assertThat((String) refused.get("message")).contains("3 records").contains("seq must be");
  }

  @Test
  void recordsThatDoNotBindAreReadOneByOne() throws Exception {
    JsonNode records =
        Json.mapper()
            .readTree(
                "[{\"k\":\"e\",\"seq\":1,\"at\":\"2026-11-21T11:59:00Z\",\"kind\":\"restart\","
                    + "\"severity\":\"warning\",\"message\":\"restarted\"},"
                    + "{\"k\":\"zz\",\"seq\":2,\"at\":\"2026-11-21T11:59:00Z\"},"
                    + "{\"k\":\"m\",\"seq\":3,\"from\":\"yesterday\",\"at\":\"x\",\"metrics\":1},"
                    + "\"not even an object\","
                    + "{\"k\":\"m\",\"seq\":4,\"from\":\"2026-11-21T11:58:00Z\","
                    + "\"at\":\"2026-11-21T11:59:00Z\",\"metrics\":{\"cpu\":{\"min\":1,\"max\":2,"
                    + "\"mean\":1.5,\"last\":2,\"count\":2}}}]");
    assertThat(ingest.raw(DEVICE, records)).isEqualTo(4);
    assertThat(ingest.refused()).isEqualTo(3);
    assertThat(ingest.records()).isEqualTo(2);
    assertThat(events()).extracting(e -> e.get("kind")).contains("restart", "telemetry-refused");
    assertThat(ingest.raw(DEVICE, Json.mapper().readTree("{\"records\":1}"))).isZero();
  }

  @Test
  void refusalEventsAreAtMostOneAMinutePerDeviceAndCountWhatWasHeldBack() {
    Telemetry bad = new Telemetry.Loss(0, NOW, 1, "x");
    ingest.batch(DEVICE, List.of(bad));
    ingest.batch(DEVICE, List.of(bad));
    ingest.refused(DEVICE, "a message of 70000 characters was refused");
    assertThat(events()).hasSize(1);
    clock.advance(Duration.ofSeconds(61));
    ingest.batch(DEVICE, List.of(bad));
    List<Map<String, Object>> events = events();
    assertThat(events).hasSize(2);
    assertThat((String) events.get(1).get("message")).contains("3 records or messages");
    assertThat(ingest.refused()).isEqualTo(3);
    assertThat(ingest.refusedMessages()).isEqualTo(1);
  }

  @Test
  void theNewestSummaryIsKnownAgainAfterARestart() {
    ingest.batch(
        DEVICE, List.of(metrics(1, NOW.minusSeconds(120), 1), metrics(5, NOW.minusSeconds(60), 5)));
    ingest.batch("dev-other", List.of(metrics(9, NOW.minusSeconds(10), 9)));
    TelemetryIngest restarted = new TelemetryIngest(db.jdbi(), clock);
    assertThat(restarted.latest(DEVICE)).isEmpty();
    restarted.load();
    assertThat(restarted.latest(DEVICE).orElseThrow().seq()).isEqualTo(5);
    assertThat(restarted.latest("dev-other").orElseThrow().seq()).isEqualTo(9);
    assertThat(restarted.latestAll()).hasSize(2);
  }

  @Test
  void anOlderSummaryArrivingLateDoesNotReplaceTheNewest() {
    ingest.batch(DEVICE, List.of(metrics(5, NOW.minusSeconds(60), 5)));
    ingest.batch(DEVICE, List.of(metrics(2, NOW.minusSeconds(600), 2)));
    assertThat(ingest.latest(DEVICE).orElseThrow().seq()).isEqualTo(5);
  }

  @Test
  void summariesAreKeptForTheRetentionWindowOnly() {
    ingest.batch(
        DEVICE,
        List.of(
            metrics(1, NOW.minus(Duration.ofHours(25)), 1),
            metrics(2, NOW.minus(Duration.ofHours(2)), 2),
            metrics(3, NOW.minus(Duration.ofMinutes(30)), 3)));
    assertThat(ingest.expired()).isEqualTo(1);
    assertThat(rows("device_metrics")).isEqualTo(2);
    assertThat(ingest.metrics(DEVICE, Duration.ofHours(1)).summaries())
        .extracting(TelemetryIngest.Summary::seq)
        .containsExactly(3L);
    assertThat(ingest.metrics(DEVICE, Duration.ofHours(24)).summaries()).hasSize(2);

    clock.advance(Duration.ofHours(23));
    assertThat(ingest.prune()).isEqualTo(1);
    assertThat(ingest.metrics(DEVICE, Duration.ofHours(24)).summaries())
        .extracting(TelemetryIngest.Summary::seq)
        .containsExactly(3L);
    clock.advance(Duration.ofHours(1));
    assertThat(ingest.prune()).isEqualTo(1);
    assertThat(ingest.latest(DEVICE)).isEmpty();
  }

  @Test
  void anOversizedBatchIsRefusedAsAWhole() {
    List<Telemetry> many =
        java.util.stream.LongStream.rangeClosed(1, TelemetryValidation.MAX_RECORDS + 1)
            .mapToObj(i -> (Telemetry) event(i, "x"))
            .toList();
    assertThat(ingest.batch(DEVICE, many)).isZero();
    assertThat(rows("device_events")).isEqualTo(1);
    assertThat(ingest.refusedMessages()).isEqualTo(1);
  }

  long stored(String table) {
    return db.jdbi()
        .withHandle(h -> h.createQuery("SELECT COUNT(*) FROM " + table).mapTo(Long.class).one());
  }

  @Test
  void aCompactBatchIsValidatedAndStoredAsTheSameBatchInJsonWouldBe() {
    CompactTelemetry.Encoder encoder = new CompactTelemetry.Encoder();
    CompactTelemetry.Decoder decoder = ingest.decoder();
    List<Telemetry> first =
        List.of(
            event(3, "boom"),
            new Telemetry.DeviceEvent(4, NOW, "k", "catastrophic", null, "bad severity"),
            metrics(1, NOW.minusSeconds(120), 20),
            new Telemetry.Metrics(
                2,
                NOW.minusSeconds(60),
                NOW.minusSeconds(60),
                Map.of("cpu.used.percent", new Telemetry.Stat(9, 1, 5, 5, 12))));
    CompactTelemetry.Encoded frame = encoder.encode(first);
    assertThat(ingest.compact(DEVICE, ByteBuffer.wrap(frame.bytes()), decoder)).isEqualTo(4);
    assertThat(ingest.records()).isEqualTo(2);
    assertThat(ingest.refused()).as("bad severity, min above max").isEqualTo(2);
    assertThat(rows("device_metrics")).isEqualTo(1);
    assertThat(events()).extracting(e -> e.get("message")).contains("boom");

    // The next frame of the connection sends ids only, and the stored summary is the same.
    encoder.acknowledged(frame);
    Telemetry.Metrics later = metrics(5, NOW.minusSeconds(30), 31);
    CompactTelemetry.Encoded lean = encoder.encode(List.of(later));
    assertThat(lean.namedIds()).isEmpty();
    assertThat(ingest.compact(DEVICE, ByteBuffer.wrap(lean.bytes()), decoder)).isEqualTo(5);
    assertThat(ingest.latest(DEVICE)).contains(later);
    assertThat(ingest.metrics(DEVICE, Duration.ofHours(1)).summaries())
        .extracting(TelemetryIngest.Summary::metrics)
        .contains(later.metrics());
  }

  @Test
  void anUnreadableCompactBatchIsRefusedAsAWholeAndNothingOfItIsStored() {
    CompactTelemetry.Decoder decoder = ingest.decoder();
    byte[] good =
        new CompactTelemetry.Encoder()
            .encode(List.of(event(3, "boom"), metrics(4, NOW.minusSeconds(60), 3)))
            .bytes();
    byte[] cut = java.util.Arrays.copyOf(good, good.length - 3);
    assertThat(ingest.compact(DEVICE, ByteBuffer.wrap(cut), decoder)).isZero();
    byte[] unknownType = good.clone();
    unknownType[0] = 9;
    assertThat(ingest.compact(DEVICE, ByteBuffer.wrap(unknownType), decoder)).isZero();

    assertThat(ingest.refusedMessages()).isEqualTo(2);
    assertThat(stored("device_metrics")).isZero();
    assertThat(events())
        .extracting(e -> e.get("kind"))
        .containsExactly(TelemetryIngest.REFUSED_KIND);
    assertThat(events().getFirst().get("message").toString())
        .contains("unreadable compact telemetry message: the frame ends inside a record");
    assertThat(decoder.names()).as("no name bound from a refused frame").isZero();
    // The same connection then takes the frame whole.
    assertThat(ingest.compact(DEVICE, ByteBuffer.wrap(good), decoder)).isEqualTo(4);
    assertThat(rows("device_metrics")).isEqualTo(1);
  }

  @Test
  void aPartialSummaryIsStoredAndAnsweredAsPartial() {
    Telemetry.Metrics whole = metrics(1, NOW.minusSeconds(120), 1);
    Telemetry.Metrics partial =
        new Telemetry.Metrics(
            2, NOW.minusSeconds(60), NOW.minusSeconds(23), metrics(2, NOW, 2).metrics(), true);
    ingest.batch(DEVICE, List.of(whole, partial));
    assertThat(ingest.metrics(DEVICE, Duration.ofHours(1)).summaries())
        .extracting(TelemetryIngest.Summary::partial)
        .containsExactly(false, true);
    assertThat(ingest.latest(DEVICE).orElseThrow().partial()).isTrue();
    TelemetryIngest restarted = new TelemetryIngest(db.jdbi(), clock);
    restarted.load();
    assertThat(restarted.latest(DEVICE)).contains(partial);
    assertThat(Json.write(ingest.metrics(DEVICE, Duration.ofHours(1))))
        .as("the latest summary and the second one; the whole window says nothing")
        .containsPattern("(\"partial\":true.*){2}")
        .doesNotContain("\"partial\":false");
  }

  @Test
  void decodersOfDifferentConnectionsKeepOneCopyOfEachName() throws Exception {
    CompactTelemetry.Encoder encoder = new CompactTelemetry.Encoder();
    CompactTelemetry.Encoded named = encoder.encode(List.of(metrics(1, NOW.minusSeconds(60), 1)));
    encoder.acknowledged(named);
    byte[] lean = encoder.encode(List.of(metrics(2, NOW, 2))).bytes();
    CompactTelemetry.Decoder a = ingest.decoder();
    CompactTelemetry.Decoder b = ingest.decoder();
    a.decode(ByteBuffer.wrap(named.bytes()));
    b.decode(ByteBuffer.wrap(named.bytes()));
    Telemetry.Metrics fromA = (Telemetry.Metrics) a.decode(ByteBuffer.wrap(lean)).getFirst();
    Telemetry.Metrics fromB = (Telemetry.Metrics) b.decode(ByteBuffer.wrap(lean)).getFirst();
    assertThat(fromA).isEqualTo(fromB);
    for (String name : fromA.metrics().keySet()) {
      String same =
          fromB.metrics().keySet().stream().filter(name::equals).findFirst().orElseThrow();
      assertThat(same).isSameAs(name);
    }
  }
}
