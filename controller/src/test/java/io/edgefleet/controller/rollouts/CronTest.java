package io.edgefleet.controller.rollouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CronTest {
  static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");

  /** A local time in UTC. */
  static ZonedDateTime utc(String local) {
    return LocalDateTime.parse(local).atZone(ZoneOffset.UTC);
  }

  /** A Berlin time with an explicit offset, to tell DST occurrences apart. */
  static ZonedDateTime berlin(String localWithOffset) {
    return ZonedDateTime.parse(localWithOffset + "[Europe/Berlin]");
  }

  static List<ZonedDateTime> firings(Cron cron, ZonedDateTime after, int n) {
    List<ZonedDateTime> out = new ArrayList<>();
    ZonedDateTime t = after;
    for (int i = 0; i < n; i++) {
      t = cron.next(t);
      out.add(t);
    }
    return out;
  }

  @Nested
  class Parsing {
    @Test
    void toStringIsTheOriginalExpression() {
      assertThat(Cron.parse("0 2 * * *")).hasToString("0 2 * * *");
      assertThat(Cron.parse("  @daily ")).hasToString("  @daily ");
      assertThat(Cron.parse("*/15 9-17 * JAN-mar mon-FRI"))
          .hasToString("*/15 9-17 * JAN-mar mon-FRI");
    }

    @Test
    void equalityIsByExpressionText() {
      assertThat(Cron.parse("0 2 * * *")).isEqualTo(Cron.parse("0 2 * * *"));
      assertThat(Cron.parse("0 2 * * *").hashCode()).isEqualTo(Cron.parse("0 2 * * *").hashCode());
      assertThat(Cron.parse("0 2 * * *")).isNotEqualTo(Cron.parse("0 3 * * *"));
    }

    @ParameterizedTest
    @CsvSource(
        delimiter = '|',
        textBlock =
            """
            ''               | cron expression is empty
            '   '            | cron expression is empty
            0 2 * *          | cron '0 2 * *' has 4 fields, expected 5: minute hour day-of-month month day-of-week
            0 2 * * * *      | has 6 fields, expected 5
            60 2 * * *       | cron '60 2 * * *': minute field '60' has value 60 out of range; allowed: 0-59
            0 24 * * *       | hour field '24' has value 24 out of range; allowed: 0-23
            0 2 0 * *        | day-of-month field '0' has value 0 out of range; allowed: 1-31
            0 2 32 * *       | day-of-month field '32' has value 32 out of range; allowed: 1-31
            0 2 * 13 *       | month field '13' has value 13 out of range; allowed: 1-12 or JAN-DEC
            0 2 * FOO *      | month field 'FOO' has value 'FOO' that is not a number; allowed: 1-12 or JAN-DEC
            0 2 * * 8        | day-of-week field '8' has value 8 out of range; allowed: 0-7 (0 and 7 are Sunday) or SUN-SAT
            0 2 * * MONDAY   | day-of-week field 'MONDAY' has value 'MONDAY' that is not a number
            0 2 * * -1       | day-of-week field '-1' has range '-1' with a missing end; write it as a-b
            0 2 * * 1-       | day-of-week field '1-' has range '1-' with a missing end
            0 5-2 * * *      | hour field '5-2' has range '5-2' that runs backwards; write the smaller value first
            */0 * * * *      | minute field '*/0' has step '0'; a step must be a whole number of at least 1
            */x * * * *      | minute field '*/x' has step 'x'
            '1,,2 * * * *'   | minute field '1,,2' has an empty list element
            @reboot          | unknown macro @reboot (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)
            """)
    void rejectsWithAnActionableMessage(String expression, String message) {
      assertThatThrownBy(() -> Cron.parse(expression))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(message);
    }

    @Test
    void rejectsNull() {
      assertThatThrownBy(() -> Cron.parse(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void macrosExpandToTheirUsualSchedules() {
      ZonedDateTime t = utc("2026-05-13T10:17"); // a Wednesday
      assertThat(Cron.parse("@hourly").next(t)).isEqualTo(utc("2026-05-13T11:00"));
      assertThat(Cron.parse("@daily").next(t)).isEqualTo(utc("2026-05-14T00:00"));
      assertThat(Cron.parse("@midnight").next(t)).isEqualTo(utc("2026-05-14T00:00"));
      assertThat(Cron.parse("@weekly").next(t)).isEqualTo(utc("2026-05-17T00:00")); // Sunday
      assertThat(Cron.parse("@monthly").next(t)).isEqualTo(utc("2026-06-01T00:00"));
      assertThat(Cron.parse("@yearly").next(t)).isEqualTo(utc("2027-01-01T00:00"));
      assertThat(Cron.parse("@annually").next(t)).isEqualTo(utc("2027-01-01T00:00"));
      assertThat(Cron.parse("@DAILY").next(t)).isEqualTo(utc("2026-05-14T00:00"));
    }
  }

  @Nested
  class Matching {
    @Test
    void numbersRangesListsAndSteps() {
      Cron cron = Cron.parse("5,10-12,*/20 1-23/11 * * *");
      List<Integer> minutes = new ArrayList<>();
      for (int m = 0; m < 60; m++) {
        if (cron.matches(utc("2026-05-13T01:00").withMinute(m))) {
          minutes.add(m);
        }
      }
      assertThat(minutes).containsExactly(0, 5, 10, 11, 12, 20, 40);
      List<Integer> hours = new ArrayList<>();
      for (int h = 0; h < 24; h++) {
        if (cron.matches(utc("2026-05-13T00:05").withHour(h))) {
          hours.add(h);
        }
      }
      assertThat(hours).containsExactly(1, 12, 23);
    }

    @Test
    void valueWithStepRunsToTheFieldsMaximum() {
      Cron cron = Cron.parse("50/3 * * * *");
      assertThat(cron.matches(utc("2026-05-13T01:50"))).isTrue();
      assertThat(cron.matches(utc("2026-05-13T01:53"))).isTrue();
      assertThat(cron.matches(utc("2026-05-13T01:59"))).isTrue();
      assertThat(cron.matches(utc("2026-05-13T01:00"))).isFalse();
      assertThat(cron.matches(utc("2026-05-13T01:51"))).isFalse();
    }

    @Test
    void secondsAreIgnored() {
      Cron cron = Cron.parse("30 2 * * *");
      assertThat(cron.matches(utc("2026-05-13T02:30:59.999"))).isTrue();
      assertThat(cron.matches(utc("2026-05-13T02:31:00"))).isFalse();
    }

    @Test
    void monthAndWeekdayNamesAreCaseInsensitive() {
      Cron cron = Cron.parse("0 0 * jun-Aug sat,SUN");
      assertThat(cron.matches(utc("2026-06-06T00:00"))).isTrue(); // Saturday
      assertThat(cron.matches(utc("2026-06-07T00:00"))).isTrue(); // Sunday
      assertThat(cron.matches(utc("2026-06-08T00:00"))).isFalse(); // Monday
      assertThat(cron.matches(utc("2026-09-05T00:00"))).isFalse(); // Saturday in September
    }

    @Test
    void dayOfWeekZeroAndSevenAreSunday() {
      ZonedDateTime sunday = utc("2026-05-17T00:00");
      assertThat(Cron.parse("0 0 * * 0").matches(sunday)).isTrue();
      assertThat(Cron.parse("0 0 * * 7").matches(sunday)).isTrue();
      assertThat(Cron.parse("0 0 * * 5-7").matches(sunday)).isTrue();
      assertThat(Cron.parse("0 0 * * 5-7").matches(utc("2026-05-18T00:00"))).isFalse();
    }

    @Test
    void restrictedDayOfMonthAndDayOfWeekMatchEither() {
      Cron cron = Cron.parse("0 0 13 * FRI");
      assertThat(cron.matches(utc("2026-05-13T00:00"))).as("the 13th, a Wednesday").isTrue();
      assertThat(cron.matches(utc("2026-05-15T00:00"))).as("a Friday, the 15th").isTrue();
      assertThat(cron.matches(utc("2026-05-14T00:00"))).as("neither").isFalse();
      assertThat(firings(cron, utc("2026-05-01T00:00"), 4))
          .containsExactly(
              utc("2026-05-08T00:00"),
              utc("2026-05-13T00:00"),
              utc("2026-05-15T00:00"),
              utc("2026-05-22T00:00"));
    }

    @Test
    void aStarredDayFieldMeansBothMustMatch() {
      // Vixie semantics: a field starting with '*' counts as unrestricted, so this is "odd days
      // that are Mondays", not "odd days or Mondays".
      Cron cron = Cron.parse("0 0 */2 * MON");
      assertThat(cron.matches(utc("2026-05-11T00:00"))).as("Monday the 11th").isTrue();
      assertThat(cron.matches(utc("2026-05-18T00:00"))).as("Monday the 18th").isFalse();
      assertThat(cron.matches(utc("2026-05-13T00:00"))).as("Wednesday the 13th").isFalse();
      assertThat(Cron.parse("0 0 1 * *").matches(utc("2026-05-04T00:00"))).isFalse();
      assertThat(Cron.parse("0 0 * * MON").matches(utc("2026-05-04T00:00"))).isTrue();
      assertThat(Cron.parse("0 0 * * MON").matches(utc("2026-05-01T00:00"))).isFalse();
    }
  }

  @Nested
  class Next {
    @Test
    void isStrictlyAfter() {
      Cron cron = Cron.parse("30 2 * * *");
      assertThat(cron.next(utc("2026-05-13T02:29:59"))).isEqualTo(utc("2026-05-13T02:30"));
      assertThat(cron.next(utc("2026-05-13T02:30"))).isEqualTo(utc("2026-05-14T02:30"));
      assertThat(cron.next(utc("2026-05-13T02:30:30"))).isEqualTo(utc("2026-05-14T02:30"));
    }

    @Test
    void everyMinute() {
      assertThat(Cron.parse("* * * * *").next(utc("2026-12-31T23:59:10")))
          .isEqualTo(utc("2027-01-01T00:00"));
    }

    @Test
    void skipsMonthsDaysAndHours() {
      assertThat(Cron.parse("15 10 * 3 *").next(utc("2026-05-13T00:00")))
          .isEqualTo(utc("2027-03-01T10:15"));
      assertThat(firings(Cron.parse("0 0 31 * *"), utc("2026-01-31T00:00"), 3))
          .containsExactly(
              utc("2026-03-31T00:00"), utc("2026-05-31T00:00"), utc("2026-07-31T00:00"));
      assertThat(Cron.parse("45 9,17 * * MON-FRI").next(utc("2026-05-15T17:45"))) // Friday
          .isEqualTo(utc("2026-05-18T09:45"));
    }

    @Test
    void keepsTheZoneOfItsArgument() {
      ZonedDateTime next = Cron.parse("0 2 * * *").next(berlin("2026-06-01T12:00+02:00"));
      assertThat(next).isEqualTo(berlin("2026-06-02T02:00+02:00"));
      assertThat(next.getZone()).isEqualTo(BERLIN);
    }

    @Test
    void leapDayOnlyInLeapYears() {
      Cron cron = Cron.parse("0 0 29 2 *");
      assertThat(cron.next(utc("2026-05-13T00:00"))).isEqualTo(utc("2028-02-29T00:00"));
      // 2100 is not a leap year: eight years apart.
      assertThat(cron.next(utc("2096-03-01T00:00"))).isEqualTo(utc("2104-02-29T00:00"));
    }

    @Test
    void impossibleDatesNeverFire() {
      for (String expression : List.of("0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *")) {
        Cron cron = Cron.parse(expression);
        assertThatThrownBy(() -> cron.next(utc("2026-05-13T00:00")))
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("cron '" + expression + "' never fires");
        assertThatThrownBy(() -> cron.previousOrSame(utc("2026-05-13T00:00")))
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("never fires");
        assertThat(cron.latestAtOrBefore(utc("2026-05-13T00:00"), Duration.ofDays(3000))).isEmpty();
      }
    }

    @Test
    void impossibleDayOfMonthStillFiresOnItsWeekdays() {
      // day-of-week is restricted too, so the OR rule applies and Mondays in February match.
      assertThat(Cron.parse("0 0 30 2 MON").next(utc("2026-05-13T00:00")))
          .isEqualTo(utc("2027-02-01T00:00"));
    }

    @Test
    void springForwardGapDoesNotFireThatDay() {
      // Europe/Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST.
      Cron cron = Cron.parse("30 2 * * *");
      assertThat(firings(cron, berlin("2026-03-27T12:00+01:00"), 3))
          .containsExactly(
              berlin("2026-03-28T02:30+01:00"),
              berlin("2026-03-30T02:30+02:00"),
              berlin("2026-03-31T02:30+02:00"));
      assertThat(firings(Cron.parse("0 * * * *"), berlin("2026-03-29T00:30+01:00"), 3))
          .containsExactly(
              berlin("2026-03-29T01:00+01:00"),
              berlin("2026-03-29T03:00+02:00"),
              berlin("2026-03-29T04:00+02:00"));
      assertThat(Cron.parse("* * * * *").next(berlin("2026-03-29T01:59+01:00")))
          .isEqualTo(berlin("2026-03-29T03:00+02:00"));
    }

    @Test
    void fallBackOverlapFiresOnce() {
      // Europe/Berlin 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:xx happens twice.
      Cron cron = Cron.parse("30 2 * * *");
      assertThat(firings(cron, berlin("2026-10-24T12:00+02:00"), 3))
          .containsExactly(
              berlin("2026-10-25T02:30+02:00"),
              berlin("2026-10-26T02:30+01:00"),
              berlin("2026-10-27T02:30+01:00"));
      // From inside the second occurrence, the first one has already fired.
      assertThat(cron.next(berlin("2026-10-25T02:10+01:00")))
          .isEqualTo(berlin("2026-10-26T02:30+01:00"));
      assertThat(firings(Cron.parse("0 * * * *"), berlin("2026-10-25T00:30+02:00"), 3))
          .containsExactly(
              berlin("2026-10-25T01:00+02:00"),
              berlin("2026-10-25T02:00+02:00"),
              berlin("2026-10-25T03:00+01:00"));
    }

    @Test
    void matchesOnlyTheFirstOccurrenceOfARepeatedTime() {
      Cron cron = Cron.parse("30 2 * * *");
      assertThat(cron.matches(berlin("2026-10-25T02:30+02:00"))).isTrue();
      assertThat(cron.matches(berlin("2026-10-25T02:30+01:00"))).isFalse();
    }
  }

  @Nested
  class Latest {
    @Test
    void latestFiringAtOrBeforeWithinTheHorizon() {
      Cron cron = Cron.parse("0 2 * * *");
      Duration threeHours = Duration.ofHours(3);
      assertThat(cron.latestAtOrBefore(utc("2026-05-13T02:00:45"), threeHours))
          .contains(utc("2026-05-13T02:00"));
      assertThat(cron.latestAtOrBefore(utc("2026-05-13T04:59"), threeHours))
          .contains(utc("2026-05-13T02:00"));
      assertThat(cron.latestAtOrBefore(utc("2026-05-13T05:00"), threeHours))
          .contains(utc("2026-05-13T02:00"));
      assertThat(cron.latestAtOrBefore(utc("2026-05-13T05:01"), threeHours)).isEmpty();
      assertThat(cron.latestAtOrBefore(utc("2026-05-13T01:59"), threeHours)).isEmpty();
      assertThat(cron.latestAtOrBefore(utc("2026-05-13T01:59"), Duration.ofDays(1)))
          .contains(utc("2026-05-12T02:00"));
      assertThat(cron.latestAtOrBefore(utc("2026-05-13T01:59"), Duration.ofDays(-1))).isEmpty();
    }

    @Test
    void searchesBackAcrossMonthsAndYears() {
      assertThat(
              Cron.parse("0 12 1 1 *")
                  .latestAtOrBefore(utc("2026-05-13T00:00"), Duration.ofDays(400)))
          .contains(utc("2026-01-01T12:00"));
      assertThat(Cron.parse("0 0 29 2 *").previousOrSame(utc("2026-05-13T00:00")))
          .isEqualTo(utc("2024-02-29T00:00"));
      assertThat(Cron.parse("15 10 * * *").previousOrSame(utc("2026-05-13T10:15:59")))
          .isEqualTo(utc("2026-05-13T10:15"));
    }

    @Test
    void springForwardGap() {
      Cron cron = Cron.parse("30 2 * * *");
      ZonedDateTime noon = berlin("2026-03-29T12:00+02:00");
      assertThat(cron.latestAtOrBefore(noon, Duration.ofDays(1))).isEmpty();
      assertThat(cron.latestAtOrBefore(noon, Duration.ofDays(2)))
          .contains(berlin("2026-03-28T02:30+01:00"));
    }

    @Test
    void fallBackOverlapFindsTheFirstOccurrence() {
      Cron cron = Cron.parse("30 2 * * *");
      // 02:10 CET is 40 minutes after 02:30 CEST, which is when the cron fired.
      assertThat(cron.latestAtOrBefore(berlin("2026-10-25T02:10+01:00"), Duration.ofHours(1)))
          .contains(berlin("2026-10-25T02:30+02:00"));
      assertThat(cron.latestAtOrBefore(berlin("2026-10-25T02:10+01:00"), Duration.ofMinutes(30)))
          .isEmpty();
      assertThat(cron.latestAtOrBefore(berlin("2026-10-25T02:20+02:00"), Duration.ofHours(1)))
          .isEmpty();
      assertThat(cron.latestAtOrBefore(berlin("2026-10-25T02:45+01:00"), Duration.ofHours(2)))
          .contains(berlin("2026-10-25T02:30+02:00"));
    }

    @Test
    void agreesWithNextOverAYearOfFirings() {
      Cron cron = Cron.parse("*/20 1-3 * * SUN,WED");
      ZonedDateTime t = berlin("2026-01-01T00:00+01:00");
      for (int i = 0; i < 500; i++) {
        ZonedDateTime fire = cron.next(t);
        assertThat(cron.matches(fire)).isTrue();
        assertThat(cron.latestAtOrBefore(fire, Duration.ZERO)).contains(fire);
        assertThat(cron.latestAtOrBefore(fire.plusSeconds(59), Duration.ofSeconds(59)))
            .contains(fire);
        assertThat(cron.latestAtOrBefore(fire.minusMinutes(1), Duration.ofDays(7)))
            .contains(cron.previousOrSame(fire.minusMinutes(1)));
        assertThat(cron.previousOrSame(fire.minusMinutes(1)).isBefore(fire)).isTrue();
        t = fire;
      }
    }
  }
}
