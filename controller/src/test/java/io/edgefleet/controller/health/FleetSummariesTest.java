package io.edgefleet.controller.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.devices.DeviceStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The figures and the sentence of the fleet summary. */
class FleetSummariesTest {
  static final Instant NOW = Instant.parse("2026-11-23T08:00:00Z");

  @Test
  void theSentenceSaysWhatShareIsOperationalAndWhereTheRestIs() {
    List<FleetSummaries.Row> rows = new ArrayList<>();
    add(rows, 1985, DeviceStatus.ONLINE, NOW, false, false);
    add(rows, 5, DeviceStatus.DEGRADED, NOW, false, false);
    add(rows, 12, DeviceStatus.ONLINE, NOW, false, true);
    add(rows, 10, DeviceStatus.ONLINE, NOW, true, false);
    add(rows, 2, DeviceStatus.ERROR, NOW, false, false);
    add(rows, 1, DeviceStatus.OFFLINE, NOW.minus(Duration.ofHours(14)), false, false);
    add(rows, 2, DeviceStatus.OFFLINE, NOW.minus(Duration.ofHours(2)), false, false);
    // Offline but in maintenance: neither offline nor operational; the longest-offline ignores it.
    add(rows, 1, DeviceStatus.OFFLINE, NOW.minus(Duration.ofDays(9)), true, false);
    add(rows, 3, DeviceStatus.PENDING, NOW, false, false);
    add(rows, 4, DeviceStatus.DECOMMISSIONED, NOW, false, false);

    FleetReport.Health h = FleetSummaries.meaning(rows, NOW);

    assertThat(h.enrolled()).isEqualTo(2018);
    assertThat(h.operational()).isEqualTo(2002);
    assertThat(h.operationalPercent()).isEqualTo(99.2);
    assertThat(h.maintenance()).isEqualTo(11);
    assertThat(h.updating()).isEqualTo(12);
    assertThat(h.offlineSince()).isEqualTo(NOW.minus(Duration.ofHours(14)));
    assertThat(h.sentence())
        .isEqualTo(
            "99.2 % of 2,018 devices are operational (1,997 online, 5 degraded, 12 updating);"
                + " 11 in maintenance; 2 in error; 3 offline, the longest for 14h; 0 never seen;"
                + " 3 wait for approval");
  }

  @Test
  void aShareIsRoundedDownSoOnlyAWholeFleetReadsAHundredPercent() {
    List<FleetSummaries.Row> rows = new ArrayList<>();
    add(rows, 1999, DeviceStatus.ONLINE, NOW, false, false);
    add(rows, 1, DeviceStatus.NEVER_SEEN, NOW, false, false);
    assertThat(FleetSummaries.meaning(rows, NOW).sentence())
        .isEqualTo(
            "99.9 % of 2,000 devices are operational (1,999 online, 0 degraded); 0 in maintenance;"
                + " 0 in error; 0 offline; 1 never seen");

    List<FleetSummaries.Row> whole = new ArrayList<>();
    add(whole, 1, DeviceStatus.ONLINE, NOW, false, false);
    add(whole, 1, DeviceStatus.OFFLINE, NOW.minus(Duration.ofMinutes(90)), true, false);
    assertThat(FleetSummaries.meaning(whole.subList(0, 1), NOW).sentence())
        .startsWith("100 % of 1 device is operational (1 online, 0 degraded)");
    assertThat(FleetSummaries.meaning(whole, NOW).sentence())
        .startsWith("50 % of 2 devices are operational");

    List<FleetSummaries.Row> oneOffline = new ArrayList<>();
    add(oneOffline, 1, DeviceStatus.OFFLINE, NOW.minus(Duration.ofMinutes(90)), false, false);
    assertThat(FleetSummaries.meaning(oneOffline, NOW).sentence())
        .isEqualTo(
            "0 % of 1 device is operational (0 online, 0 degraded); 0 in maintenance; 0 in error;"
                + " 1 offline for 1h30m; 0 never seen");
  }

  @Test
  void aFleetWithoutEnrolledDevicesSaysSo() {
    List<FleetSummaries.Row> rows = new ArrayList<>();
    add(rows, 1, DeviceStatus.PENDING, NOW, false, false);
    FleetReport.Health h = FleetSummaries.meaning(rows, NOW);
    assertThat(h.sentence()).isEqualTo("no enrolled devices; 1 waits for approval");
    assertThat(h.operationalPercent()).isZero();
    assertThat(FleetSummaries.meaning(List.of(), NOW).sentence()).isEqualTo("no enrolled devices");
  }

  private static void add(
      List<FleetSummaries.Row> rows,
      int n,
      DeviceStatus status,
      Instant since,
      boolean maintenance,
      boolean updating) {
    for (int i = 0; i < n; i++) {
      rows.add(new FleetSummaries.Row(status, since, maintenance, updating, Map.of(), null));
    }
  }
}
