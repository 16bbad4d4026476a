package io.edgefleet.e2e.rollouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.ControllerProcess;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.ReplicaData;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three controller replicas (real processes) on one real PostgreSQL, sharing the data directory's
 * keys; devices spread over them through the URLs of their bootstrap files. The leader, which ticks
 * the rollout, is killed with SIGKILL in the middle of it: another replica takes the lead and
 * finishes the rollout from the database, the leader's devices reconnect to the others, and no
 * device is released twice.
 */
class ReplicaRolloutIT {
  @TempDir Path dir;
  final List<ControllerProcess> replicas = new ArrayList<>();
  final List<AdminClient> admins = new ArrayList<>();
  Fleet fleet;

  @AfterEach
  void stop() {
    if (fleet != null) {
      fleet.close();
    }
    admins.forEach(AdminClient::close);
    for (int i = 0; i < replicas.size(); i++) {
      System.out.println("==== replica " + i + " output");
      replicas.get(i).output().forEach(System.out::println);
    }
    replicas.forEach(ControllerProcess::close);
  }

  @Test
  void aLeaderKilledMidRolloutIsReplacedAndTheRolloutCompletesOnce() throws Exception {
    String url = Postgres.newDatabase();
    List<Path> data = List.of(dir.resolve("r0"), dir.resolve("r1"), dir.resolve("r2"));
    // Ports first: every replica advertises the others.
    List<ControllerProcess> unstarted = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      unstarted.add(null);
    }
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        ports.add(s.getLocalPort());
      }
    }
    for (int i = 0; i < 3; i++) {
      List<String> args = new ArrayList<>(List.of("--database-url", url, "--heartbeat", "1s"));
      args.addAll(List.of("--rollout-tick", "200ms"));
      for (int j = 0; j < 3; j++) {
        if (j != i) {
          args.addAll(List.of("--also-advertise-url", "https://127.0.0.1:" + ports.get(j)));
        }
      }
      unstarted.set(i, new ControllerProcess(data.get(i), args, "127.0.0.1", ports.get(i)));
    }
    replicas.add(unstarted.get(0).start());
    for (int i = 1; i < 3; i++) {
      ReplicaData.copyKeys(data.get(0), data.get(i));
      replicas.add(unstarted.get(i).start());
    }
    for (ControllerProcess r : replicas) {
      admins.add(r.admin());
      assertThat(r.caFingerprint()).isEqualTo(replicas.get(0).caFingerprint());
    }

    fleet = new Fleet(dir, replicas.get(0).url(), replicas.get(0).caFingerprint(), admins.get(0));
    fleet.moreUrls(List.of(replicas.get(1).url(), replicas.get(2).url()));
    List<Fleet.Device> all = fleet.start("d", 9, Map.of());
    fleet.push("1.0.0", "1.0");
    fleet.awaitRollout(
        fleet.deploy("1.0.0", null), Duration.ofSeconds(120), Fleet.state("SUCCEEDED"));
    String v1 = fleet.revision();
    fleet.awaitReady(Duration.ofSeconds(120), v1, all);
    // The devices spread over the replicas, and every replica knows which one holds each.
    Map<String, String> before = holders(admins.get(2), 9);
    assertThat(Set.copyOf(before.values())).as("devices spread: %s", before).hasSizeGreaterThan(1);
    assertThat(holders(admins.get(1), 9)).isEqualTo(before);
    String killed = replicas.get(0).handle().pid() + "@";

    fleet.push("2.0.0", "2.0");
    String id =
        fleet.upgrade("2.0.0", "canary: 1\nwaves: [2, 2, 4]\nsoak: 2s\nprogressDeadline: 2m\n");
    String v2 = fleet.revision();
    fleet.awaitRollout(
        id,
        Duration.ofSeconds(120),
        r -> r.path("batch").asInt() >= 2 && r.path("state").asText().equals("PROGRESSING"));

    // The first replica started first and leads: it ticks the rollout. Killed, without a word.
    replicas.get(0).kill9();
    fleet.use(admins.get(1));

    JsonNode done = fleet.awaitRollout(id, Duration.ofSeconds(180), Fleet.state("SUCCEEDED"));
    fleet.awaitReady(Duration.ofSeconds(90), v2, all);
    // Every device is back, on the replicas that live.
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(holders(admins.get(1), 9))
                    .allSatisfy((d, r) -> assertThat(r).doesNotStartWith(killed)));
    Map<String, Long> releases = new HashMap<>();
    for (JsonNode e : Fleet.list(done.path("events"))) {
      if (e.path("kind").asText().equals("RELEASED")) {
        String ids = e.path("message").asText().replaceFirst("^.*released: ", "");
        for (String d : ids.split(", ")) {
          releases.merge(d, 1L, Long::sum);
        }
      }
    }
    assertThat(releases)
        .as("every device released exactly once")
        .hasSize(9)
        .allSatisfy((d, n) -> assertThat(n).isEqualTo(1L));
    for (Fleet.Device d : all) {
      assertThat(d.runtime().revisions(fleet.app)).as(d.name()).containsExactly(v1, v2);
    }
  }

  /** Device name to the replica holding its connection, once every device has one. */
  private static Map<String, String> holders(AdminClient admin, int devices) {
    Map<String, String> holders = new HashMap<>();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              holders.clear();
              JsonNode items = admin.get("/api/v1/devices").body().path("items");
              for (JsonNode d : Fleet.list(items)) {
                if (d.path("status").asText().equals("ONLINE") && d.hasNonNull("connectedTo")) {
                  holders.put(d.path("name").asText(), d.path("connectedTo").asText());
                }
              }
              assertThat(holders).as("online devices with a holder in %s", items).hasSize(devices);
            });
    return Map.copyOf(holders);
  }
}
