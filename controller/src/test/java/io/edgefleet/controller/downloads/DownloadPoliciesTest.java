package io.edgefleet.controller.downloads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.ErrorCode;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Download policies against a real SQLite database: matching, validation, audit, reload. */
class DownloadPoliciesTest {
  @TempDir Path dir;
  Database db;
  DownloadPolicies policies;
  final AtomicInteger changes = new AtomicInteger();
  final Clock clock = Clock.fixed(Instant.parse("2026-12-01T10:00:00Z"), ZoneOffset.UTC);

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    policies =
        new DownloadPolicies(
            db.jdbi(), clock, new AuditLog(db.jdbi(), clock), changes::incrementAndGet);
  }

  @AfterEach
  void close() {
    db.close();
  }

  private static DownloadPolicies.Request request(
      String selector, long bytes, List<String> windows, String zone, int priority) {
    return new DownloadPolicies.Request(selector, bytes, windows, zone, priority, null);
  }

  @Test
  void theHighestPriorityPolicyThatPicksADeviceAppliesAndTiesGoToTheFirstName() {
    policies.put("everyone", request("*", 0, List.of("01:00-05:00"), "UTC", 0), "alice");
    policies.put(
        "ships",
        request("link=satellite", 100L << 20, List.of("22:00-06:00"), "Europe/Berlin", 10),
        "alice");
    policies.put("b-ships", request("link=satellite", 1, List.of(), null, 10), "alice");
    policies.put("a-ships", request("link=satellite", 2, List.of(), null, 10), "alice");

    assertThat(policies.applying(Map.of("link", "satellite")).orElseThrow().name())
        .isEqualTo("a-ships");
    assertThat(policies.applying(Map.of("link", "fiber")).orElseThrow().name())
        .isEqualTo("everyone");
    assertThat(policies.list())
        .extracting(DownloadPolicies.Policy::name)
        .containsExactly("a-ships", "b-ships", "ships", "everyone");
    assertThat(policies.sectionFor(Map.of("link", "fiber")))
        .isEqualTo(new DesiredState.DownloadPolicy(0, List.of("01:00-05:00"), "UTC"));

    policies.delete("a-ships", "alice");
    policies.delete("b-ships", "alice");
    assertThat(policies.sectionFor(Map.of("link", "satellite")))
        .isEqualTo(
            new DesiredState.DownloadPolicy(100L << 20, List.of("22:00-06:00"), "Europe/Berlin"));
    policies.delete("everyone", "alice");
    assertThat(policies.sectionFor(Map.of("link", "fiber"))).isNull();
    assertThat(changes).hasValue(7);
  }

  @Test
  void putIsCreateOrReplaceAndEveryChangeIsAuditedAndSurvivesARestart() {
    DownloadPolicies.Put created =
        policies.put(
            "night",
            request("site=berlin", 5, List.of("22:00-06:00"), "Europe/Berlin", 1),
            "alice");
    assertThat(created.created()).isTrue();
    DownloadPolicies.Put replaced =
        policies.put("night", request("site=berlin", 7, List.of(), "UTC", 2), "bob");
    assertThat(replaced.created()).isFalse();
    assertThat(replaced.policy().bytesPerDay()).isEqualTo(7);
    assertThat(replaced.policy().createdBy()).isEqualTo("alice");
    assertThat(replaced.policy().updatedBy()).isEqualTo("bob");

    DownloadPolicies reopened =
        new DownloadPolicies(db.jdbi(), clock, new AuditLog(db.jdbi(), clock), () -> {});
    assertThat(reopened.get("night")).isEqualTo(replaced.policy());

    policies.delete("night", "carol");
    AuditLog audit = new AuditLog(db.jdbi(), clock);
    assertThat(audit.recent(10))
        .filteredOn(e -> e.target().equals("night"))
        .extracting(AuditLog.Entry::action, AuditLog.Entry::actor)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple("download-policy.create", "alice"),
            org.assertj.core.groups.Tuple.tuple("download-policy.update", "bob"),
            org.assertj.core.groups.Tuple.tuple("download-policy.delete", "carol"));
    assertThatThrownBy(() -> policies.get("night"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.DOWNLOAD_POLICY_NOT_FOUND));
  }

  @Test
  void badInputIsRefusedWithTheFieldNamedAndNothingStored() {
    assertInvalid("Bad_Name", request("*", 0, List.of(), null, 0), "name:");
    assertInvalid("p", request("site in (a", 0, List.of(), null, 0), "selector");
    assertInvalid("p", request("*", -1, List.of(), null, 0), "bytesPerDay");
    assertInvalid("p", request("*", 0, List.of("01:00-02:00", "7-8"), null, 0), "windows[1]");
    assertInvalid("p", request("*", 0, List.of(), "Mars/Olympus", 0), "zone");
    assertInvalid("p", request("*", 0, List.of(), "+02:00", 0), "zone");
    assertInvalid("p", request("*", 0, List.of(), null, 2_000_000), "priority");
    assertInvalid(
        "p",
        request("*", 0, java.util.Collections.nCopies(25, "01:00-02:00"), null, 0),
        "windows: at most 24");
    assertThat(policies.list()).isEmpty();
    assertThat(changes).hasValue(0);
    assertThatThrownBy(() -> policies.delete("nothing", "alice"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.DOWNLOAD_POLICY_NOT_FOUND));
  }

  private void assertInvalid(String name, DownloadPolicies.Request r, String field) {
    assertThatThrownBy(() -> policies.put(name, r, "alice"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.DOWNLOAD_POLICY_INVALID))
        .hasMessageContaining(field);
  }
}
