package io.edgefleet.e2e.rollouts;

import static io.edgefleet.e2e.rollouts.Fleet.list;
import static io.edgefleet.e2e.rollouts.Fleet.state;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.ControllerProcess;
import io.edgefleet.testkit.MovableClock;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Phased rollouts end to end: a real controller, agents over mutual TLS, each applying the catalog
 * app into a real API server where the kubelet stand-in makes pods ready (or never ready), and the
 * rollout engine deciding from what the devices report.
 */
class RolloutIT {
  @TempDir Path dir;
  TestController controller;
  Fleet fleet;

  @AfterEach
  void stop() {
    if (fleet != null) {
      fleet.close();
    }
    if (controller != null) {
      controller.close();
    }
  }

  private Fleet fleet(TestController c) {
    controller = c;
    fleet = new Fleet(dir, c.url(), c.caFingerprint(), c.admin());
    return fleet;
  }

  private String deployV1(List<Fleet.Device> devices) throws Exception {
    fleet.push("1.0.0", "1.0");
    String first = fleet.deploy("1.0.0", null);
    fleet.awaitRollout(first, Duration.ofSeconds(120), state("SUCCEEDED"));
    String v1 = fleet.revision();
    fleet.awaitReady(Duration.ofSeconds(120), v1, devices);
    return v1;
  }

