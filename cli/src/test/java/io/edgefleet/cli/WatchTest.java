package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class WatchTest {
  private static final Clock CLOCK =
      Clock.fixed(Instant.parse("2025-06-01T12:00:05Z"), ZoneId.of("UTC"));

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();
  private final List<Duration> pauses = new ArrayList<>();

  private Watch watch(boolean terminal, boolean json) {
    return new Watch(
        new PrintWriter(out),
        new PrintWriter(err),
        terminal,
        json,
        Duration.ofSeconds(3),
        CLOCK,
        pauses::add);
  }

  private static java.util.function.Supplier<Watch.Frame> answers(Watch.Frame... frames) {
    Iterator<Watch.Frame> it = List.of(frames).iterator();
    return it::next;
  }

  @Test
  void pipedOutputAppendsSnapshotsUntilTheEndAndReturnsItsExitCode() {
    int code =
        watch(false, false)
            .run(
                answers(
                    Watch.Frame.going("STATE\nPROGRESSING\n"),
                    new Watch.Frame(
                        "STATE\nPAUSED\n", Optional.of(new Watch.End(3, "rollout r-1 PAUSED")))));

    assertThat(code).isEqualTo(3);
    assertThat(out.toString())
        .isEqualTo(
            """
            Every 3s, at 12:00:05

            STATE
            PROGRESSING

            Every 3s, at 12:00:05

            STATE
            PAUSED
            rollout r-1 PAUSED
            """);
    assertThat(out.toString()).doesNotContain("\u001b");
    assertThat(pauses).containsExactly(Duration.ofSeconds(3));
  }

  @Test
  void onATerminalEachAnswerIsDrawnOverThePreviousOne() {
    watch(true, false)
        .run(
            answers(
                Watch.Frame.going("A\nB\n"),
                new Watch.Frame("C\n", Optional.of(new Watch.End(0, "done")))));

    // The first frame is 4 lines (time line, blank line, A, B): go up 4, clear to the end.
    assertThat(out.toString())
        .isEqualTo(
            "Every 3s, at 12:00:05\n\nA\nB\n"
                + "\u001b[4A\r\u001b[J"
                + "Every 3s, at 12:00:05\n\nC\n"
                + "done\n");
  }

  @Test
  void jsonIsOneDocumentPerAnswerWithTheSummaryOnStderr() {
    JsonNode first = Json.mapper().createObjectNode().put("state", "PROGRESSING");
    JsonNode last = Json.mapper().createObjectNode().put("state", "SUCCEEDED");

    int code =
        watch(true, true)
            .run(
                answers(
                    Watch.Frame.going(Json.write(first) + "\n"),
                    new Watch.Frame(
                        Json.write(last) + "\n",
                        Optional.of(new Watch.End(0, "rollout r-1 SUCCEEDED")))));

    assertThat(code).isZero();
    assertThat(out.toString().lines())
        .containsExactly("{\"state\":\"PROGRESSING\"}", "{\"state\":\"SUCCEEDED\"}");
    assertThat(err.toString()).isEqualTo("rollout r-1 SUCCEEDED\n");
  }

  @Test
  void anInterruptedWatchWithoutAnEndStopsWithZero() {
    Watch watch =
        new Watch(
            new PrintWriter(out),
            new PrintWriter(err),
            false,
            false,
            Duration.ofSeconds(2),
            CLOCK,
            d -> {
              throw new InterruptedException();
            });

    assertThat(watch.run(() -> Watch.Frame.going("X\n"))).isZero();
    assertThat(Thread.interrupted()).isTrue();
  }

  @Test
  void rolloutsEndWithAnExitCodePerFinalState() {
    assertThat(RolloutsCommand.end(rollout("PROGRESSING"))).isEmpty();
    assertThat(RolloutsCommand.end(rollout("ROLLING_BACK"))).isEmpty();
    assertThat(RolloutsCommand.end(rollout("SUCCEEDED")))
        .contains(new Watch.End(0, "rollout r-1 SUCCEEDED: all batches done"));
    assertThat(RolloutsCommand.end(rollout("PAUSED")))
        .contains(new Watch.End(3, "rollout r-1 PAUSED: all batches done (exit 3)"));
    assertThat(RolloutsCommand.end(rollout("ROLLED_BACK")).orElseThrow().exitCode()).isEqualTo(4);
    assertThat(RolloutsCommand.end(rollout("ABORTED")).orElseThrow().exitCode()).isEqualTo(5);
    assertThat(RolloutsCommand.end(rollout("SUPERSEDED")).orElseThrow().exitCode()).isEqualTo(6);
  }

  @Test
  void appsEndOnceNoDeviceIsOnItsWay() {
    assertThat(AppsCommand.end("web", devices("READY", "PROGRESSING"))).isEmpty();
    assertThat(AppsCommand.end("web", devices("READY", "PENDING"))).isEmpty();
    assertThat(AppsCommand.end("web", devices("READY", "READY")))
        .contains(new Watch.End(0, "web: 2 devices: 2 ready"));
    assertThat(AppsCommand.end("web", devices("READY", "FAILED", "PENDING_OFFLINE")).orElseThrow())
        .extracting(Watch.End::exitCode)
        .isEqualTo(7);
    assertThat(AppsCommand.end("web", devices("READY", "PENDING_OFFLINE")).orElseThrow())
        .extracting(Watch.End::exitCode)
        .isEqualTo(8);
    // A device that cannot run the app never will: nothing to wait for, nothing failed.
    assertThat(AppsCommand.end("web", devices("READY", "NOT_PLACED")))
        .contains(new Watch.End(0, "web: 2 devices: 1 ready, 1 not-placed"));
  }

  private static JsonNode rollout(String state) {
    return Json.mapper()
        .createObjectNode()
        .put("id", "r-1")
        .put("state", state)
        .put("reason", "all batches done");
  }

  private static JsonNode devices(String... states) {
    var array = Json.mapper().createArrayNode();
    for (String s : states) {
      array.addObject().put("state", s);
    }
    return array;
  }
}
