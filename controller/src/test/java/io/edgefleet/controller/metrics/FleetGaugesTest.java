package io.edgefleet.controller.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.rollouts.RolloutEngine;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The fleet gauges as Prometheus reads them: the exposition is parsed strictly and the names,
 * labels and values are checked against the fleet they were computed from.
 */
class FleetGaugesTest {

  private static final List<FleetGauges.Device> FLEET =
      List.of(
          new FleetGauges.Device("ONLINE", Map.of("region", "eu", "site", "s1")),
          new FleetGauges.Device("ONLINE", Map.of("region", "eu", "site", "s1")),
          new FleetGauges.Device("ONLINE", Map.of("region", "us", "site", "s9")),
          new FleetGauges.Device("OFFLINE", Map.of("region", "eu", "site", "s2")),
          new FleetGauges.Device("DEGRADED", Map.of("region", "eu")),
          new FleetGauges.Device("PENDING", Map.of()));

  private static Map<String, PrometheusText.Family> scrape(FleetGauges gauges) {
    ControllerMetrics metrics = new ControllerMetrics(ControllerMetricsTest.NO_SOURCES);
    metrics.register(gauges);
    return PrometheusText.parse(new String(metrics.scrape(), StandardCharsets.UTF_8));
  }

  private static FleetGauges.Sources sources(List<FleetGauges.Device> devices) {
    return new FleetGauges.Sources(
        () -> devices,
        () -> Map.of("PAUSED", 2L, "SUCCEEDED", 5L),
        () ->
            List.of(
                new FleetGauges.AppCount("web", "READY", 3),
                new FleetGauges.AppCount("web", "FAILED", 1),
                new FleetGauges.AppCount("pos", "PENDING_OFFLINE", 2)),
        () -> List.of(new FleetGauges.AlertCount("site-down", "critical", 4)));
  }

  @Test
  void devicesByStatusListEveryStatusOfTheEnumIncludingZeros() {
    Map<String, PrometheusText.Family> out = scrape(new FleetGauges(List.of(), sources(FLEET)));
    PrometheusText.Family devices = out.get("edgefleet_devices");
    assertThat(devices.type()).isEqualTo("gauge");
    assertThat(devices.samples())
        .extracting(s -> s.labels().get("status"))
        .containsExactlyInAnyOrderElementsOf(
            Arrays.stream(DeviceStatus.values()).map(Enum::name).toList());
    assertThat(devices.value("edgefleet_devices", Map.of("status", "ONLINE"))).contains(3.0);
    assertThat(devices.value("edgefleet_devices", Map.of("status", "OFFLINE"))).contains(1.0);
    assertThat(devices.value("edgefleet_devices", Map.of("status", "PENDING"))).contains(1.0);
    assertThat(devices.value("edgefleet_devices", Map.of("status", "NEVER_SEEN"))).contains(0.0);
    assertThat(out).doesNotContainKey("edgefleet_devices_by_tags");
  }

  @Test
  void devicesByStatusAndTagKeysCountEachCombination() {
    Map<String, PrometheusText.Family> out =
        scrape(new FleetGauges(List.of("region", "site"), sources(FLEET)));
    PrometheusText.Family byTags = out.get("edgefleet_devices_by_tags");
    assertThat(byTags.samples()).hasSize(5);
    String name = "edgefleet_devices_by_tags";
    assertThat(byTags.value(name, Map.of("status", "ONLINE", "tag_region", "eu", "tag_site", "s1")))
        .contains(2.0);
    assertThat(byTags.value(name, Map.of("status", "ONLINE", "tag_region", "us", "tag_site", "s9")))
        .contains(1.0);
    // A device without the tag has an empty value, which Prometheus treats as an absent label.
    assertThat(byTags.value(name, Map.of("status", "DEGRADED", "tag_region", "eu", "tag_site", "")))
        .contains(1.0);
    assertThat(byTags.value(name, Map.of("status", "PENDING", "tag_region", "", "tag_site", "")))
        .contains(1.0);
  }

