package io.edgefleet.e2e.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.testkit.OutboxWriter;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent's outbox written by a separate process that is killed with SIGKILL at random moments,
 * again and again: after every kill the outbox opens intact (nothing corrupt, seq numbers strictly
 * increasing and continuing, every record reported written present unless acknowledged), and in the
 * end the real agent drains all of it to the controller.
 */
class TelemetryCrashIT {
  private static final int KILLS = 8;

  @TempDir Path dir;

  @Test
  void theOutboxSurvivesKillNineAtAnyMomentAndDrainsCompletely() throws Exception {
    try (TestController controller = TestController.start(dir.resolve("controller"));
        TestAgents agents = new TestAgents(dir)) {
      String token = controller.token(Map.of(), null, false);
      AgentOptions options =
          agents.options(
              "rig", agents.bootstrap("t", controller.url(), controller.caFingerprint(), token));
      // Enroll once, then stop: the agent's state directory and outbox stay.
      TestAgents.WithTelemetry first =
          agents.startWithTelemetry(
              options,
              Clock.systemUTC(),
              Map::of,
              TelemetryFeature.Options.defaults().withSampleEvery(Duration.ZERO));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> first.agent().status().state() == Agent.State.CONNECTED);
      String id = first.agent().status().deviceId().orElseThrow();
      first.agent().close();
      Path outboxDir = options.stateDir().resolve("outbox");

      long highest = 0;
      long totalWritten = 0;
      Set<Long> mustReachController = new HashSet<>();
      for (int round = 0; round < KILLS; round++) {
        OutboxWriter writer = OutboxWriter.start(outboxDir, Outbox.Options.DEFAULT_MAX_BYTES, true);
        // Kill after a random amount of work: the writer keeps going between the moment the
        // test sees the count and the signal, so the kill lands anywhere in an append, an
        // acknowledgement or a segment deletion.
        long target = ThreadLocalRandom.current().nextLong(1, 3000);
        await()
            .atMost(Duration.ofSeconds(120))
            .until(() -> writer.written() >= target || !writer.alive());
        assertThat(writer.alive()).as("writer output: %s", writer.otherOutput()).isTrue();
        writer.kill9();

        List<OutboxWriter.Line> lines = writer.lines();
        long ackedEvents = 0;
        long ackedMetrics = 0;
        for (OutboxWriter.Line l : lines) {
          if (l.what() == 'A') {
            ackedEvents = l.a();
            ackedMetrics = l.b();
          }
        }
        List<OutboxWriter.Line> writes = lines.stream().filter(l -> l.what() == 'W').toList();
        assertThat(writes).isNotEmpty();
        assertThat(writes.getFirst().a())
            .as("seq numbers continue after a restart")
            .isGreaterThan(highest);
        totalWritten += writes.size();

        try (Outbox reopened =
            Outbox.open(outboxDir, Outbox.Options.defaults(), Clock.systemUTC())) {
          Outbox.Recovery r = reopened.recovery();
          assertThat(r.corruptBytes()).as("round %d: %s", round, r).isZero();
          Outbox.Stats stats = reopened.stats();
          System.out.printf(
              "round %d: killed after %d appends (seq %d..%d); reopened: %s, %s%n",
              round, writes.size(), writes.getFirst().a(), writes.getLast().a(), r, stats);
          assertThat(stats.ackedEvents()).isGreaterThanOrEqualTo(ackedEvents);
          assertThat(stats.ackedMetrics()).isGreaterThanOrEqualTo(ackedMetrics);
          List<Telemetry> pending = reopened.pending();
          assertThat(pending).extracting(Telemetry::seq).isSorted().doesNotHaveDuplicates();
          assertThat(pending).noneMatch(t -> t instanceof Telemetry.Loss);
          Set<Long> present = new HashSet<>();
          pending.forEach(t -> present.add(t.seq()));
          for (OutboxWriter.Line w : writes) {
            long acked = w.kind().equals("m") ? stats.ackedMetrics() : stats.ackedEvents();
            if (w.a() > acked) {
              assertThat(present)
                  .as("round %d: record %s %d was reported written", round, w.kind(), w.a())
                  .contains(w.a());
            }
          }
          mustReachController.clear();
          mustReachController.addAll(present);
          highest = Math.max(highest, stats.nextSeq() - 1);
          assertThat(writes.getLast().a()).isLessThanOrEqualTo(highest);
        }
      }
      assertThat(totalWritten).isGreaterThan(KILLS);
      assertThat(mustReachController).isNotEmpty();

      // The real agent on the same state directory drains everything that was left.
      TestAgents.WithTelemetry again =
          agents.startWithTelemetry(
              options,
              Clock.systemUTC(),
              Map::of,
              TelemetryFeature.Options.defaults()
                  .withSampleEvery(Duration.ZERO)
                  .withBytesPerSecond(4 << 20));
      Jdbi db = controller.controller().database().jdbi();
      await()
          .atMost(Duration.ofSeconds(120))
          .until(() -> again.telemetry().outbox().stats().pending() == 0);
      Set<Long> stored = new HashSet<>(storedSeqs(db, id));
      assertThat(stored).containsAll(mustReachController);
      assertThat(again.telemetry().stats().resends()).isZero();
    }
  }

  private static List<Long> storedSeqs(Jdbi db, String id) {
    return db.withHandle(
        h ->
            h.createQuery(
                    "SELECT seq FROM device_events WHERE device_id = :d AND seq IS NOT NULL"
                        + " UNION ALL SELECT seq FROM device_metrics WHERE device_id = :d")
                .bind("d", id)
                .mapTo(Long.class)
                .list());
  }
}
