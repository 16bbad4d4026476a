package io.edgefleet.controller.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.Telemetry;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TelemetryValidationTest {
  static final Instant NOW = Instant.parse("2026-11-21T12:00:00Z");
  static final Telemetry.Stat OK = new Telemetry.Stat(1, 3, 2, 3, 4);

  static Telemetry.Metrics metrics(Map<String, Telemetry.Stat> m) {
    return new Telemetry.Metrics(5, NOW.minusSeconds(60), NOW, m);
  }

  static String problem(Telemetry t) {
    return TelemetryValidation.problem(t, NOW).orElse("");
  }

  @Test
  void wellFormedRecordsPass() {
    assertThat(TelemetryValidation.problem(metrics(Map.of("disk./.used.percent", OK)), NOW))
        .isEmpty();
    assertThat(
            TelemetryValidation.problem(
                new Telemetry.DeviceEvent(1, NOW, "app-failed", "error", "web", "boom"), NOW))
        .isEmpty();
    assertThat(
            TelemetryValidation.problem(
                new Telemetry.DeviceEvent(1, NOW, "restart", null, null, ""), NOW))
        .isEmpty();
    assertThat(TelemetryValidation.problem(new Telemetry.Loss(2, NOW, 0, null), NOW)).isEmpty();
  }

  @Test
  void seqMustBePositive() {
    assertThat(problem(new Telemetry.Loss(0, NOW, 1, "x"))).contains("seq");
    assertThat(problem(new Telemetry.Loss(-4, NOW, 1, "x"))).contains("seq");
  }

  @Test
  void summaryTimesMustBePlausibleWhileEventsKeepAnyTimeForTheLogToPlace() {
    assertThat(problem(new Telemetry.Loss(1, null, 1, "x"))).contains("at is missing");
    Instant epoch = Instant.parse("1970-01-01T00:00:00Z");
    Instant ahead = NOW.plusSeconds(3 * 86400);
    assertThat(problem(new Telemetry.Loss(1, epoch, 1, "x"))).isEmpty();
    assertThat(problem(new Telemetry.DeviceEvent(1, ahead, "k", "info", null, "x"))).isEmpty();
    assertThat(problem(new Telemetry.Metrics(1, epoch, epoch.plusSeconds(60), Map.of("a", OK))))
        .contains("plausible");
    assertThat(problem(new Telemetry.Metrics(1, NOW, ahead, Map.of("a", OK))))
        .contains("plausible");
    assertThat(problem(new Telemetry.Metrics(1, NOW, NOW.minusSeconds(1), Map.of("a", OK))))
        .contains("after");
    assertThat(problem(new Telemetry.Metrics(1, null, NOW, Map.of("a", OK))))
        .contains("from is missing");
  }

  @Test
  void metricValuesMustBeFiniteAndConsistent() {
    assertThat(problem(metrics(Map.of("a", new Telemetry.Stat(Double.NaN, 1, 1, 1, 1)))))
        .contains("finite");
    assertThat(
            problem(metrics(Map.of("a", new Telemetry.Stat(1, Double.POSITIVE_INFINITY, 1, 1, 1)))))
        .contains("finite");
    assertThat(problem(metrics(Map.of("a", new Telemetry.Stat(1, 1, 1, 1, 0))))).contains("count");
    assertThat(problem(metrics(Map.of("a", new Telemetry.Stat(5, 1, 3, 3, 2))))).contains("min");
    Map<String, Telemetry.Stat> nulls = new HashMap<>();
    nulls.put("a", null);
    assertThat(problem(metrics(nulls))).contains("no values");
  }

  @Test
  void metricNamesAndCountsAreBounded() {
    assertThat(problem(metrics(Map.of()))).contains("at least one");
    assertThat(problem(metrics(Map.of("x".repeat(201), OK)))).contains("1 to 200");
    assertThat(problem(metrics(Map.of("cpu used", OK)))).contains("characters outside");
    Map<String, Telemetry.Stat> many = new HashMap<>();
    for (int i = 0; i <= TelemetryValidation.MAX_METRICS; i++) {
      many.put("m." + i, OK);
    }
    assertThat(problem(metrics(many))).contains("501");
  }

  @Test
  void eventTextIsBounded() {
    assertThat(problem(new Telemetry.DeviceEvent(1, NOW, "", "info", null, "m"))).contains("kind");
    assertThat(problem(new Telemetry.DeviceEvent(1, NOW, "k".repeat(101), "info", null, "m")))
        .contains("kind");
    assertThat(problem(new Telemetry.DeviceEvent(1, NOW, "k", "fatal", null, "m")))
        .contains("severity");
    assertThat(problem(new Telemetry.DeviceEvent(1, NOW, "k", "info", "a".repeat(201), "m")))
        .contains("app");
    assertThat(problem(new Telemetry.DeviceEvent(1, NOW, "k", "info", null, "m".repeat(4001))))
        .contains("message");
    assertThat(problem(new Telemetry.DeviceEvent(1, NOW, "k", "info", null, null)))
        .contains("message");
  }

  @Test
  void lossRecordsCountZeroOrMore() {
    assertThat(problem(new Telemetry.Loss(1, NOW, -1, "x"))).contains("-1");
    assertThat(problem(new Telemetry.Loss(1, NOW, 3, "r".repeat(1001)))).contains("reason");
  }
}
