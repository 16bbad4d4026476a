package io.edgefleet.controller.rollouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.rollouts.MaintenanceWindows.Closed;
import io.edgefleet.controller.rollouts.MaintenanceWindows.Never;
import io.edgefleet.controller.rollouts.MaintenanceWindows.Open;
import io.edgefleet.controller.rollouts.MaintenanceWindows.Window;
import io.edgefleet.controller.rollouts.MaintenanceWindows.WindowState;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class MaintenanceWindowsTest {
  static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");
  static final Window NIGHT =
      new Window("night", Cron.parse("0 2 * * *"), Duration.ofHours(3), BERLIN);
  static final Window WEEKEND =
      new Window("weekend", Cron.parse("0 0 * * SAT"), Duration.ofDays(2), ZoneOffset.UTC);

  static final MaintenanceWindows WINDOWS =
      new MaintenanceWindows("maintenance", "tz", List.of(NIGHT, WEEKEND));

  static Instant at(String instant) {
    return Instant.parse(instant);
  }

  @Test
  void alwaysOpensEveryDeviceWhateverItsTags() {
    MaintenanceWindows always = MaintenanceWindows.ALWAYS;
    assertThat(always.isAlways()).isTrue();
    assertThat(always.windows()).isEmpty();
    assertThat(always.defaultWindow()).isEmpty();
    assertThat(always.tag()).isEqualTo("maintenance");
    assertThat(always.timeZoneTag()).isEqualTo("tz");
    Open open = new Open("always", Instant.MAX);
    assertThat(always.check(Map.of(), at("2026-11-22T12:00:00Z"))).isEqualTo(open);
    assertThat(always.check(Map.of("maintenance", "night", "tz", "Mars/Base"), Instant.EPOCH))
        .isEqualTo(open);
  }

  @Test
  void openFromTheFiringForTheDuration() {
    Map<String, String> tags = Map.of("maintenance", "night");
    Open open = new Open("night", at("2026-11-22T04:00:00Z")); // 05:00 Berlin (CET, +01:00)
    assertThat(WINDOWS.check(tags, at("2026-11-22T01:00:00Z"))).isEqualTo(open);
    assertThat(WINDOWS.check(tags, at("2026-11-22T02:30:00Z"))).isEqualTo(open);
    assertThat(WINDOWS.check(tags, at("2026-11-22T03:59:59.999Z"))).isEqualTo(open);
    assertThat(WINDOWS.isAlways()).isFalse();
  }

  @Test
  void closedOutsideWithWhenItOpensNext() {
    Map<String, String> tags = Map.of("maintenance", "night");
    assertThat(WINDOWS.check(tags, at("2026-11-22T00:59:59Z")))
        .isEqualTo(
            new Closed(
                "night",
                at("2026-11-22T01:00:00Z"),
                "outside maintenance window 'night' (opens"
                    + " 2026-11-22T02:00+01:00[Europe/Berlin])"));
    assertThat(WINDOWS.check(tags, at("2026-11-22T04:00:00Z")))
        .isEqualTo(
            new Closed(
                "night",
                at("2026-11-23T01:00:00Z"),
                "outside maintenance window 'night' (opens"
                    + " 2026-11-23T02:00+01:00[Europe/Berlin])"));
  }

  @Test
  void theDevicesTimeZoneTagWins() {
    Instant now = at("2026-11-22T07:30:00Z"); // 02:30 in New York, 08:30 in Berlin
    assertThat(WINDOWS.check(Map.of("maintenance", "night", "tz", "America/New_York"), now))
        .isEqualTo(new Open("night", at("2026-11-22T10:00:00Z")));
    assertThat(WINDOWS.check(Map.of("maintenance", "night"), now))
        .isInstanceOf(Closed.class)
        .extracting(s -> ((Closed) s).opensAt())
        .isEqualTo(at("2026-11-23T01:00:00Z"));
    assertThat(WINDOWS.check(Map.of("maintenance", "night", "tz", "UTC"), now))
        .isEqualTo(
            new Closed(
                "night",
                at("2026-11-23T02:00:00Z"),
                "outside maintenance window 'night' (opens 2026-11-23T02:00Z[UTC])"));
  }

  @Test
  void windowsSpanningDays() {
    Map<String, String> tags = Map.of("maintenance", "weekend");
    // 2026-11-21 is a Saturday.
    assertThat(WINDOWS.check(tags, at("2026-11-22T23:59:00Z")))
        .isEqualTo(new Open("weekend", at("2026-11-23T00:00:00Z")));
    assertThat(WINDOWS.check(tags, at("2026-11-23T00:00:00Z")))
        .isInstanceOf(Closed.class)
        .extracting(s -> ((Closed) s).opensAt())
        .isEqualTo(at("2026-11-28T00:00:00Z"));
  }

  @Test
  void aWindowSkippedByTheSpringForwardGapDoesNotOpenThatNight() {
    Map<String, String> tags = Map.of("maintenance", "night");
    // 2026-03-29 02:00 Berlin does not exist; the window next opens on the 30th at 02:00 CEST.
    WindowState state = WINDOWS.check(tags, at("2026-03-29T01:30:00Z"));
    assertThat(state).isInstanceOf(Closed.class);
    assertThat(((Closed) state).opensAt()).isEqualTo(at("2026-03-30T00:00:00Z"));
  }

  @Test
  void devicesWithoutTheTagUseTheDefaultWindowOrAreAlwaysOpen() {
    Instant day = at("2026-11-22T12:00:00Z");
    assertThat(WINDOWS.check(Map.of(), day)).isEqualTo(new Open("always", Instant.MAX));
    assertThat(WINDOWS.defaultWindow()).isEmpty();

    MaintenanceWindows withDefault =
        new MaintenanceWindows("maintenance", "tz", List.of(NIGHT, WEEKEND), "night");
    assertThat(withDefault.defaultWindow()).contains("night");
    assertThat(withDefault.check(Map.of(), day)).isInstanceOf(Closed.class);
    assertThat(withDefault.check(Map.of("tz", "Asia/Tokyo"), at("2026-11-22T17:30:00Z")))
        .isEqualTo(new Open("night", at("2026-11-22T20:00:00Z"))); // 02:30 in Tokyo
    assertThat(withDefault.check(Map.of("maintenance", "weekend"), day))
        .isEqualTo(new Open("weekend", at("2026-11-23T00:00:00Z")));
  }

  @Test
  void unknownWindowNeverOpens() {
    assertThat(WINDOWS.check(Map.of("maintenance", "foo"), at("2026-11-22T02:00:00Z")))
        .isEqualTo(
            new Never(
                "device tag maintenance=foo names no window of this rollout policy; known:"
                    + " night, weekend"));
  }

  @Test
  void invalidTimeZoneNeverOpens() {
    for (String zone : List.of("Mars/Base", "", "europe/berlin")) {
      assertThat(WINDOWS.check(Map.of("maintenance", "night", "tz", zone), Instant.EPOCH))
          .isEqualTo(
              new Never(
                  "device tag tz="
                      + zone
                      + " is not a time zone (use an IANA name such as Europe/Berlin)"));
    }
  }

  @Test
  void tagNamesAreConfigurable() {
    MaintenanceWindows custom = new MaintenanceWindows("mw", "zone", List.of(NIGHT));
    assertThat(custom.tag()).isEqualTo("mw");
    assertThat(custom.timeZoneTag()).isEqualTo("zone");
    Instant now = at("2026-11-22T07:30:00Z");
    assertThat(custom.check(Map.of("mw", "night", "zone", "America/New_York"), now))
        .isInstanceOf(Open.class);
    assertThat(custom.check(Map.of("maintenance", "nope", "tz", "nope"), now))
        .isEqualTo(new Open("always", Instant.MAX));
  }

  @Test
  void aWindowWhoseCronNeverFiresNeverOpens() {
    MaintenanceWindows never =
        new MaintenanceWindows(
            "maintenance",
            "tz",
            List.of(new Window("feb30", Cron.parse("0 0 30 2 *"), Duration.ofHours(1), BERLIN)),
            "feb30");
    assertThat(never.check(Map.of(), Instant.EPOCH))
        .isEqualTo(
            new Never("maintenance window 'feb30' never opens: cron '0 0 30 2 *' never fires"));
  }

  @Test
  void checkIsConsistentWhenMemoisedAndUnderConcurrency() {
    Instant now = at("2026-11-22T01:30:00Z");
    List<Map<String, String>> devices =
        IntStream.range(0, 20_000)
            .mapToObj(
                i ->
                    switch (i % 4) {
                      case 0 -> Map.of("maintenance", "night");
                      case 1 -> Map.of("maintenance", "night", "tz", "America/New_York");
                      case 2 -> Map.of("maintenance", "weekend");
                      default -> Map.<String, String>of();
                    })
            .toList();
    MaintenanceWindows fresh = new MaintenanceWindows("maintenance", "tz", List.of(NIGHT, WEEKEND));
    List<WindowState> parallel = devices.parallelStream().map(t -> fresh.check(t, now)).toList();
    for (int i = 0; i < devices.size(); i++) {
      WindowState uncached =
          new MaintenanceWindows("maintenance", "tz", List.of(NIGHT, WEEKEND))
              .check(devices.get(i), now);
      assertThat(parallel.get(i)).isEqualTo(uncached);
      if (i >= 8) {
        break; // the four kinds of device have been compared twice each
      }
    }
    assertThat(parallel.stream().distinct()).hasSize(4);
    // A later `now` is not answered from the memo.
    assertThat(fresh.check(devices.get(0), at("2026-11-22T05:00:00Z"))).isInstanceOf(Closed.class);
    assertThat(fresh.check(devices.get(0), now)).isInstanceOf(Open.class);
  }

  @Test
  void rejectsInconsistentWindows() {
    assertThatThrownBy(() -> new MaintenanceWindows("maintenance", "tz", List.of(NIGHT, NIGHT)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("two maintenance windows are named 'night'");
    assertThatThrownBy(() -> new MaintenanceWindows("maintenance", "tz", List.of(NIGHT), "day"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("default maintenance window 'day' names no window; known: night");
    assertThatThrownBy(() -> new MaintenanceWindows(" ", "tz", List.of(NIGHT)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> new Window("Night", Cron.parse("0 2 * * *"), Duration.ofHours(1), BERLIN))
        .hasMessageContaining("'Night' is not a valid window name");
    assertThatThrownBy(
            () -> new Window("night", Cron.parse("0 2 * * *"), Duration.ofSeconds(59), BERLIN))
        .hasMessageContaining("is not between 1m and 7d");
    assertThatThrownBy(
            () -> new Window("night", Cron.parse("0 2 * * *"), Duration.ofDays(8), BERLIN))
        .hasMessageContaining("duration 8d is not between 1m and 7d");
  }

  @Test
  void equality() {
    assertThat(new MaintenanceWindows("maintenance", "tz", List.of(NIGHT, WEEKEND)))
        .isEqualTo(WINDOWS)
        .hasSameHashCodeAs(WINDOWS);
    assertThat(new MaintenanceWindows("maintenance", "tz", List.of(NIGHT, WEEKEND), "night"))
        .isNotEqualTo(WINDOWS);
    assertThat(WINDOWS.windows()).containsExactly(NIGHT, WEEKEND);
    assertThat(WINDOWS.window("weekend")).contains(WEEKEND);
    assertThat(WINDOWS.window("day")).isEmpty();
  }
}
