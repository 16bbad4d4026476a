package io.edgefleet.e2e.rollouts;

import static io.edgefleet.e2e.rollouts.Fleet.list;
import static io.edgefleet.e2e.rollouts.Fleet.state;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Git source added with a rollout policy: every commit that changes an app reaches the devices
 * canary first, then the wave, from what the devices report; a commit that leaves an app's content
 * as it was leaves its revision as it was and starts no rollout for it.
 */
class GitRolloutIT {
  @TempDir Path dir;
  TestController controller;
  Fleet fleet;
  GitRepo repo;

  @AfterEach
  void stop() {
    if (fleet != null) {
      fleet.close();
    }
    if (controller != null) {
      controller.close();
    }
    if (repo != null) {
      repo.close();
      Fleet.KUBE.client().namespaces().withName("notes-" + fleet.suffix).delete();
    }
  }

  @Test
  void eachCommitIsRolledOutCanaryFirstUnderTheSourcesPolicy() throws Exception {
    controller = TestController.start(dir.resolve("controller"));
    AdminClient admin = controller.admin();
    fleet = new Fleet(dir, controller.url(), controller.caFingerprint(), admin);
    List<Fleet.Device> all = fleet.start("g", 4, Map.of());
    repo = GitRepo.init(dir.resolve("repo"));
    chart("1.0");
    repo.write(notes(), GitRepo.configMap("notes", "text", "one"));
    repo.commit("pos 1.0");
    String sha1 = repo.head();

    AdminClient.Answer bad =
        admin.post(
            "/api/v1/repos",
            Map.of(
                "name",
                "fleet",
                "url",
                repo.url(),
                "target",
                "fleet=" + fleet.suffix,
                "rollout",
                "canary: 0"));
    assertThat(bad.status()).isEqualTo(422);
    assertThat(bad.code()).isEqualTo("ROLLOUT_POLICY_INVALID");
    assertThat(bad.body().path("message").asText()).contains("canary");

    AdminClient.Answer added =
        admin.post(
            "/api/v1/repos",
            Map.of(
                "name",
                "fleet",
                "url",
                repo.url(),
                "target",
                "fleet=" + fleet.suffix,
                "rollout",
                "canary: 1\nwaves: [100%]\nprogressDeadline: 2m\n"));
    assertThat(added.status()).as(added.body().toString()).isEqualTo(201);
    assertThat(added.body().path("rollout").asText()).contains("canary: 1");

    String rev1 = revisionAt(admin, fleet.app, sha1);
    String notesApp = "notes-" + fleet.suffix;
    String notes1 = revisionAt(admin, notesApp, sha1);
    JsonNode first = awaitRolloutTo(admin, fleet.app, rev1, "SUCCEEDED");
    assertThat(first.path("batches").get(0).path("counts").path("targeted").asInt()).isEqualTo(1);
    assertThat(first.path("createdBy").asText()).isEqualTo("git commit " + sha1.substring(0, 12));
    fleet.awaitReady(Duration.ofSeconds(60), rev1, all);

    chart("2.0");
    repo.commit("pos 2.0");
    String sha2 = repo.head();
    admin.post("/api/v1/repos/fleet/sync", Map.of());
    String rev2 = revisionAt(admin, fleet.app, sha2);
    assertThat(rev2).isNotEqualTo(rev1);
    JsonNode second = awaitRolloutTo(admin, fleet.app, rev2, "SUCCEEDED");
    assertThat(second.path("fromRevision").asText()).isEqualTo(rev1);
    assertThat(list(second.path("events")))
        .extracting(e -> e.path("kind").asText())
        .containsSubsequence(
            "BATCH_STARTED",
            "RELEASED",
            "BATCH_SUCCEEDED",
            "BATCH_STARTED",
            "RELEASED",
            "BATCH_SUCCEEDED",
            "SUCCEEDED");
    fleet.awaitReady(Duration.ofSeconds(60), rev2, all);
    for (Fleet.Device d : all) {
      assertThat(d.runtime().revisions(fleet.app)).as(d.name()).containsExactly(rev1, rev2);
    }
    // The notes app was not changed by that commit: no rollout, no new revision.
    assertThat(revisionAt(admin, notesApp, sha2)).isEqualTo(notes1);
    assertThat(list(admin.get("/api/v1/rollouts?app=" + notesApp).body().path("items")))
        .singleElement()
        .satisfies(r -> assertThat(r.path("toRevision").asText()).isEqualTo(notes1));

    // Only the notes app changes: its rollout goes canary first; this app starts none.
    repo.write(notes(), GitRepo.configMap("notes", "text", "two"));
    repo.commit("notes only");
    String sha3 = repo.head();
    admin.post("/api/v1/repos/fleet/sync", Map.of());
    assertThat(revisionAt(admin, fleet.app, sha3)).isEqualTo(rev2);
    String notes2 = revisionAt(admin, notesApp, sha3);
    JsonNode third = awaitRolloutTo(admin, notesApp, notes2, "SUCCEEDED");
    assertThat(third.path("fromRevision").asText()).isEqualTo(notes1);
    assertThat(third.path("batches")).hasSize(2);
    assertThat(third.path("createdBy").asText()).isEqualTo("git commit " + sha3.substring(0, 12));
    assertThat(list(admin.get("/api/v1/rollouts?app=" + fleet.app).body().path("items")))
        .extracting(r -> r.path("toRevision").asText())
        .containsExactlyInAnyOrder(rev1, rev2);
    for (Fleet.Device d : all) {
      assertThat(d.runtime().revisions(fleet.app)).as(d.name()).containsExactly(rev1, rev2);
      assertThat(d.runtime().revisions(notesApp)).as(d.name()).containsExactly(notes1, notes2);
    }
  }