  @Test
  void thirtyDevicesCanaryThenTwoWavesAllConvergeAndTheHistoryShowsEachBatch() throws Exception {
    fleet(TestController.start(dir.resolve("controller")));
    List<Fleet.Device> all = fleet.start("d", 30, Map.of());
    String v1 = deployV1(all);
    fleet.push("2.0.0", "2.0");

    String id = fleet.upgrade("2.0.0", "canary: 10%\nwaves: [50%, 50%]\nprogressDeadline: 3m\n");
    String v2 = fleet.revision();
    assertThat(v2).startsWith("2.0.0").isNotEqualTo(v1);
    JsonNode done = fleet.awaitRollout(id, Duration.ofSeconds(240), state("SUCCEEDED"));
    fleet.awaitReady(Duration.ofSeconds(30), v2, all);

    assertThat(list(done.path("batches")))
        .extracting(b -> b.path("name").asText(), b -> b.path("counts").path("targeted").asInt())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("canary", 3),
            org.assertj.core.groups.Tuple.tuple("wave-1", 15),
            org.assertj.core.groups.Tuple.tuple("wave-2", 12));
    assertThat(list(done.path("batches")))
        .allSatisfy(
            b -> {
              assertThat(b.path("state").asText()).isEqualTo("SUCCEEDED");
              assertThat(b.path("counts").path("ready").asInt())
                  .isEqualTo(b.path("counts").path("targeted").asInt());
            });
    assertBatchesRanInOrder(done, 3);
    // A later batch's devices were released only after the batch before it had succeeded.
    Map<String, Integer> batchOf = new HashMap<>();
    list(done.path("devices"))
        .forEach(d -> batchOf.put(d.path("deviceId").asText(), d.path("batch").asInt()));
    for (JsonNode e : list(done.path("events"))) {
      if (e.path("kind").asText().equals("RELEASED") && e.path("batch").asInt() > 0) {
        long succeededBefore = successSeq(done, e.path("batch").asInt() - 1);
        assertThat(e.path("seq").asLong()).isGreaterThan(succeededBefore);
      }
    }
    // Each device went from v1 to v2 exactly once.
    for (Fleet.Device d : all) {
      assertThat(d.runtime().revisions(fleet.app)).as(d.name()).containsExactly(v1, v2);
    }
  }

  @Test
  void aVersionThatNeverBecomesReadyPausesTheRolloutAndARollbackReturnsTheCanary()
      throws Exception {
    fleet(TestController.start(dir.resolve("controller")));
    List<Fleet.Device> all = fleet.start("d", 6, Map.of());
    String v1 = deployV1(all);
    fleet.push("2.0.0", Fleet.NEVER_READY);

    // onFailure: pause (the default) — the canary never becomes ready, the rollout pauses.
    String id = fleet.upgrade("2.0.0", "canary: 2\nwaves: [100%]\nprogressDeadline: 8s\n");
    String bad = fleet.revision();
    JsonNode paused = fleet.awaitRollout(id, Duration.ofSeconds(90), state("PAUSED"));
    assertThat(paused.path("reason").asText())
        .contains("canary")
        .contains("failed")
        .contains("not READY within 8s");
    assertThat(paused.path("batches").get(0).path("state").asText()).isEqualTo("FAILED");
    assertThat(paused.path("batches").get(1).path("state").asText()).isEqualTo("PENDING");
    Set<String> canary = devicesOfBatch(paused, 0);
    assertThat(canary).hasSize(2);
    for (Fleet.Device d : all) {
      if (!canary.contains(d.id())) {
        assertThat(d.runtime().revisions(fleet.app)).as(d.name()).containsExactly(v1);
      }
    }
    // An operator rolls it back: the canary returns to v1 and is READY again.
    AdminClient.Answer rb =
        controller.admin().post("/api/v1/rollouts/" + id + "/rollback", Map.of());
    assertThat(rb.status()).as(rb.body().toString()).isEqualTo(200);
    JsonNode rolledBack = fleet.awaitRollout(id, Duration.ofSeconds(90), state("ROLLED_BACK"));
    assertThat(rolledBack.path("reason").asText()).contains("rolled back by");
    fleet.awaitReady(Duration.ofSeconds(60), v1, all);
    for (Fleet.Device d : all) {
      if (canary.contains(d.id())) {
        assertThat(d.runtime().revisions(fleet.app)).as(d.name()).containsExactly(v1, bad, v1);
      }
    }

    // onFailure: rollback — the same happens without anyone.
    fleet.push("2.0.1", Fleet.NEVER_READY);
    String auto =
        fleet.upgrade(
            "2.0.1", "canary: 2\nwaves: [100%]\nprogressDeadline: 8s\nonFailure: rollback\n");
    JsonNode autoRolledBack =
        fleet.awaitRollout(auto, Duration.ofSeconds(120), state("ROLLED_BACK"));
    assertThat(autoRolledBack.path("reason").asText()).contains("not READY within 8s");
    assertThat(list(autoRolledBack.path("events")))
        .extracting(e -> e.path("kind").asText())
        .containsSubsequence("BATCH_FAILED", "ROLLING_BACK", "ROLLED_BACK");
    fleet.awaitReady(Duration.ofSeconds(60), v1, all);
    assertThat(devicesOfBatch(autoRolledBack, 1))
        .allSatisfy(
            d ->
                assertThat(device(d).runtime().revisions(fleet.app))
                    .as("wave device %s never leaves v1", d)
                    .containsExactly(v1));
  }

  @Test
  void anOfflineDeviceIsPendingOfflineTheRolloutGoesOnAtTheDeadlineAndItUpdatesWhenBack()
      throws Exception {
    fleet(TestController.start(dir.resolve("controller")));
    List<Fleet.Device> all = fleet.start("d", 6, Map.of());
    String v1 = deployV1(all);
    fleet.push("2.0.0", "2.0");
    // Devices are planned in id order: the last id lands in the wave.
    Fleet.Device away =
        all.stream().max(java.util.Comparator.comparing(Fleet.Device::id)).orElseThrow();
    fleet.stop(away.name());
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                controller
                    .admin()
                    .get("/api/v1/devices/" + away.id())
                    .body()
                    .path("status")
                    .asText()
                    .equals("OFFLINE"));

    String id = fleet.upgrade("2.0.0", "canary: 2\nwaves: [100%]\nprogressDeadline: 6s\n");
    String v2 = fleet.revision();
    JsonNode pending =
        fleet.awaitRollout(
            id,
            Duration.ofSeconds(90),
            r ->
                list(r.path("devices")).stream()
                    .anyMatch(
                        d ->
                            d.path("deviceId").asText().equals(away.id())
                                && d.path("state").asText().equals("PENDING_OFFLINE")));
    assertThat(pending.path("batches").get(1).path("counts").path("failed").asInt()).isZero();

    JsonNode done = fleet.awaitRollout(id, Duration.ofSeconds(90), state("SUCCEEDED"));
    JsonNode wave = done.path("batches").get(1);
    assertThat(wave.path("counts").path("pendingOffline").asInt()).isEqualTo(1);
    assertThat(wave.path("counts").path("failed").asInt()).isZero();
    assertThat(wave.path("reason").asText()).contains("without 1 offline device");
    List<Fleet.Device> present = all.stream().filter(d -> d != away).toList();
    fleet.awaitReady(Duration.ofSeconds(30), v2, present);

    Fleet.Device back = fleet.restart(away.name());
    fleet.awaitReady(Duration.ofSeconds(60), v2, List.of(back));
    assertThat(back.runtime().revisions(fleet.app)).containsExactly(v2);
    assertThat(away.runtime().revisions(fleet.app)).containsExactly(v1);
  }

  @Test
  void devicesOutsideTheirMaintenanceWindowWaitAndUpdateWhenItOpens() throws Exception {
    Instant start = Instant.now().truncatedTo(ChronoUnit.MINUTES).plusSeconds(30);
    MovableClock clock = MovableClock.startingAt(start);
    ZonedDateTime opens = start.atZone(ZoneOffset.UTC).plusHours(2).truncatedTo(ChronoUnit.MINUTES);
    fleet(TestController.start(TestController.config(dir.resolve("controller")), clock));
    List<Fleet.Device> anytime = fleet.start("day", 2, Map.of());
    List<Fleet.Device> night = fleet.start("night", 2, Map.of("maintenance", "night"));
    List<Fleet.Device> all = new ArrayList<>(anytime);
    all.addAll(night);
    String v1 = deployV1(all);
    fleet.push("2.0.0", "2.0");

    String policy =
        """
        progressDeadline: 5m
        maintenance:
          windows:
            night: {cron: "%d %d * * *", duration: 1h, timeZone: UTC}
        """
            .formatted(opens.getMinute(), opens.getHour());
    String id = fleet.upgrade("2.0.0", policy);
    String v2 = fleet.revision();
    fleet.awaitReady(Duration.ofSeconds(60), v2, anytime);
    JsonNode waiting =
        fleet.awaitRollout(
            id,
            Duration.ofSeconds(30),
            r -> r.path("batches").get(0).path("counts").path("outsideWindow").asInt() == 2);
    assertThat(waiting.path("state").asText()).isEqualTo("PROGRESSING");
    assertThat(waiting.path("reason").asText()).contains("2 outside-window").contains("night");
    for (JsonNode d : list(waiting.path("devices"))) {
      if (night.stream().anyMatch(n -> n.id().equals(d.path("deviceId").asText()))) {
        assertThat(d.path("state").asText()).isEqualTo("OUTSIDE_WINDOW");
        assertThat(d.path("reason").asText()).contains("night");
      }
    }
    for (Fleet.Device d : night) {
      assertThat(d.runtime().revisions(fleet.app)).as(d.name()).containsExactly(v1);
    }

    // The window opens.
    clock.advance(Duration.between(start, opens.toInstant()).plusMinutes(1));
    fleet.awaitRollout(id, Duration.ofSeconds(90), state("SUCCEEDED"));
    fleet.awaitReady(Duration.ofSeconds(30), v2, night);
    for (Fleet.Device d : night) {
      assertThat(d.runtime().revisions(fleet.app)).as(d.name()).containsExactly(v1, v2);
    }
  }

  @Test
  void aControllerKilledMidWaveResumesAndNoDeviceIsUpdatedTwice() throws Exception {
    try (ControllerProcess process =
            new ControllerProcess(
                    dir.resolve("controller"),
                    List.of("--heartbeat", "1s", "--rollout-tick", "200ms"))
                .start();
        AdminClient admin = process.admin()) {
      fleet = new Fleet(dir, process.url(), process.caFingerprint(), admin);
      List<Fleet.Device> all = fleet.start("d", 8, Map.of());
      String v1 = deployV1(all);
      fleet.push("2.0.0", "2.0");
      String id =
          fleet.upgrade("2.0.0", "canary: 1\nwaves: [2, 2, 3]\nsoak: 2s\nprogressDeadline: 2m\n");
      String v2 = fleet.revision();
      fleet.awaitRollout(
          id,
          Duration.ofSeconds(120),
          r -> r.path("batch").asInt() >= 2 && r.path("state").asText().equals("PROGRESSING"));

      process.kill9();
      process.start();

      JsonNode done = fleet.awaitRollout(id, Duration.ofSeconds(180), state("SUCCEEDED"));
      fleet.awaitReady(Duration.ofSeconds(60), v2, all);
      assertBatchesRanInOrder(done, 4);
      Map<String, Long> releases = new HashMap<>();
      for (JsonNode e : list(done.path("events"))) {
        if (e.path("kind").asText().equals("RELEASED")) {
          String ids = e.path("message").asText().replaceFirst("^.*released: ", "");
          for (String d : ids.split(", ")) {
            releases.merge(d, 1L, Long::sum);
          }
        }
      }
      assertThat(releases)
          .as("every device released exactly once")
          .hasSize(8)
          .allSatisfy((d, n) -> assertThat(n).isEqualTo(1L));
      for (Fleet.Device d : all) {
        assertThat(d.runtime().revisions(fleet.app)).as(d.name()).containsExactly(v1, v2);
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  private Fleet.Device device(String id) {
    return fleet.devices.values().stream().filter(d -> d.id().equals(id)).findFirst().orElseThrow();
  }

  private static Set<String> devicesOfBatch(JsonNode rollout, int batch) {
    return list(rollout.path("devices")).stream()
        .filter(d -> d.path("batch").asInt() == batch)
        .map(d -> d.path("deviceId").asText())
        .collect(Collectors.toSet());
  }

  private static long successSeq(JsonNode rollout, int batch) {
    return list(rollout.path("events")).stream()
        .filter(e -> e.path("kind").asText().equals("BATCH_SUCCEEDED"))
        .filter(e -> e.path("batch").asInt() == batch)
        .mapToLong(e -> e.path("seq").asLong())
        .findFirst()
        .orElseThrow();
  }

  /** Every batch started once and succeeded once, batch after batch, and then the rollout. */
  private static void assertBatchesRanInOrder(JsonNode rollout, int batches) {
    List<String> transitions =
        list(rollout.path("events")).stream()
            .filter(
                e ->
                    Set.of("BATCH_STARTED", "BATCH_SUCCEEDED", "SUCCEEDED")
                        .contains(e.path("kind").asText()))
            .map(
                e ->
                    e.path("kind").asText()
                        + (e.path("batch").isNumber() ? " " + e.path("batch").asInt() : ""))
            .toList();
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < batches; i++) {
      expected.add("BATCH_STARTED " + i);
      expected.add("BATCH_SUCCEEDED " + i);
    }
    expected.add("SUCCEEDED");
    assertThat(transitions).containsExactlyElementsOf(expected);
  }
}
