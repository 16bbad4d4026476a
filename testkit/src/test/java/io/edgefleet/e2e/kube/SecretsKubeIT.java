package io.edgefleet.e2e.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secrets from the controller to Kubernetes Secrets on a real kube-apiserver (the local one of the
 * testkit, or the cluster named by {@code EDGEFLEET_IT_KUBECONFIG}): materialised in their
 * namespace (created if missing), updated, pruned when deleted, deleted on quarantine and restored
 * when the device is trusted again, with the apps not kept in quarantine stopped meanwhile; never a
 * value in the agent's state directory.
 */
class SecretsKubeIT {
  static final KubeCluster KUBE = KubeCluster.shared();
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String VALUE = "s3cret-for-the-kube-it-9d1c";

  @TempDir Path dir;

  private final KubernetesClient kube = KUBE.client();

  private Secret secret(String ns, String name) {
    return kube.secrets().inNamespace(ns).withName(name).get();
  }

  private static String decoded(Secret s, String key) {
    return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
  }

  @Test
  void secretsFollowTheDesiredStateAndTheTrustVerdict() throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    String ns = KUBE.newNamespace("sec");
    String fresh = "sec-new-" + suffix; // created by the agent
    String app = "sec-cfg-" + suffix; // its objects go to the namespace named like it
    try (GitRepo repo = GitRepo.init(dir.resolve("repo"));
        TestController controller = TestController.start(dir.resolve("controller"));
        TestAgents agents = new TestAgents(dir)) {
      repo.write("apps/" + app + "/app.yaml", GitRepo.configMap("settings", "mode", "on"))
          .commit("add app");
      AdminClient admin = controller.admin();
      assertThat(
              admin
                  .post(
                      "/api/v1/repos",
                      Map.of(
                          "name",
                          "fleet",
                          "url",
                          repo.url(),
                          "target",
                          "site=" + suffix,
                          "interval",
                          "5s"))
                  .status())
          .isEqualTo(201);
      AgentOptions options =
          agents
              .options(
                  "kube",
                  agents.bootstrap(
                      "kube",
                      controller.url(),
                      controller.caFingerprint(),
                      controller.token(Map.of("site", suffix), null, false)))
              .withReconcileInterval(Duration.ofSeconds(1));
      Agent agent =
          agents.start(options, Clock.systemUTC(), new KubernetesRuntime(KUBE.kubeconfig()));
      await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();
      await()
          .atMost(WAIT)
          .until(() -> kube.configMaps().inNamespace(app).withName("settings").get() != null);

      // Created: a Secret of type Opaque, owned by the agent, in the given namespace.
      assertThat(
              admin
                  .post(
                      "/api/v1/secrets",
                      Map.of(
                          "name",
                          "db",
                          "stringData",
                          Map.of("password", VALUE),
                          "target",
                          "site=" + suffix,
                          "namespace",
                          ns))
                  .status())
          .isEqualTo(201);
      assertThat(
              admin
                  .post(
                      "/api/v1/secrets",
                      Map.of(
                          "name",
                          "api",
                          "stringData",
                          Map.of("token", "tok-" + VALUE),
                          "target",
                          "*",
                          "namespace",
                          fresh))
                  .status())
          .isEqualTo(201);
      Secret db = await().atMost(WAIT).until(() -> secret(ns, "db"), s -> s != null);
      assertThat(db.getType()).isEqualTo("Opaque");
      assertThat(decoded(db, "password")).isEqualTo(VALUE);
      assertThat(db.getMetadata().getLabels())
          .containsEntry("app.kubernetes.io/managed-by", "edgefleet")
          .containsEntry("edgefleet.io/secret", "true");
      assertThat(db.getMetadata().getAnnotations())
          .containsEntry("edgefleet.io/secret-version", "1");
      Secret api = await().atMost(WAIT).until(() -> secret(fresh, "api"), s -> s != null);
      assertThat(decoded(api, "token")).isEqualTo("tok-" + VALUE);
      await().atMost(WAIT).until(() -> agent.secrets().size() == 2);

      // Updated: the new version's values replace the old ones.
      assertThat(
              admin
                  .put(
                      "/api/v1/secrets/db",
                      Map.of("stringData", Map.of("password", "v2-" + VALUE, "user", "app")))
                  .status())
          .isEqualTo(200);
      await()
          .atMost(WAIT)
          .until(
              () -> secret(ns, "db"),
              s -> "2".equals(s.getMetadata().getAnnotations().get("edgefleet.io/secret-version")));
      assertThat(decoded(secret(ns, "db"), "password")).isEqualTo("v2-" + VALUE);
      assertThat(decoded(secret(ns, "db"), "user")).isEqualTo("app");

      // A Secret the agent does not own is left alone, even when a secret of that name arrives.
      kube.secrets()
          .inNamespace(ns)
          .resource(
              new io.fabric8.kubernetes.api.model.SecretBuilder()
                  .withNewMetadata()
                  .withName("theirs")
                  .endMetadata()
                  .withStringData(Map.of("k", "mine"))
                  .build())
          .create();
      assertThat(
              admin
                  .post(
                      "/api/v1/secrets",
                      Map.of(
                          "name",
                          "theirs",
                          "stringData",
                          Map.of("k", "edgefleet"),
                          "target",
                          "*",
                          "namespace",
                          ns))
                  .status())
          .isEqualTo(201);
      await()
          .atMost(WAIT)
          .until(
              () -> agent.secrets().get("theirs"),
              s ->
                  s != null && s.error() != null && s.error().contains("not created by edgefleet"));
      assertThat(decoded(secret(ns, "theirs"), "k")).isEqualTo("mine");
      assertThat(admin.delete("/api/v1/secrets/theirs").status()).isEqualTo(204);

      // Deleted at the controller: pruned from the cluster; the other one stays.
      assertThat(admin.delete("/api/v1/secrets/api").status()).isEqualTo(204);
      await().atMost(WAIT).until(() -> secret(fresh, "api") == null);
      assertThat(secret(ns, "db")).isNotNull();
      assertThat(secret(ns, "theirs")).as("not ours, never pruned").isNotNull();

      // Quarantined: every secret deleted, the app (not kept in quarantine) stopped.
      assertThat(
              controller
                  .controller()
                  .connections()
                  .send(id, new ControllerMessage.TrustState("QUARANTINED", "PCR 7 changed")))
          .isTrue();
      await().atMost(WAIT).until(() -> secret(ns, "db") == null);
      await()
          .atMost(WAIT)
          .until(() -> kube.configMaps().inNamespace(app).withName("settings").get() == null);
      assertThat(agent.quarantined()).isTrue();
      // ... and a new secret does not reach it meanwhile.
      assertThat(
              admin
                  .post(
                      "/api/v1/secrets",
                      Map.of(
                          "name",
                          "late",
                          "stringData",
                          Map.of("k", "late-" + VALUE),
                          "target",
                          "*",
                          "namespace",
                          ns))
                  .status())
          .isEqualTo(201);
      await()
          .during(Duration.ofSeconds(3))
          .atMost(Duration.ofSeconds(5))
          .until(() -> secret(ns, "late") == null && secret(ns, "db") == null);

      // Trusted again: the document in effect is applied, its secrets fetched afresh.
      controller
          .controller()
          .connections()
          .send(id, new ControllerMessage.TrustState("TRUSTED", null));
      await().atMost(WAIT).until(() -> secret(ns, "db") != null && secret(ns, "late") != null);
      assertThat(decoded(secret(ns, "db"), "password")).isEqualTo("v2-" + VALUE);
      await()
          .atMost(WAIT)
          .until(() -> kube.configMaps().inNamespace(app).withName("settings").get() != null);

      // The device reported what happened, by name and version only.
      String events =
          await()
              .atMost(WAIT)
              .until(
                  () -> admin.get("/api/v1/devices/" + id + "/events?limit=200").body().toString(),
                  e -> e.contains("secret-applied") && e.contains("trusted"));
      assertThat(events)
          .contains("secret db version 2 is in namespace " + ns)
          .contains("secret-removed")
          .contains("secret-failed")
          .contains("quarantined")
          .doesNotContain(VALUE);

      // Nothing in the agent's state directory holds a value, in the clear or as base64.
      assertNoValue(options.stateDir(), VALUE);
      assertNoValue(options.stateDir(), "v2-" + VALUE);
      assertNoValue(options.stateDir(), "late-" + VALUE);
    } finally {
      KUBE.deleteNamespace(ns);
      kube.namespaces().withName(fresh).delete();
      kube.namespaces().withName(app).delete();
    }
  }

  private static void assertNoValue(Path stateDir, String value) throws IOException {
    byte[][] needles = {
      value.getBytes(StandardCharsets.UTF_8),
      Base64.getEncoder()
          .encodeToString(value.getBytes(StandardCharsets.UTF_8))
          .getBytes(StandardCharsets.UTF_8)
    };
    try (Stream<Path> files = Files.walk(stateDir)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        String content = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
        for (byte[] needle : needles) {
          assertThat(content)
              .as("%s holds a secret value", f)
              .doesNotContain(new String(needle, StandardCharsets.ISO_8859_1));
        }
      }
    }
  }
}