  @Test
  void rolloutsAppsAndAlertsAreGaugesWithTheirLabels() {
    Map<String, PrometheusText.Family> out = scrape(new FleetGauges(List.of(), sources(FLEET)));
    PrometheusText.Family rollouts = out.get("edgefleet_rollouts");
    assertThat(rollouts.samples()).hasSize(RolloutEngine.State.values().length);
    assertThat(rollouts.value("edgefleet_rollouts", Map.of("state", "PAUSED"))).contains(2.0);
    assertThat(rollouts.value("edgefleet_rollouts", Map.of("state", "SUCCEEDED"))).contains(5.0);
    assertThat(rollouts.value("edgefleet_rollouts", Map.of("state", "PROGRESSING"))).contains(0.0);

    PrometheusText.Family apps = out.get("edgefleet_app_devices");
    assertThat(apps.value("edgefleet_app_devices", Map.of("app", "web", "state", "READY")))
        .contains(3.0);
    assertThat(apps.value("edgefleet_app_devices", Map.of("app", "web", "state", "FAILED")))
        .contains(1.0);
    assertThat(apps.value("edgefleet_app_devices", Map.of("app", "web", "state", "PENDING")))
        .contains(0.0);
    assertThat(
            apps.value("edgefleet_app_devices", Map.of("app", "pos", "state", "PENDING_OFFLINE")))
        .contains(2.0);
    assertThat(apps.samples()).hasSize(8);

    PrometheusText.Family alerts = out.get("edgefleet_alerts_firing");
    assertThat(
            alerts.value(
                "edgefleet_alerts_firing", Map.of("rule", "site-down", "severity", "critical")))
        .contains(4.0);
    PrometheusText.Family up = out.get("edgefleet_fleet_source_up");
    assertThat(up.samples()).extracting(PrometheusText.Sample::value).containsOnly(1.0);
  }

  @Test
  void theTagSeriesAreBoundedAndTheRarestAreAddedUpUnderOther() {
    List<FleetGauges.Device> many = new ArrayList<>();
    for (int i = 0; i < FleetGauges.MAX_TAG_SERIES + 500; i++) {
      many.add(new FleetGauges.Device("ONLINE", Map.of("site", "s" + i)));
    }
    // One site with more devices than any other is kept whatever the bound.
    for (int i = 0; i < 3; i++) {
      many.add(new FleetGauges.Device("ONLINE", Map.of("site", "big")));
    }
    many.add(new FleetGauges.Device("OFFLINE", Map.of("site", "big")));
    PrometheusText.Family byTags =
        scrape(new FleetGauges(List.of("site"), sources(many))).get("edgefleet_devices_by_tags");
    assertThat(byTags.samples()).hasSizeLessThanOrEqualTo(FleetGauges.MAX_TAG_SERIES);
    double total = byTags.samples().stream().mapToDouble(PrometheusText.Sample::value).sum();
    assertThat(total).isEqualTo(many.size());
    assertThat(
            byTags.value(
                "edgefleet_devices_by_tags", Map.of("status", "ONLINE", "tag_site", "big")))
        .contains(3.0);
    assertThat(
            byTags.value(
                "edgefleet_devices_by_tags",
                Map.of("status", "ONLINE", "tag_site", FleetGauges.OTHER)))
        .hasValueSatisfying(v -> assertThat(v).isGreaterThan(0));
  }

  @Test
  void tagKeysAreValidatedAndBounded() {
    assertThat(FleetGauges.labelsFor(List.of("region", "edgefleet.io/site", "rack-id")))
        .containsExactly("tag_region", "tag_edgefleet_io_site", "tag_rack_id");
    assertThatThrownBy(() -> FleetGauges.labelsFor(List.of("a", "b", "c", "d", "e", "f")))
        .hasMessageContaining("at most 5");
    assertThatThrownBy(() -> FleetGauges.labelsFor(List.of("rack-id", "rack.id")))
        .hasMessageContaining("tag_rack_id twice");
    assertThatThrownBy(() -> FleetGauges.labelsFor(List.of("-bad"))).hasMessageContaining("-bad");
  }

  @Test
  void aFailingSourceIsReportedAndTheOthersAreStillServed() {
    AtomicInteger calls = new AtomicInteger();
    FleetGauges.Sources broken =
        new FleetGauges.Sources(
            () -> {
              calls.incrementAndGet();
              throw new IllegalStateException("database unavailable");
            },
            () -> Map.of(),
            List::of,
            List::of);
    Map<String, PrometheusText.Family> out = scrape(new FleetGauges(List.of(), broken));
    assertThat(calls).hasValue(1);
    assertThat(out).doesNotContainKey("edgefleet_devices").containsKey("edgefleet_rollouts");
    PrometheusText.Family up = out.get("edgefleet_fleet_source_up");
    assertThat(up.value("edgefleet_fleet_source_up", Map.of("source", "devices"))).contains(0.0);
    assertThat(up.value("edgefleet_fleet_source_up", Map.of("source", "rollouts"))).contains(1.0);
  }
}
