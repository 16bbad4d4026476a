package io.edgefleet.e2e.profiles;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clusters follow the profile whose selector matches their labels, over the real HTTPS API with
 * real enrolled agents (their K3s played by the test): a cluster created without {@code --profile}
 * gets the profile's Kubernetes version and configuration in every member's section and the profile
 * tag on its members, a cluster the selector does not match keeps its own version, the profile and
 * the cluster views say which revision each cluster should run, and {@code profiles diff --cluster}
 * renders the cluster's manifests.
 */
class ProfileClustersApiIT {
  private static final String V1 = "v1.20.2+k3s1";
  private static final String V2 = "v1.21.1+k3s1";
  private static final String PROFILE_TAG = "cluster.edgefleet.io/profile";

  @TempDir Path dir;

  @Test
  void aClusterTheSelectorMatchesFollowsTheProfile() throws Exception {
    try (TestController controller = TestController.start(config(dir.resolve("c")));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = controller.admin();
      ClusterMembers.pushK3s(admin, V1);
      ClusterMembers.pushK3s(admin, V2);
      for (String[] v : List.of(new String[] {"1.0.0", "b"}, new String[] {"1.1.0", "c"})) {
        byte[] archive =
            ClusterMembers.tarGz(
                dir,
                "web",
                Map.of(
                    "cfg.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: "
                        + v[1]
                        + "\n"));
        AdminClient.Answer pushed =
            admin.post(
                "/api/v1/catalog/apps/web/versions",
                Map.of(
                    "version",
                    v[0],
                    "kind",
                    "manifests",
                    "archive",
                    Base64.getEncoder().encodeToString(archive)));
        assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
      }

      ClusterMembers members = new ClusterMembers(controller, agents);
      NoRuntime none = new NoRuntime("no workloads in this test");
      ClusterMembers.Device s1 = members.enroll("s1", Map.of("pool", "a"), none);
      ClusterMembers.Device a1 = members.enroll("a1", Map.of("pool", "a"), none);
      ClusterMembers.Device s2 = members.enroll("s2", Map.of("pool", "b"), none);

      // A profile for clusters labelled site=sjc, its version 1 pinning K3s v2 and an app.
      AdminClient.Answer created =
          admin.post(
              "/api/v1/profiles",
              Map.of("name", "edge", "selector", "site=sjc", "layers", layers("1.0.0")));
      assertThat(created.status()).as(created.body().toString()).isEqualTo(201);

      // Clusters name no profile: store1 is labelled site=sjc, store2 is not.
      AdminClient.Answer c1 =
          admin.post(
              "/api/v1/clusters",
              ClusterMembers.cluster("store1", "pool=a", 1, Map.of("site", "sjc"), V1));
      assertThat(c1.status()).as(c1.body().toString()).isEqualTo(201);
      AdminClient.Answer c2 =
          admin.post(
              "/api/v1/clusters",
              ClusterMembers.cluster("store2", "pool=b", 1, Map.of("site", "nyc"), V1));
      assertThat(c2.status()).as(c2.body().toString()).isEqualTo(201);

      AtomicReference<Map<String, ClusterSpec>> sections = new AtomicReference<>(Map.of());
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                sections.set(members.round());
                return "READY".equals(state(admin, "store1"))
                    && "READY".equals(state(admin, "store2"))
                    && sections.get().size() == 3;
              });
      // The profile's Kubernetes layer reached every member of store1, servers and agents.
      ClusterSpec server = sections.get().get(s1.id());
      ClusterSpec agent = sections.get().get(a1.id());
      assertThat(server.role()).isEqualTo(ClusterSpec.ROLE_SERVER);
      assertThat(agent.role()).isEqualTo("agent");
      assertThat(server.kubernetesVersion()).isEqualTo(V2);
      assertThat(agent.kubernetesVersion()).isEqualTo(V2);
      assertThat(server.config()).containsEntry("disable", List.of("traefik"));
      // store2 matches no profile: its own version, no profile configuration.
      ClusterSpec other = sections.get().get(s2.id());
      assertThat(other.kubernetesVersion()).isEqualTo(V1);
      assertThat(other.config()).doesNotContainKey("disable");

