package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class OutagesTest {
  final ByteArrayOutputStream log = new ByteArrayOutputStream();
  final MutableClock clock = new MutableClock();
  final Outages outages =
      new Outages(
          Duration.ofSeconds(60),
          new SplittableRandom(1),
          clock,
          new PrintStream(log, true, StandardCharsets.UTF_8));

  @Test
  void aLinkFailureIsRetriedWithinSecondsARefusalIsBackedOff() {
    for (int i = 0; i < 20; i++) {
      assertThat(outages.delay(true)).isLessThanOrEqualTo(Duration.ofSeconds(5));
    }
    Duration longest = Duration.ZERO;
    for (int i = 0; i < 20; i++) {
      Duration d = outages.delay(false);
      longest = d.compareTo(longest) > 0 ? d : longest;
    }
    assertThat(longest).isGreaterThan(Duration.ofSeconds(5));
    outages.connected();
    assertThat(outages.delay(false)).isLessThanOrEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void anOutageIsLoggedOnceThenEveryFiveMinutesAndSummedUpWhenItEnds() {
    outages.failed("no route", null, Duration.ofSeconds(2));
    clock.advance(Duration.ofMinutes(1));
    outages.failed("no route", "no route", Duration.ofSeconds(2)); // quiet: the same reason
    clock.advance(Duration.ofMinutes(4));
    outages.failed("no route", "no route", Duration.ofSeconds(3));
    outages.failed("refused", "no route", Duration.ofSeconds(4)); // a new reason: at once
    clock.advance(Duration.ofSeconds(30));

    assertThat(outages.over()).isEqualTo(" after 5m 30s without it (4 attempts)");
    assertThat(outages.over()).isEmpty();
    assertThat(log.toString(StandardCharsets.UTF_8).lines())
        .containsExactly(
            "no route; retrying in 2.0s",
            "still no connection after 5m 0s (3 attempts): no route; next attempt in 3.0s",
            "refused; retrying in 4.0s");
  }

  @Test
  void durationsReadForPeople() {
    assertThat(Outages.human(Duration.ofMillis(4_300))).isEqualTo("4.3s");
    assertThat(Outages.human(Duration.ofSeconds(45))).isEqualTo("45s");
    assertThat(Outages.human(Duration.ofSeconds(492))).isEqualTo("8m 12s");
    assertThat(Outages.human(Duration.ofMinutes(185))).isEqualTo("3h 5m");
  }

  static final class MutableClock extends Clock {
    private Instant now = Instant.parse("2026-12-05T10:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneOffset getZone() {
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
}
