package io.edgefleet.agent.artifacts;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ByteBudgetTest {
  @TempDir Path dir;

  @Test
  void whatWasSpentSurvivesARestartAndANewDayStartsAfresh() {
    Blobs4Test.MovingClock clock =
        new Blobs4Test.MovingClock(Instant.parse("2026-03-01T10:00:00Z"));
    ByteBudget budget = new ByteBudget(dir.resolve("budget"), clock);
    assertThat(budget.left(1000, ZoneOffset.UTC)).isEqualTo(1000);
    budget.spend(700, ZoneOffset.UTC);
    budget.save();

    ByteBudget restarted = new ByteBudget(dir.resolve("budget"), clock);
    assertThat(restarted.left(1000, ZoneOffset.UTC)).isEqualTo(300);
    restarted.spend(400, ZoneOffset.UTC);
    assertThat(restarted.left(1000, ZoneOffset.UTC)).isZero();
    assertThat(restarted.left(0, ZoneOffset.UTC)).isEqualTo(Long.MAX_VALUE);

    clock.advance(Duration.ofHours(14));
    assertThat(restarted.left(1000, ZoneOffset.UTC)).isEqualTo(1000);
  }

  @Test
  void theDayIsTheDayOfThePolicysZone() {
    // Midnight in Tokyo is 15:00 UTC.
    Blobs4Test.MovingClock clock =
        new Blobs4Test.MovingClock(Instant.parse("2026-03-01T14:00:00Z"));
    ZoneId tokyo = ZoneId.of("Asia/Tokyo");
    ByteBudget budget = new ByteBudget(dir.resolve("budget"), clock);
    budget.spend(500, tokyo);
    clock.set(Instant.parse("2026-03-01T14:59:00Z"));
    assertThat(budget.used(tokyo)).isEqualTo(500);
    clock.set(Instant.parse("2026-03-01T15:00:00Z"));
    assertThat(budget.used(tokyo)).isZero();
  }
}
