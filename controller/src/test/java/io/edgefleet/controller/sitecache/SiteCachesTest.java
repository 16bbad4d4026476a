package io.edgefleet.controller.sitecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.DesiredState;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which device of a site is its cache, its URL reports and what they make recompute. */
class SiteCachesTest {
  static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
  static final Map<String, String> CACHE =
      Map.of("site", "s1", DesiredState.SiteCache.CACHE_TAG, "true");
  static final Map<String, String> MEMBER = Map.of("site", "s1");

  @TempDir Path dir;
  Database db;
  final DeviceStore store = new DeviceStore();
  final TestClock clock = new TestClock(T0);
  final List<String> recomputed = new CopyOnWriteArrayList<>();
  final AtomicInteger all = new AtomicInteger();
  final java.util.Set<String> quarantined = java.util.concurrent.ConcurrentHashMap.newKeySet();
  SiteCaches caches;

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    device("dev-b", CACHE);
    device("dev-c", MEMBER);
    device("dev-d", MEMBER);
    device("dev-x", Map.of("site", "s2"));
    device("dev-y", Map.of());
    caches = caches();
  }

  SiteCaches caches() {
    return new SiteCaches(
        db.jdbi(), clock, store, quarantined::contains, recomputed::add, all::incrementAndGet);
  }

  @AfterEach
  void close() {
    caches.close();
    db.close();
  }

  @Test
  void theCacheServesItsNeighboursUseItAndOthersHaveNone() {
    assertThat(caches.sectionFor("dev-b", CACHE))
        .isEqualTo(
            new DesiredState.SiteCache("s1", "dev-b", null, true, List.of("dev-c", "dev-d")));
    assertThat(caches.sectionFor("dev-c", MEMBER))
        .isEqualTo(new DesiredState.SiteCache("s1", "dev-b", null, false));
    assertThat(caches.sectionFor("dev-x", Map.of("site", "s2"))).isNull();
    assertThat(caches.sectionFor("dev-y", Map.of())).isNull();
  }

  @Test
  void aReportedUrlReachesTheSiteIsStoredAndSurvivesARestart() {
    caches.reported("dev-b", "https://10.0.0.5:7443");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> recomputed.containsAll(List.of("dev-b", "dev-c", "dev-d")));
    assertThat(recomputed).doesNotContain("dev-x", "dev-y");
    assertThat(caches.sectionFor("dev-c", MEMBER).url()).isEqualTo("https://10.0.0.5:7443");

    // The same URL again changes nothing.
    int before = recomputed.size();
    caches.reported("dev-b", "https://10.0.0.5:7443");
    caches.close();
    caches = caches();
    assertThat(recomputed).hasSize(before);
    assertThat(caches.sectionFor("dev-d", MEMBER).url()).isEqualTo("https://10.0.0.5:7443");
  }

  @Test
  void aUrlThatIsNoHttpsHostAndPortIsRefused() {
    for (String bad :
        List.of("http://10.0.0.5:7443", "https://10.0.0.5", "https://10.0.0.5:7443/x", "::")) {
      assertThatThrownBy(() -> caches.reported("dev-b", bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
    assertThat(caches.sectionFor("dev-c", MEMBER).url()).isNull();
  }

  @Test
  void aNewCacheTagRecomputesEveryDeviceAndTheFirstTaggedByIdServes() {
    caches.review();
    assertThat(all.get()).isZero();

    db.jdbi().useHandle(h -> store.setTags(h, "dev-a", CACHE, 1));
    db.jdbi().useHandle(h -> store.setTags(h, "dev-c", CACHE, 1));
    caches.review();
    assertThat(all.get()).isZero();

    device("dev-a", CACHE);
    caches.review();
    assertThat(all.get()).isEqualTo(1);
    assertThat(caches.sectionFor("dev-c", CACHE))
        .isEqualTo(new DesiredState.SiteCache("s1", "dev-a", null, false));
    assertThat(caches.sectionFor("dev-a", CACHE).serve()).isTrue();
  }

  @Test
  void theCacheServesOnlyItsSitesDevicesNotQuarantinedAndIsRecomputedWhenThatChanges() {
    caches.review();
    quarantined.add("dev-c");
    caches.memberChanged("dev-c");
    assertThat(recomputed).containsExactly("dev-b");
    assertThat(caches.sectionFor("dev-b", CACHE).neighbours()).containsExactly("dev-d");
    // A member of another site, or of none, moves nobody's cache.
    caches.memberChanged("dev-x");
    caches.memberChanged("dev-y");
    assertThat(recomputed).containsExactly("dev-b");

    // A device joining the site: only the cache is told (it serves one more).
    device("dev-e", MEMBER);
    caches.review();
    assertThat(all.get()).isZero();
    assertThat(recomputed).containsExactly("dev-b", "dev-b");
    assertThat(caches.sectionFor("dev-b", CACHE).neighbours()).containsExactly("dev-d", "dev-e");
    // Decommissioned (its certificate revoked): no longer an active device of the site.
    db.jdbi()
        .useHandle(h -> store.setLifecycle(h, "dev-d", DeviceRecord.Lifecycle.DECOMMISSIONED, 1));
    caches.review();
    assertThat(caches.sectionFor("dev-b", CACHE).neighbours()).containsExactly("dev-e");
  }

  @Test
  void changesToDevicesGatherIntoOneReviewOfTheSites() {
    device("dev-a", CACHE);
    for (int i = 0; i < 100; i++) {
      caches.devicesChanged();
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> all.get() > 0);
    assertThat(all.get()).as("one review for a hundred changes").isEqualTo(1);
    assertThat(caches.sectionFor("dev-a", CACHE).serve()).isTrue();
  }

  @Test
  void theViewNamesTheCacheDevice() {
    caches.reported("dev-b", "https://10.0.0.5:7443");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> caches.view("dev-c").orElseThrow().url() != null);
    assertThat(caches.view("dev-c").orElseThrow())
        .isEqualTo(
            new SiteCaches.View("dev-c", "s1", "dev-b", "dev-b", "https://10.0.0.5:7443", false));
    assertThat(caches.view("dev-y").orElseThrow())
        .isEqualTo(new SiteCaches.View("dev-y", null, null, null, null, false));
    assertThat(caches.view("dev-none")).isEmpty();
  }

  private void device(String id, Map<String, String> tags) {
    db.jdbi().useHandle(h -> store.insert(h, TestDevices.active(id, tags, null, T0), 0));
  }
}
