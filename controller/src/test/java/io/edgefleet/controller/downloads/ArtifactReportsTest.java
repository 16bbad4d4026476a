package io.edgefleet.controller.downloads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactRef;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArtifactReportsTest {
  static final String A = "sha256:" + "a".repeat(64);
  static final String B = "sha256:" + "b".repeat(64);
  static final String C = "sha256:" + "c".repeat(64);

  @TempDir Path dir;
  Database db;
  ArtifactReports reports;
  final AtomicInteger writes = new AtomicInteger();
  final TestClock clock = new TestClock(Instant.parse("2026-12-01T10:00:00Z"));

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    reports = new ArtifactReports(db.jdbi(), clock, List.of(writes::incrementAndGet));
  }

  @AfterEach
  void close() {
    reports.close();
    db.close();
  }

  @Test
  void theLatestReportIsKeptWrittenOnlyWhenItChangesAndReadBackAfterARestart() {
    reports.report(
        "dev-1",
        new AgentMessage.ArtifactReport(
            List.of(B, A), List.of(new AgentMessage.ArtifactProgress(C, 100, 40)), "  "));
    await().atMost(Duration.ofSeconds(10)).until(() -> writes.get() == 1);
    ArtifactReports.Report first = reports.of("dev-1");
    assertThat(first.held()).containsExactly(A, B);
    assertThat(first.waiting()).isNull();

    // The same report again: nothing to write (the time alone is no change).
    clock.advance(Duration.ofSeconds(5));
    reports.report(
        "dev-1",
        new AgentMessage.ArtifactReport(
            List.of(A, B), List.of(new AgentMessage.ArtifactProgress(C, 100, 40)), null));
    reports.report(
        "dev-1",
        new AgentMessage.ArtifactReport(
            List.of(A, B, C), List.of(), "outside the download windows"));
    await().atMost(Duration.ofSeconds(10)).until(() -> writes.get() == 2);
    assertThat(rows()).isEqualTo(1);

    reports.close();
    ArtifactReports reopened = new ArtifactReports(db.jdbi(), clock, List.of());
    ArtifactReports.Report back = reopened.of("dev-1");
    reopened.close();
    assertThat(back.held()).containsExactly(A, B, C);
    assertThat(back.waiting()).isEqualTo("outside the download windows");
    assertThat(back.at()).isEqualTo(clock.instant());
  }

  @Test
  void malformedReportsAreRefusedAndChangeNothing() {
    reports.report("dev-1", new AgentMessage.ArtifactReport(List.of(A), List.of(), null));
    assertThatThrownBy(
            () ->
                reports.report(
                    "dev-1",
                    new AgentMessage.ArtifactReport(List.of("sha256:zz"), List.of(), null)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () ->
                reports.report(
                    "dev-1",
                    new AgentMessage.ArtifactReport(
                        List.of(), List.of(new AgentMessage.ArtifactProgress(B, 10, 11)), null)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () ->
                reports.report(
                    "dev-1",
                    new AgentMessage.ArtifactReport(
                        java.util.Collections.nCopies(ArtifactReports.MAX_HELD + 1, A),
                        List.of(),
                        null)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(reports.of("dev-1").held()).containsExactly(A);
    String longReason = "x".repeat(2000);
    reports.report("dev-2", new AgentMessage.ArtifactReport(List.of(), List.of(), longReason));
    assertThat(reports.of("dev-2").waiting()).hasSize(ArtifactReports.MAX_WAITING);
  }

  @Test
  void stagingProgressCountsHeldArtifactsInFullAndFetchedBytesOfTheOthers() {
    reports.report(
        "dev-1",
        new AgentMessage.ArtifactReport(
            List.of(A),
            List.of(new AgentMessage.ArtifactProgress(B, 60L << 20, 10L << 20)),
            "the day's download budget is spent"));
    List<ArtifactRef> required =
        List.of(
            new ArtifactRef(A, 30L << 20),
            new ArtifactRef(B, 60L << 20),
            new ArtifactRef(C, 10L << 20));
    StageProgress p = StageProgress.of(required, reports.of("dev-1"));
    assertThat(p.complete()).isFalse();
    assertThat(p.bytes()).isEqualTo(40L << 20);
    assertThat(p.total()).isEqualTo(100L << 20);
    assertThat(p.describe())
        .isEqualTo(
            "staging 40 MiB of 100 MiB (1 of 3 artifacts held): the day's download budget is spent");
    assertThat(StageProgress.of(required, ArtifactReports.Report.EMPTY).describe())
        .isEqualTo("staging 0 B of 100 MiB (0 of 3 artifacts held)");
    assertThat(StageProgress.of(List.of(new ArtifactRef(A, 1)), reports.of("dev-1")).describe())
        .isEqualTo("held");
  }

  private int rows() {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery("SELECT COUNT(*) FROM device_artifact_reports")
                    .mapTo(Integer.class)
                    .one());
  }
}
