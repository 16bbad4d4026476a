package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Rendering of devices in states the integration test cannot reach without a connected agent (a
 * device last seen days ago). The input is the API's device JSON.
 */
class DevicesCommandTest {
  private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");

  @Test
  void tableAlignsColumnsAndShowsLastContactRelativeToNow() {
    String table =
        DevicesCommand.table(
            json(
                "[{\"id\":\"d-1\",\"name\":\"pos-1\",\"tags\":{\"site\":\"store-17\",\"role\":\"pos\"},"
                    + "\"status\":\"OFFLINE\",\"statusReason\":\"nothing heard for 3d\","
                    + "\"lastSeen\":\""
                    + NOW.minus(Duration.ofDays(3))
                    + "\",\"facts\":{\"agentVersion\":\"0.1.0\"},\"identity\":\"tpm\","
                    + "\"trust\":{\"state\":\"QUARANTINED\"}},"
                    + "{\"id\":\"d-2\",\"tags\":{},\"status\":\"PENDING\",\"identity\":\"software\","
                    + "\"trust\":{\"state\":\"UNVERIFIED\"}}]"),
            NOW);

    assertThat(table.lines())
        .containsExactly(
            "ID   NAME   STATUS   TRUST        REASON                LAST SEEN  TAGS                    AGENT",
            "d-1  pos-1  OFFLINE  QUARANTINED  nothing heard for 3d  3d ago     role=pos,site=store-17  0.1.0",
            "d-2  -      PENDING  -            -                     -          -                       -");
  }

  @Test
  void detailsShowLastContactAsTimestampAndAge() {
    String details =
        DevicesCommand.details(
            json(
                "{\"id\":\"d-1\",\"status\":\"ONLINE\",\"lastSeen\":\"2025-06-01T11:59:48Z\","
                    + "\"facts\":{\"diskBytes\":64000000000}}"),
            NOW);

    assertThat(details)
        .containsPattern("Last seen: +2025-06-01T11:59:48Z \\(12s ago\\)")
        .containsPattern("Disk: +59\\.6 GiB")
        .containsPattern("K3s: +-")
        .containsPattern("Kubernetes: +-")
        .containsPattern("API groups: +-");
  }

  @Test
  void detailsSayWhichSiteCacheTheDeviceUsesOrThatItServes() {
    String neighbour =
        DevicesCommand.details(
            json(
                "{\"id\":\"d-2\",\"status\":\"ONLINE\",\"siteCache\":{\"deviceId\":\"d-2\","
                    + "\"site\":\"store-17\",\"cache\":\"d-1\",\"cacheName\":\"till-1\","
                    + "\"url\":\"https://10.0.0.5:7443\",\"serves\":false}}"),
            NOW);
    assertThat(neighbour)
        .containsPattern("Site cache: +till-1 \\(d-1\\) of site store-17, https://10.0.0.5:7443");

    String cache =
        DevicesCommand.details(
            json(
                "{\"id\":\"d-1\",\"status\":\"ONLINE\",\"siteCache\":{\"deviceId\":\"d-1\","
                    + "\"site\":\"store-17\",\"cache\":\"d-1\",\"cacheName\":\"till-1\","
                    + "\"url\":null,\"serves\":true}}"),
            NOW);
    assertThat(cache)
        .containsPattern("Site cache: +serves site store-17 \\(no address reported yet\\)");

    String none =
        DevicesCommand.details(
            json(
                "{\"id\":\"d-3\",\"status\":\"ONLINE\",\"siteCache\":{\"deviceId\":\"d-3\","
                    + "\"site\":\"rig-4\",\"serves\":false}}"),
            NOW);
    assertThat(none)
        .containsPattern(
            "Site cache: +none \\(no device of site rig-4 is tagged edgefleet.io/site-cache=true\\)");
  }

  @Test
  void detailsShowTheKubernetesVersionTheDeviceReports() {
    String details =
        DevicesCommand.details(
            json(
                "{\"id\":\"d-1\",\"facts\":{\"kubernetesVersion\":\"v1.30.6+k3s1\","
                    + "\"kubernetesApiVersions\":[\"apps/v1\",\"v1\"]}}"),
            NOW);

    assertThat(details)
        .containsPattern("Kubernetes: +v1.30.6\\+k3s1")
        .containsPattern("API groups: +2");
  }

  @Test
  void eventsShowTimeAgeKindAndMessage() {
    String table =
        DevicesCommand.events(
            json(
                "[{\"id\":\"evt-2\",\"deviceId\":\"d-1\",\"at\":\"2025-06-01T11:59:00Z\","
                    + "\"kind\":\"app.failed\",\"message\":\"web: image pull failed\"},"
                    + "{\"id\":\"evt-1\",\"deviceId\":\"d-1\",\"at\":\"2025-06-01T09:00:00Z\","
                    + "\"kind\":\"app.ready\",\"message\":\"web\\nready\"}]"),
            NOW);

    assertThat(table.lines())
        .containsExactly(
            "TIME                  AGE     KIND        MESSAGE",
            "2025-06-01T11:59:00Z  1m ago  app.failed  web: image pull failed",
            "2025-06-01T09:00:00Z  3h ago  app.ready   web?ready");
  }

  @Test
  void metricsShowTheNewestWindowInEachMetricsUnit() {
    String text =
        DevicesCommand.metrics(
            json(
                "{\"deviceId\":\"d-1\",\"summaries\":[{},{}],\"latest\":{\"from\":\"2025-06-01T11:59:00Z\","
                    + "\"at\":\"2025-06-01T11:59:30Z\",\"partial\":true,\"metrics\":{"
                    + "\"cpu.used.percent\":{\"min\":1.25,\"max\":80,\"mean\":20.5,\"last\":3,\"count\":6},"
                    + "\"mem.used.bytes\":{\"min\":1048576,\"max\":3145728,\"mean\":2097152,"
                    + "\"last\":1572864,\"count\":6},"
                    + "\"app.web.ready\":{\"min\":0,\"max\":1,\"mean\":0.5,\"last\":1,\"count\":6}}}}"),
            NOW);

    assertThat(text.lines())
        .containsExactly(
            "Window: 2025-06-01T11:59:00Z to 2025-06-01T11:59:30Z (30s ago, partial); 2 windows in all",
            "",
            "METRIC            LAST     MIN      MEAN     MAX      SAMPLES",
            "cpu.used.percent  3.0%     1.3%     20.5%    80.0%    6",
            "mem.used.bytes    1.5 MiB  1.0 MiB  2.0 MiB  3.0 MiB  6",
            "app.web.ready     1        0        0.50     1        6");
  }

  @Test
  void metricsOfADeviceThatSentNoneSaySo() {
    assertThat(DevicesCommand.metrics(json("{\"deviceId\":\"d-1\",\"summaries\":[]}"), NOW))
        .isEqualTo("No telemetry from d-1 in this time.\n");
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (Exception e) {
      throw new AssertionError(text, e);
    }
  }
}
