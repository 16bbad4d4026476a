package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Rendering of applications and their state per device; the input is the API's JSON. */
class AppsCommandTest {
  private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");
  private static final String COMMIT = "fedcba9876543210fedcba9876543210fedcba98";
  private static final String READY =
      "{\"deviceId\":\"dev-1\",\"deviceName\":\"pos-1\",\"app\":\"web\",\"source\":\"shop\","
          + "\"desiredRevision\":\"sha256:0123456789ab\",\"desiredCommit\":\""
          + COMMIT
          + "\",\"runningRevision\":\"sha256:0123456789ab\","
          + "\"readyRevision\":\"sha256:0123456789ab\","
          + "\"state\":\"READY\",\"desiredSince\":\"2025-06-01T11:58:00Z\","
          + "\"reportedAt\":\"2025-06-01T11:59:00Z\"}";
  // Still running the commit it was given as revision before content revisions.
  private static final String OFFLINE =
      "{\"deviceId\":\"dev-2\",\"deviceName\":\"pos-2\",\"app\":\"web\",\"source\":\"shop\","
          + "\"desiredRevision\":\"sha256:0123456789ab\",\"desiredCommit\":\""
          + COMMIT
          + "\",\"runningRevision\":\"0123456789abcdef0123456789abcdef01234567\","
          + "\"readyRevision\":\"0123456789abcdef0123456789abcdef01234567\","
          + "\"state\":\"PENDING_OFFLINE\","
          + "\"reason\":\"device is offline; it updates when it reconnects\","
          + "\"desiredSince\":\"2025-05-30T12:00:00Z\"}";
  private static final String NEW =
      "{\"deviceId\":\"dev-3\",\"app\":\"kiosk\",\"source\":\"shop\","
          + "\"desiredRevision\":\"abc\",\"state\":\"PENDING\",\"reason\":\"not reported yet\","
          + "\"desiredSince\":\"2025-06-01T11:59:30Z\"}";

  @Test
  void listShowsTheCountsPerApp() {
    String table =
        AppsCommand.table(
            json(
                "[{\"app\":\"web\",\"source\":\"shop\",\"devices\":3,\"ready\":2,\"failed\":0,"
                    + "\"pending\":0,\"pendingOffline\":1,\"notPlaced\":0},"
                    + "{\"app\":\"kiosk\",\"source\":\"lab\",\"devices\":3,\"ready\":0,"
                    + "\"failed\":1,\"pending\":0,\"pendingOffline\":0,\"notPlaced\":2}]"));

    assertThat(table.lines())
        .containsExactly(
            "APP    SOURCE  DEVICES  READY  FAILED  PENDING  PENDING OFFLINE  NOT PLACED",
            "web    shop    3        2      0       0        1                0",
            "kiosk  lab     3        0      1       0        0                2");
  }

  @Test
  void emptyListIsTheHeaderAlone() {
    assertThat(AppsCommand.table(json("[]")))
        .isEqualTo("APP  SOURCE  DEVICES  READY  FAILED  PENDING  PENDING OFFLINE  NOT PLACED\n");
  }

  @Test
  void statusShowsEachDeviceWithItsRevisionsAndTheCommitTheDesiredOneCameFrom() {
    String table = AppsCommand.deviceTable(json("[" + READY + "," + OFFLINE + "]"), NOW);

    assertThat(table.lines())
        .containsExactly(
            "DEVICE  NAME   DESIRED              COMMIT        RUNNING              STATE          "
                + "  REASON                                            SINCE",
            "dev-1   pos-1  sha256:0123456789ab  fedcba987654  sha256:0123456789ab  READY          "
                + "  -                                                 2m ago",
            "dev-2   pos-2  sha256:0123456789ab  fedcba987654  0123456789ab         PENDING_OFFLINE"
                + "  device is offline; it updates when it reconnects  2d ago");
  }

