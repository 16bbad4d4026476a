package io.edgefleet.agent.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.DesiredState;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class DownloadWindowsTest {
  @Test
  void noPolicyOrNoWindowsMeansAlwaysOpen() {
    assertThat(DownloadWindows.of(null).open(Instant.parse("2026-01-01T12:00:00Z"))).isTrue();
    DownloadWindows w = DownloadWindows.of(new DesiredState.DownloadPolicy(0, List.of(), null));
    assertThat(w.open(Instant.parse("2026-01-01T03:00:00Z"))).isTrue();
    assertThat(w.closes(Instant.parse("2026-01-01T03:00:00Z"))).isEmpty();
  }

  @Test
  void aWindowInAZoneOpensAndClosesAtItsLocalTimes() {
    // Berlin is UTC+1 in January.
    DownloadWindows w =
        DownloadWindows.of(
            new DesiredState.DownloadPolicy(0, List.of("02:00-05:30"), "Europe/Berlin"));
    assertThat(w.open(Instant.parse("2026-01-10T00:59:00Z"))).isFalse();
    assertThat(w.open(Instant.parse("2026-01-10T01:00:00Z"))).isTrue();
    assertThat(w.open(Instant.parse("2026-01-10T04:29:59Z"))).isTrue();
    assertThat(w.open(Instant.parse("2026-01-10T04:30:00Z"))).isFalse();
    assertThat(w.closes(Instant.parse("2026-01-10T02:00:00Z")))
        .contains(Instant.parse("2026-01-10T04:30:00Z"));
    assertThat(w.opens(Instant.parse("2026-01-10T12:00:00Z")))
        .contains(Instant.parse("2026-01-11T01:00:00Z"));
  }

  @Test
  void aWindowMayWrapPastMidnightAndWindowsMayJoin() {
    DownloadWindows w =
        DownloadWindows.of(
            new DesiredState.DownloadPolicy(0, List.of("22:00-02:00", "02:00-03:00"), null));
    assertThat(w.open(Instant.parse("2026-01-10T23:30:00Z"))).isTrue();
    assertThat(w.open(Instant.parse("2026-01-10T01:59:00Z"))).isTrue();
    assertThat(w.open(Instant.parse("2026-01-10T12:00:00Z"))).isFalse();
    // The two windows touch: the download goes on until the second one ends.
    assertThat(w.closes(Instant.parse("2026-01-10T23:00:00Z")))
        .contains(Instant.parse("2026-01-11T03:00:00Z"));
  }

  @Test
  void unreadableWindowsAndZonesAreRefusedWithWhatIsWanted() {
    assertThatThrownBy(
            () -> DownloadWindows.of(new DesiredState.DownloadPolicy(0, List.of("2-5"), null)))
        .hasMessageContaining("'2-5' is not HH:MM-HH:MM");
    assertThatThrownBy(
            () ->
                DownloadWindows.of(
                    new DesiredState.DownloadPolicy(0, List.of("24:00-01:00"), null)))
        .hasMessageContaining("HH:MM-HH:MM");
    assertThatThrownBy(
            () ->
                DownloadWindows.of(
                    new DesiredState.DownloadPolicy(0, List.of("01:00-02:00"), "Mars/Base")))
        .hasMessageContaining("'Mars/Base' is no time zone");
  }
}
