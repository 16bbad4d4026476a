package io.edgefleet.e2e.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent is stopped gracefully (as SIGTERM stops it) in the middle of a telemetry window and
 * started again 40 s of device time later: the controller gets the window that was in progress as a
 * partial summary with its samples, and the next summary starts at the restart, so the device's
 * series has a gap of exactly the downtime.
 */
class TelemetryRestartIT {
  @TempDir Path dir;

  @Test
  void aRestartLeavesNoHoleInTheSeriesBeyondTheDowntime() throws Exception {
    try (TestController controller =
            TestController.start(
                TestController.config(dir.resolve("controller"))
                    .withTelemetryInterval(Duration.ofSeconds(60)));
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin()) {
      String token = controller.token(Map.of(), null, false);
      AgentOptions options =
          agents.options(
              "rig", agents.bootstrap("t", controller.url(), controller.caFingerprint(), token));
      // The device's clock moves only when the test moves it, so times compare exactly.
      StepClock clock = new StepClock(Instant.ofEpochSecond(Instant.now().getEpochSecond()));
      AtomicInteger load = new AtomicInteger();
      // The controller's window from the start (the welcome may come after the first samples).
      TelemetryFeature.Options telemetry =
          TelemetryFeature.Options.defaults()
              .withSampleEvery(Duration.ZERO)
              .withDefaultWindow(Duration.ofSeconds(60));
      TestAgents.WithTelemetry first =
          agents.startWithTelemetry(
              options, clock, () -> Map.of("load.1", (double) load.incrementAndGet()), telemetry);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> first.agent().status().state() == Agent.State.CONNECTED);
      String id = first.agent().status().deviceId().orElseThrow();
      Instant t0 = clock.instant();
      first.telemetry().tick(); // the first sample, at the start (as start() takes it)
      ticks(first.telemetry(), clock, 12); // [t0, t0+60s]: the window the controller set
      await().atMost(Duration.ofSeconds(30)).until(() -> summaries(admin, id).size() == 1);

      ticks(first.telemetry(), clock, 7); // seven samples into the second window
      clock.advance(Duration.ofSeconds(3));
      Instant stopped = clock.instant();
      first.agent().close(); // what the agent's SIGTERM hook does

      clock.advance(Duration.ofSeconds(40));
      Instant restarted = clock.instant();
      TestAgents.WithTelemetry again =
          agents.startWithTelemetry(
              options, clock, () -> Map.of("load.1", (double) load.incrementAndGet()), telemetry);
      again.telemetry().tick(); // sampling resumes at once
      clock.advance(Duration.ofSeconds(2)); // onto the 5 s grid of t0, as start() schedules
      again.telemetry().tick();
      List<JsonNode> all = new ArrayList<>();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                if (again.agent().status().state() == Agent.State.CONNECTED) {
                  clock.advance(Duration.ofSeconds(5));
                  again.telemetry().tick();
                }
                all.clear();
                all.addAll(summaries(admin, id));
                return all.size() >= 3;
              });

      JsonNode whole = all.get(0);
      JsonNode partial = all.get(1);
      JsonNode next = all.get(2);
      assertThat(whole.path("partial").asBoolean()).isFalse();
      assertThat(Instant.parse(whole.path("from").asText())).isEqualTo(t0);
      assertThat(partial.path("partial").asBoolean()).isTrue();
      assertThat(Instant.parse(partial.path("from").asText())).isEqualTo(t0.plusSeconds(60));
      assertThat(Instant.parse(partial.path("at").asText())).isEqualTo(stopped);
      assertThat(partial.path("metrics").path("load.1").path("count").asLong()).isEqualTo(7);
      assertThat(next.path("partial").asBoolean()).isFalse();
      assertThat(Instant.parse(next.path("from").asText())).isEqualTo(restarted);
      assertThat(
              Duration.between(
                  Instant.parse(partial.path("at").asText()),
                  Instant.parse(next.path("from").asText())))
          .as("the gap in the series is the downtime")
          .isEqualTo(Duration.ofSeconds(40));
      // The first window after the restart ends on the grid of the windows before it.
      assertThat(Instant.parse(next.path("at").asText())).isEqualTo(t0.plusSeconds(180));
    }
  }

  /** A clock that stands still until told to move. */
  static final class StepClock extends Clock {
    private final AtomicLong millis;

    StepClock(Instant start) {
      millis = new AtomicLong(start.toEpochMilli());
    }

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

  private static void ticks(TelemetryFeature f, StepClock clock, int n) {
    for (int i = 0; i < n; i++) {
      clock.advance(Duration.ofSeconds(5));
      f.tick();
    }
  }

  private static List<JsonNode> summaries(AdminClient admin, String id) {
    List<JsonNode> out = new ArrayList<>();
    admin
        .get("/api/v1/devices/" + id + "/metrics?since=24h")
        .body()
        .path("summaries")
        .forEach(out::add);
    return out;
  }
}