  @Test
  void runningIsTheRevisionTheDeviceLastReportedReadyNotTheOneItFailed() {
    String failed =
        "{\"deviceId\":\"dev-4\",\"app\":\"web\",\"desiredRevision\":\"sha256:bbbbbbbbbbbb\","
            + "\"runningRevision\":\"sha256:bbbbbbbbbbbb\",\"readyRevision\":\"sha256:aaaaaaaaaaaa\","
            + "\"state\":\"FAILED\",\"reason\":\"crash loop\",\"desiredSince\":\"2025-06-01T11:59:00Z\"}";

    assertThat(AppsCommand.deviceTable(json("[" + failed + "]"), NOW).lines())
        .containsExactly(
            "DEVICE  NAME  DESIRED              COMMIT  RUNNING              STATE   REASON      SINCE",
            "dev-4   -     sha256:bbbbbbbbbbbb  -       sha256:aaaaaaaaaaaa  FAILED  crash loop  1m ago");
  }

  @Test
  void recentDriftIsListedUnderTheTable() {
    String drifting =
        READY.replace(
            "}",
            ",\"drift\":{\"at\":\"2025-06-01T11:57:00Z\",\"message\":\"recreated Deployment"
                + " web/web 14 times in the last 10 min\"}}");
    String table = AppsCommand.deviceTable(json("[" + drifting + "," + OFFLINE + "]"), NOW);

    assertThat(table.lines())
        .endsWith(
            "",
            "DEVICE  DRIFT REPAIRED  WHAT WAS REPAIRED",
            "dev-1   3m ago          recreated Deployment web/web 14 times in the last 10 min");
    assertThat(AppsCommand.appTable(json("[" + drifting + "]"), NOW).lines())
        .contains("APP  DRIFT REPAIRED  WHAT WAS REPAIRED");
    // Without drift: the table alone.
    assertThat(AppsCommand.deviceTable(json("[" + OFFLINE + "]"), NOW).lines()).hasSize(2);
  }

  @Test
  void deviceAppsShowEachAppOfOneDevice() {
    String table = AppsCommand.appTable(json("[" + NEW + "]"), NOW);

    assertThat(table.lines())
        .containsExactly(
            "APP    SOURCE  DESIRED  COMMIT  RUNNING  STATE    REASON            SINCE",
            "kiosk  shop    abc      -       -        PENDING  not reported yet  30s ago");
  }

  @Test
  void summaryCountsTheStatesThatOccur() {
    assertThat(AppsCommand.summary(json("[" + READY + "," + READY + "," + OFFLINE + "]")))
        .isEqualTo("3 devices: 2 ready, 1 pending-offline");
    assertThat(AppsCommand.summary(json("[" + NEW + "]"))).isEqualTo("1 device: 1 pending");
    assertThat(AppsCommand.summary(json("[]"))).isEqualTo("0 devices");
    assertThat(AppsCommand.summary(json("[{\"state\":\"FAILED\"},{}]")))
        .isEqualTo("2 devices: 1 failed, 1 unknown");
  }

  @Test
  void catalogListShowsTheLatestVersionOfEachApp() {
    String table =
        AppsCommand.catalogTable(
            json(
                "[{\"name\":\"pos\",\"description\":\"Point of sale\\nmore\","
                    + "\"latestVersion\":\"1.10.0\",\"versions\":3,\"kind\":\"chart\"},"
                    + "{\"name\":\"kiosk\",\"latestVersion\":\"edge\",\"versions\":1,"
                    + "\"kind\":\"manifests\"}]"));

    assertThat(table.lines())
        .containsExactly(
            "NAME   LATEST  VERSIONS  KIND       DESCRIPTION",
            "pos    1.10.0  3         chart      Point of sale",
            "kiosk  edge    1         manifests  -");
  }