  @Test
  void aPolicyFileInTheRepositoryGovernsItsAppsAndABadOneRefusesTheCommit() throws Exception {
    controller = TestController.start(dir.resolve("controller"));
    AdminClient admin = controller.admin();
    fleet = new Fleet(dir, controller.url(), controller.caFingerprint(), admin);
    List<Fleet.Device> all = fleet.start("f", 3, Map.of());
    repo = GitRepo.init(dir.resolve("repo"));
    chart("1.0");
    repo.write("apps/edgefleet-rollout.yaml", "canary: 1\nwaves: [100%]\n");
    repo.commit("pos 1.0 with a policy");
    String sha1 = repo.head();
    AdminClient.Answer added =
        admin.post(
            "/api/v1/repos",
            Map.of("name", "fleet", "url", repo.url(), "target", "fleet=" + fleet.suffix));
    assertThat(added.status()).as(added.body().toString()).isEqualTo(201);
    String rev1 = revisionAt(admin, fleet.app, sha1);
    JsonNode first = awaitRolloutTo(admin, fleet.app, rev1, "SUCCEEDED");
    assertThat(list(first.path("batches")))
        .extracting(b -> b.path("name").asText())
        .containsExactly("canary", "wave-1");
    fleet.awaitReady(Duration.ofSeconds(60), rev1, all);
    assertThat(admin.get("/api/v1/repos/fleet").body().path("rollout").asText())
        .contains("canary: 1");

    // An invalid policy file refuses the commit: the last good one stays in effect.
    chart("2.0");
    repo.write("apps/edgefleet-rollout.yaml", "canary: 1\nonFailure: explode\n");
    repo.commit("bad policy");
    String bad = repo.head();
    admin.post("/api/v1/repos/fleet/sync", Map.of());
    JsonNode refused = admin.get("/api/v1/repos/fleet/commits/" + bad).body();
    assertThat(refused.path("status").asText()).isEqualTo("FAILED");
    assertThat(refused.path("error").asText())
        .contains("edgefleet-rollout.yaml")
        .contains("explode");
    assertThat(admin.get("/api/v1/repos/fleet").body().path("lastCommit").path("sha").asText())
        .isEqualTo(sha1);
  }

  private String notes() {
    return "apps/notes-" + fleet.suffix + "/app.yaml";
  }

  /** The content revision of {@code app} once commit {@code sha} is in effect. */
  private static String revisionAt(AdminClient admin, String app, String sha) {
    return await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              JsonNode source = admin.get("/api/v1/repos/fleet").body();
              if (!source.path("lastCommit").path("sha").asText().equals(sha)) {
                return null;
              }
              for (JsonNode r : source.path("revisions")) {
                if (r.path("app").asText().equals(app)) {
                  return r.path("revision").asText();
                }
              }
              return null;
            },
            r -> r != null);
  }

  private JsonNode awaitRolloutTo(AdminClient admin, String app, String revision, String state) {
    String[] id = {null};
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              for (JsonNode r :
                  list(admin.get("/api/v1/rollouts?app=" + app).body().path("items"))) {
                if (r.path("toRevision").asText().equals(revision)) {
                  id[0] = r.path("id").asText();
                  return true;
                }
              }
              return false;
            });
    return fleet.awaitRollout(id[0], Duration.ofSeconds(120), state(state));
  }

  private void chart(String imageTag) {
    Fleet.chart(fleet.app, "1.0.0", "${tag:ns}", imageTag)
        .forEach((path, content) -> repo.write("apps/" + fleet.app + "/" + path, content));
  }
}
