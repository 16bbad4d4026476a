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
  private static final String READY =
      "{\"deviceId\":\"dev-1\",\"deviceName\":\"pos-1\",\"app\":\"web\",\"source\":\"shop\","
          + "\"desiredRevision\":\"0123456789abcdef0123\",\"runningRevision\":\"0123456789abcdef0123\","
          + "\"state\":\"READY\",\"desiredSince\":\"2025-06-01T11:58:00Z\","
          + "\"reportedAt\":\"2025-06-01T11:59:00Z\"}";
  private static final String OFFLINE =
      "{\"deviceId\":\"dev-2\",\"deviceName\":\"pos-2\",\"app\":\"web\",\"source\":\"shop\","
          + "\"desiredRevision\":\"0123456789abcdef0123\",\"runningRevision\":\"fedcba\","
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
                    + "\"pending\":0,\"pendingOffline\":1},"
                    + "{\"app\":\"kiosk\",\"source\":\"lab\",\"devices\":1,\"ready\":0,"
                    + "\"failed\":1,\"pending\":0,\"pendingOffline\":0}]"));

    assertThat(table.lines())
        .containsExactly(
            "APP    SOURCE  DEVICES  READY  FAILED  PENDING  PENDING OFFLINE",
            "web    shop    3        2      0       0        1",
            "kiosk  lab     1        0      1       0        0");
  }

  @Test
  void emptyListIsTheHeaderAlone() {
    assertThat(AppsCommand.table(json("[]")))
        .isEqualTo("APP  SOURCE  DEVICES  READY  FAILED  PENDING  PENDING OFFLINE\n");
  }

  @Test
  void statusShowsEachDeviceWithShortRevisions() {
    String table = AppsCommand.deviceTable(json("[" + READY + "," + OFFLINE + "]"), NOW);

    assertThat(table.lines())
        .containsExactly(
            "DEVICE  NAME   DESIRED       RUNNING       STATE            REASON                 "
                + "                           SINCE",
            "dev-1   pos-1  0123456789ab  0123456789ab  READY            -                      "
                + "                           2m ago",
            "dev-2   pos-2  0123456789ab  fedcba        PENDING_OFFLINE  device is offline; it "
                + "updates when it reconnects  2d ago");
  }

  @Test
  void deviceAppsShowEachAppOfOneDevice() {
    String table = AppsCommand.appTable(json("[" + NEW + "]"), NOW);

    assertThat(table.lines())
        .containsExactly(
            "APP    SOURCE  DESIRED  RUNNING  STATE    REASON            SINCE",
            "kiosk  shop    abc      -        PENDING  not reported yet  30s ago");
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

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (IOException e) {
      throw new AssertionError(text, e);
    }
  }
}