  @Test
  void versionsShowShortDigestsSizesAndAge() {
    String table =
        AppsCommand.versionTable(
            json(
                "[{\"name\":\"pos\",\"version\":\"1.1.0\",\"kind\":\"chart\","
                    + "\"digest\":\"sha256:0123456789abcdef0123\",\"size\":3500,\"files\":6,"
                    + "\"createdAt\":\"2025-06-01T11:00:00Z\",\"createdBy\":\"admin\","
                    + "\"description\":\"faster\"}]"),
            NOW);

    assertThat(table.lines())
        .containsExactly(
            "VERSION  KIND   DIGEST               SIZE     FILES  CREATED  BY     DESCRIPTION",
            "1.1.0    chart  sha256:0123456789ab  3.4 KiB  6      1h ago   admin  faster");
  }

  @Test
  void pushSummarySaysWhetherTheVersionIsNew() {
    assertThat(
            AppsCommand.pushSummary(
                json("{\"name\":\"pos\",\"version\":\"1.0.0\",\"created\":true}")))
        .isEqualTo("pushed pos@1.0.0 (new version)");
    assertThat(
            AppsCommand.pushSummary(
                json("{\"name\":\"pos\",\"version\":\"1.0.0\",\"created\":false}")))
        .isEqualTo("pos@1.0.0 already exists with the same content; nothing changed");
  }

  @Test
  void showPrintsMetadataPathsAndTheRenderedYamlOrTheDefaultValues() {
    JsonNode version =
        json(
            "{\"name\":\"pos\",\"version\":\"1.0.0\",\"kind\":\"chart\","
                + "\"digest\":\"sha256:ab\",\"size\":10,\"files\":2,"
                + "\"createdAt\":\"2025-06-01T11:59:00Z\",\"createdBy\":\"admin\","
                + "\"paths\":[\"Chart.yaml\",\"values.yaml\"],\"values\":\"a: 1\\n\"}");
    JsonNode preview =
        json(
            "{\"app\":\"pos\",\"version\":\"1.0.0\",\"device\":\"dev-1\","
                + "\"tags\":{\"site\":\"s1\"},\"yaml\":\"---\\nkind: X\\n\","
                + "\"digest\":\"sha256:cd\"}");

    assertThat(AppsCommand.showText(version, null, NOW))
        .contains("Digest:        sha256:ab\n")
        .contains("Paths:\n  Chart.yaml\n  values.yaml\n")
        .endsWith("Default values (values.yaml):\n  a: 1\n");
    assertThat(AppsCommand.showText(version, preview, NOW))
        .endsWith("# rendered for device dev-1 with tags site=s1, sha256:cd\n---\nkind: X\n")
        .doesNotContain("Default values");
    assertThat(AppsCommand.previewHeader(json("{\"yaml\":\"\",\"digest\":\"sha256:ef\"}")))
        .isEqualTo("# rendered with placeholder tags (${tag:KEY} as tag-KEY), sha256:ef");
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (IOException e) {
      throw new AssertionError(text, e);
    }
  }

  @Test
  void gitAppsWhoseNewContentWasRefusedAreNamedWithWhatDevicesKeep() {
    JsonNode sources =
        json(
            "[{\"name\":\"shop\",\"lastCommit\":{\"sha\":\"0123456789abcdef\"},"
                + "\"revisions\":[{\"app\":\"db\",\"revision\":\"sha256:1a2b3c4d5e6f\","
                + "\"error\":\"db/a.yaml: bad\"},{\"app\":\"kiosk\",\"error\":\"no kind\"},"
                + "{\"app\":\"web\",\"revision\":\"sha256:abcdefabcdef\"}]}]");

    assertThat(AppsCommand.refused(sources, null))
        .containsExactly(
            "db (repository shop): its new content at 0123456789ab was refused, so devices keep"
                + " sha256:1a2b3c4d5e6f: db/a.yaml: bad",
            "kiosk (repository shop): its new content at 0123456789ab was refused, so it is not"
                + " deployed: no kind");
    assertThat(AppsCommand.refused(sources, "web")).isEmpty();
    assertThat(AppsCommand.refused(sources, "kiosk")).hasSize(1);
  }
}
