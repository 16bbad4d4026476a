package io.edgefleet.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.agent.runtime.DriftRepair;
import io.edgefleet.agent.runtime.DriftRepair.Cause;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class DriftEventsTest {
  static final Instant T0 = Instant.parse("2026-11-21T10:00:00Z");
  static final Duration INTERVAL = Duration.ofMinutes(10);
  static final DriftRepair WEB_DELETED = new DriftRepair("Deployment web/web", Cause.DELETED);
  static final DriftRepair CFG_CHANGED = new DriftRepair("ConfigMap web/cfg", Cause.CHANGED);

  /** A clock that moves only when told. */
  static final class StepClock extends Clock {
    Instant now = T0;

    void advance(Duration d) {
      now = now.plus(d);
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
      return now;
    }
  }

  record Event(Instant at, String kind, String severity, String app, String message) {}

  final StepClock clock = new StepClock();
  final List<Event> events = new ArrayList<>();
  final DriftEvents drift =
      new DriftEvents(
          clock,
          INTERVAL,
          (kind, severity, app, message) ->
              events.add(new Event(clock.instant(), kind, severity, app, message)));

  private List<String> messages() {
    return events.stream().map(Event::message).toList();
  }

  @Test
  void theFirstRepairIsReportedAtOnceAndRepeatsAreSummedUpOncePerInterval() {
    drift.repaired("web", List.of(WEB_DELETED));
    assertThat(events)
        .containsExactly(
            new Event(
                T0,
                "drift-repaired",
                "warning",
                "web",
                "recreated Deployment web/web that was deleted"));

    // 13 more repairs within the interval: counted, not reported.
    for (int i = 0; i < 13; i++) {
      clock.advance(Duration.ofSeconds(40));
      drift.repaired("web", List.of(WEB_DELETED));
      drift.tick();
    }
    clock.advance(Duration.between(clock.instant(), T0.plus(INTERVAL)).minusMillis(1));
    drift.tick();
    assertThat(events).hasSize(1);

    clock.advance(Duration.ofMillis(1));
    drift.tick();
    assertThat(events).hasSize(2);
    assertThat(events.get(1))
        .isEqualTo(
            new Event(
                T0.plus(INTERVAL),
                "drift-repaired",
                "warning",
                "web",
                "recreated Deployment web/web 14 times in the last 10 min"));

    // A quiet interval ends the report; the next repair is news again, at once.
    clock.advance(INTERVAL);
    drift.tick();
    assertThat(events).hasSize(2);
    assertThat(drift.tracked()).isZero();
    clock.advance(Duration.ofMinutes(3));
    drift.repaired("web", List.of(CFG_CHANGED));
    assertThat(messages().getLast())
        .isEqualTo("restored ConfigMap web/cfg changed outside edgefleet");
  }

  @Test
  void aSingleRepairIsReportedOnlyOnce() {
    drift.repaired("web", List.of(WEB_DELETED));
    for (int i = 0; i < 30; i++) {
      clock.advance(Duration.ofMinutes(1));
      drift.tick();
    }
    assertThat(messages()).containsExactly("recreated Deployment web/web that was deleted");
    assertThat(drift.tracked()).isZero();
  }

  @Test
  void eventsOfOneAppAreAnIntervalApartAndCountEveryRepair() {
    // Someone deletes the Deployment every 10 s for 35 minutes; the reconciler ticks as often.
    int repairs = 0;
    for (int s = 0; s < 35 * 60; s += 10) {
      drift.repaired("web", List.of(WEB_DELETED));
      repairs++;
      drift.tick();
      clock.advance(Duration.ofSeconds(10));
    }
    // Then it stops; the reconciler keeps passing.
    for (int i = 0; i < 30; i++) {
      drift.tick();
      clock.advance(Duration.ofMinutes(1));
    }

    assertThat(messages())
        .containsExactly(
            "recreated Deployment web/web that was deleted",
            "recreated Deployment web/web 60 times in the last 10 min",
            "recreated Deployment web/web 60 times in the last 10 min",
            "recreated Deployment web/web 60 times in the last 10 min",
            "recreated Deployment web/web 30 times in the last 10 min");
    for (int i = 1; i < events.size(); i++) {
      assertThat(Duration.between(events.get(i - 1).at(), events.get(i).at()))
          .isGreaterThanOrEqualTo(INTERVAL);
    }
    // The summaries cover every repair, the first one included.
    assertThat(60 + 60 + 60 + 30).isEqualTo(repairs);
    assertThat(drift.tracked()).isZero();
  }

  @Test
  void aRepairAfterTheIntervalWithoutTickSumsUpFirstAndIsCountedInTheNext() {
    drift.repaired("web", List.of(WEB_DELETED));
    clock.advance(Duration.ofMinutes(4));
    drift.repaired("web", List.of(WEB_DELETED));
    clock.advance(Duration.ofMinutes(7)); // no tick in between: the reconciler was slow
    drift.repaired("web", List.of(CFG_CHANGED));
    assertThat(messages())
        .containsExactly(
            "recreated Deployment web/web that was deleted",
            "recreated Deployment web/web 2 times in the last 11 min");
    clock.advance(INTERVAL);
    drift.tick();
    assertThat(messages().getLast())
        .isEqualTo("restored ConfigMap web/cfg once in the last 10 min");
  }

  @Test
  void appsAreReportedAndLimitedIndependently() {
    drift.repaired("web", List.of(WEB_DELETED));
    drift.repaired("shop", List.of(new DriftRepair("Service shop/front", Cause.CHANGED)));
    drift.repaired("web", List.of(WEB_DELETED));
    drift.repaired("shop", List.of(new DriftRepair("Service shop/front", Cause.CHANGED)));
    clock.advance(INTERVAL);
    drift.tick();
    assertThat(events.stream().collect(Collectors.groupingBy(Event::app, Collectors.counting())))
        .isEqualTo(Map.of("web", 2L, "shop", 2L));
    assertThat(events)
        .filteredOn(e -> e.app().equals("shop"))
        .extracting(Event::message)
        .containsExactly(
            "restored Service shop/front changed outside edgefleet",
            "restored Service shop/front 2 times in the last 10 min");
  }

  @Test
  void manyObjectsAreNamedByCountAndTheRestCounted() {
    List<DriftRepair> five =
        IntStream.range(0, 5)
            .mapToObj(i -> new DriftRepair("ConfigMap web/c" + i, Cause.DELETED))
            .toList();
    drift.repaired("web", five);
    assertThat(messages())
        .containsExactly(
            "recreated ConfigMap web/c0 that was deleted; recreated ConfigMap web/c1 that was"
                + " deleted; recreated ConfigMap web/c2 that was deleted; and 2 more objects");
    drift.repaired("web", List.of(five.get(4), CFG_CHANGED));
    drift.repaired("web", List.of(five.get(4), CFG_CHANGED));
    drift.repaired("web", List.of(five.get(4)));
    clock.advance(INTERVAL);
    drift.tick();
    assertThat(messages().getLast())
        .isEqualTo(
            "recreated ConfigMap web/c4 4 times, restored ConfigMap web/cfg 2 times, recreated"
                + " ConfigMap web/c0 once, and 3 more repairs in the last 10 min");
  }

  @Test
  void memoryIsBounded() {
    // Objects beyond the ones counted by name are counted together.
    List<DriftRepair> many =
        IntStream.range(0, DriftEvents.MAX_OBJECTS + 10)
            .mapToObj(i -> new DriftRepair("Secret web/s" + i, Cause.DELETED))
            .toList();
    drift.repaired("web", many);
    drift.repaired("web", many);
    clock.advance(INTERVAL);
    drift.tick();
    assertThat(messages().getLast())
        .endsWith(
            ", and "
                + (2 * (DriftEvents.MAX_OBJECTS + 10) - 2 * 3)
                + " more repairs in the last"
                + " 10 min");

    // Apps with an interval running are capped: the oldest is summed up early and forgotten.
    events.clear();
    for (int i = 0; i < DriftEvents.MAX_APPS + 5; i++) {
      drift.repaired("app-" + i, List.of(WEB_DELETED));
      drift.repaired("app-" + i, List.of(WEB_DELETED));
      assertThat(drift.tracked()).isLessThanOrEqualTo(DriftEvents.MAX_APPS);
    }
    assertThat(events)
        .filteredOn(e -> e.app().equals("app-0"))
        .extracting(Event::message)
        .containsExactly(
            "recreated Deployment web/web that was deleted",
            "recreated Deployment web/web 2 times in the last 0 s");
  }

  @Test
  void nothingRepairedIsNothingReported() {
    drift.repaired("web", List.of());
    clock.advance(INTERVAL);
    drift.tick();
    assertThat(events).isEmpty();
    assertThat(drift.tracked()).isZero();
  }

  @Test
  void theIntervalMustBePositive() {
    assertThatThrownBy(() -> new DriftEvents(clock, Duration.ZERO, (k, s, a, m) -> {}))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void spansAreRoundedDown() {
    assertThat(DriftEvents.span(Duration.ofSeconds(45))).isEqualTo("45 s");
    assertThat(DriftEvents.span(Duration.ofSeconds(10 * 60 + 59))).isEqualTo("10 min");
    assertThat(DriftEvents.span(Duration.ofMinutes(200))).isEqualTo("3 h");
  }
}
