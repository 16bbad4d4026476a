package io.edgefleet.controller.devices;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Server-side paging of the device listing against a real database: orders, offsets, totals and the
 * cursor. Run on SQLite ({@code DeviceListingTest}) and PostgreSQL ({@code
 * DeviceListingPostgresIT}).
 */
abstract class DeviceListingContract {
  static final Instant T0 = Instant.parse("2026-11-23T01:00:00Z");

  @TempDir Path dir;
  Database db;
  TestClock clock;
  Presence presence;
  DeviceService devices;

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    clock = new TestClock(T0.plus(Duration.ofHours(1)));
    presence = new Presence(db.jdbi(), clock);
    devices =
        new DeviceService(
            db.jdbi(),
            clock,
            new DeviceStore(),
            presence,
            null,
            new AuditLog(db.jdbi(), clock),
            new DeviceStatuses(clock, presence, Duration.ofSeconds(90)),
            (id, reason) -> {},
            (d, status, now) -> status,
            id -> {});
    // d0..d9 enrolled a minute apart; names run backwards; even ones at site a.
    for (int i = 0; i < 10; i++) {
      String id = "d" + i;
      TestDevices.insertActive(
          db.jdbi(), id, Map.of("site", i % 2 == 0 ? "a" : "b"), T0.plusSeconds(60L * i));
      String name = "name-" + (9 - i);
      db.jdbi().useHandle(h -> new DeviceStore().setName(h, id, name, 0));
    }
    // d3 seen just now (ONLINE), d5 seen ten minutes ago (OFFLINE), the rest never seen.
    presence.heartbeat("d3");
    clock.advance(Duration.ofMinutes(-10));
    presence.heartbeat("d5");
    clock.advance(Duration.ofMinutes(10));
  }

  @AfterEach
  void close() {
    db.close();
  }

  DeviceService.Page list(
      String selector, Set<DeviceStatus> statuses, String sort, int offset, Integer limit) {
    return devices.list(
        new DeviceService.Listing(
            Selector.parse("selector", selector),
            statuses,
            Optional.ofNullable(limit),
            Optional.empty(),
            sort.isEmpty() ? DeviceOrder.CREATED : DeviceOrder.parse(sort),
            offset,
            true));
  }

  static List<String> ids(DeviceService.Page p) {
    return p.items().stream().map(DeviceView::id).toList();
  }

  @Test
  void eachOrderSortsTheWholeSelectionBeforeAPageIsCut() {
    assertThat(ids(list("", Set.of(), "", 0, 3))).containsExactly("d0", "d1", "d2");
    assertThat(ids(list("", Set.of(), "name", 0, 3))).containsExactly("d9", "d8", "d7");
    assertThat(ids(list("", Set.of(), "-name", 0, 3))).containsExactly("d0", "d1", "d2");
    assertThat(ids(list("", Set.of(), "-enrolledAt", 0, 2))).containsExactly("d9", "d8");
    assertThat(ids(list("", Set.of(), "enrolledAt", 8, 5))).containsExactly("d8", "d9");
    // Devices never seen come last in either direction.
    assertThat(ids(list("", Set.of(), "-lastSeen", 0, 3))).containsExactly("d3", "d5", "d0");
    assertThat(ids(list("", Set.of(), "lastSeen", 0, 3))).containsExactly("d5", "d3", "d0");
    // NEVER_SEEN < OFFLINE < ONLINE by name.
    assertThat(ids(list("", Set.of(), "-status", 0, 2))).containsExactly("d3", "d5");
    assertThat(ids(list("", Set.of(), "status", 0, 1))).containsExactly("d0");
    assertThat(list("", Set.of(), "-status", 0, 2).items().getFirst().status())
        .isEqualTo(DeviceStatus.ONLINE);
  }

  @Test
  void offsetsPageThroughAndTheTotalCountsEveryMatch() {
    List<String> seen = new ArrayList<>();
    for (int offset = 0; offset < 5; offset += 2) {
      DeviceService.Page p = list("site=a", Set.of(), "-name", offset, 2);
      assertThat(p.total()).isEqualTo(5);
      seen.addAll(ids(p));
    }
    assertThat(seen).containsExactly("d0", "d2", "d4", "d6", "d8");
    assertThat(list("site=a", Set.of(), "", 40, 2).items()).isEmpty();
    assertThat(list("site=a", Set.of(), "", 40, 2).total()).isEqualTo(5);

    DeviceService.Page offline =
        list("", Set.of(DeviceStatus.OFFLINE, DeviceStatus.ONLINE), "", 0, 1);
    assertThat(offline.total()).isEqualTo(2);
    assertThat(ids(offline)).containsExactly("d3");
    DeviceService.Page none =
        devices.list(Selector.parse("selector", ""), Set.of(), Optional.of(2), Optional.empty());
    assertThat(none.total()).as("counted only when asked").isNull();
  }

  @Test
  void theCursorStillWorksInTheDefaultOrderAndItsPagesHaveFullRows() {
    DeviceService.Page first =
        devices.list(Selector.parse("selector", ""), Set.of(), Optional.of(4), Optional.empty());
    assertThat(ids(first)).containsExactly("d0", "d1", "d2", "d3");
    assertThat(first.items().getFirst().facts()).as("the page's full rows").isNotNull();
    assertThat(first.items().getFirst().agentVersion()).isEqualTo("t");
    DeviceService.Page second =
        devices.list(
            Selector.parse("selector", ""), Set.of(), Optional.of(4), Optional.of(first.next()));
    assertThat(ids(second)).containsExactly("d4", "d5", "d6", "d7");
    DeviceService.Page last =
        devices.list(
            Selector.parse("selector", ""), Set.of(), Optional.of(4), Optional.of(second.next()));
    assertThat(ids(last)).containsExactly("d8", "d9");
    assertThat(last.next()).isNull();
  }

  @Test
  void aListingSeesEveryWriteMadeSinceThePreviousOne() {
    assertThat(ids(list("", Set.of(), "name", 0, 1))).containsExactly("d9");
    devices.rename("d4", new DeviceService.NameChange("aaa"), "admin");
    assertThat(ids(list("", Set.of(), "name", 0, 1))).containsExactly("d4");
    db.jdbi()
        .useTransaction(
            h -> new DeviceStore().setTags(h, "d4", Map.of("site", "c"), clock.millis()));
    assertThat(ids(list("site=c", Set.of(), "", 0, 5))).containsExactly("d4");
    TestDevices.insertActive(db.jdbi(), "d10", Map.of("site", "c"), T0.plusSeconds(3600));
    assertThat(ids(list("site=c", Set.of(), "", 0, 5))).containsExactly("d4", "d10");
  }

  @Test
  void badCombinationsAndValuesAreRefusedWithTheirReason() {
    assertThatThrownBy(() -> DeviceOrder.parse("age"))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("sort must be one of name, -name, status")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.VALIDATION_FAILED);
    assertThatThrownBy(
            () ->
                new DeviceService.Listing(
                    Selector.parse("selector", ""),
                    Set.of(),
                    Optional.of(2),
                    Optional.of("x"),
                    DeviceOrder.NAME,
                    0,
                    false))
        .hasMessageContaining("after works in the default order only");
    assertThatThrownBy(
            () ->
                new DeviceService.Listing(
                    Selector.parse("selector", ""),
                    Set.of(),
                    Optional.of(2),
                    Optional.of("x"),
                    DeviceOrder.CREATED,
                    3,
                    false))
        .hasMessageContaining("either after or offset");
    assertThatThrownBy(
            () ->
                new DeviceService.Listing(
                    Selector.parse("selector", ""),
                    Set.of(),
                    Optional.empty(),
                    Optional.empty(),
                    DeviceOrder.CREATED,
                    -1,
                    false))
        .hasMessageContaining("offset must be 0 to");
  }
}