      // The members carry the profile tag; the other cluster's do not.
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  "edge".equals(tags(admin, s1).path(PROFILE_TAG).asText())
                      && "edge".equals(tags(admin, a1).path(PROFILE_TAG).asText()));
      assertThat(tags(admin, s2).path(PROFILE_TAG).isMissingNode()).isTrue();

      // The views: the cluster follows edge and should run edge@1; the profile lists store1 only.
      JsonNode view = admin.get("/api/v1/clusters/store1").body();
      assertThat(view.path("profile").asText("")).as(view.toString()).isEmpty();
      assertThat(view.path("profileVersions").path("wanted").asText()).isEqualTo("edge@1");
      assertThat(view.path("kubernetes").path("wanted").asText()).isEqualTo(V2);
      JsonNode list = admin.get("/api/v1/clusters").body().path("items");
      Map<String, String> profiles = new LinkedHashMap<>();
      list.forEach(c -> profiles.put(c.path("name").asText(), c.path("profile").asText("")));
      assertThat(profiles).containsEntry("store1", "edge").containsEntry("store2", "");
      JsonNode profile = admin.get("/api/v1/profiles/edge").body();
      assertThat(profile.path("clusters").toString()).isEqualTo("[\"store1\"]");
      assertThat(profile.path("clusterVersions").get(0).path("wanted").asText())
          .isEqualTo("edge@1");

      // Version 2 changes the app; the diff for store1 renders its manifests, nothing restarts.
      AdminClient.Answer published =
          admin.post("/api/v1/profiles/edge/versions", Map.of("layers", layers("1.1.0")));
      assertThat(published.status()).as(published.body().toString()).isEqualTo(201);
      AdminClient.Answer diff = admin.get("/api/v1/profiles/edge/diff?from=1&to=2&cluster=store1");
      assertThat(diff.status()).as(diff.body().toString()).isEqualTo(200);
      assertThat(diff.body().path("cluster").asText()).isEqualTo("store1");
      assertThat(diff.body().path("nodesRestart").asBoolean()).isFalse();
      List<String> lines = new ArrayList<>();
      diff.body().path("manifest").forEach(l -> lines.add(l.asText()));
      assertThat(lines).contains("-  a: \"b\"", "+  a: \"c\"", "--- edge@1 (store1)");
      assertThat(admin.get("/api/v1/profiles/edge/diff?from=1&to=2&cluster=nowhere").status())
          .isEqualTo(404);

      // A cluster pinned to edge@1 by name keeps it; its members still carry the profile tag.
      AdminClient.Answer pinned =
          admin.patch("/api/v1/clusters/store2", Map.of("profile", "edge@1"));
      assertThat(pinned.status()).as(pinned.body().toString()).isEqualTo(200);
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                ClusterSpec s = members.round().get(s2.id());
                return s != null && V2.equals(s.kubernetesVersion());
              });
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> "edge".equals(tags(admin, s2).path(PROFILE_TAG).asText()));
      assertThat(
              admin
                  .get("/api/v1/clusters/store2")
                  .body()
                  .path("profileVersions")
                  .path("wanted")
                  .asText())
          .isEqualTo("edge@1");
    }
  }

  /** The controller's configuration (its state in SQLite here). */
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir);
  }

  private static List<Map<String, Object>> layers(String webVersion) {
    Map<String, Object> k3s = new LinkedHashMap<>();
    k3s.put("name", "k3s");
    k3s.put("kind", "kubernetes");
    k3s.put("kubernetesVersion", V2);
    k3s.put("config", Map.of("disable", List.of("traefik")));
    Map<String, Object> web = new LinkedHashMap<>();
    web.put("name", "web");
    web.put("kind", "app");
    web.put("app", "web");
    web.put("version", webVersion);
    return List.of(k3s, web);
  }

  private static String state(AdminClient admin, String cluster) {
    return admin.get("/api/v1/clusters/" + cluster).body().path("state").asText();
  }

  private static JsonNode tags(AdminClient admin, ClusterMembers.Device d) {
    return admin.get("/api/v1/devices/" + d.id()).body().path("tags");
  }
}
