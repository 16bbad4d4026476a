package io.edgefleet.e2e.access;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.AdminClient.Answer;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user of project "stores-eu" sees nothing outside it, anywhere: every GET route of the served
 * route table is walked, lists show none of another project's devices and objects, and a get of one
 * answers 404 exactly as for one that does not exist; events, the live stream and the fleet summary
 * are filtered; what the user creates belongs to the project and reaches only its devices.
 */
class ProjectsEverywhereIT {
  @TempDir Path dir;

  /**
   * GET routes about objects that are not a project's: the catalog, artifacts and agent releases
   * are the fleet's shared library (decision 0036). Every other GET route with a parameter must be
   * in {@link #outside}, so a new route cannot skip the check.
   */
  private static final List<String> SHARED =
      List.of(
          "/api/v1/catalog/apps/{name}",
          "/api/v1/catalog/apps/{name}/versions/{version}",
          "/api/v1/artifacts/{digest}",
          "/api/v1/agent-releases/{version}");

  /** The controller's configuration: SQLite here, PostgreSQL in {@link PostgresProjectsIT}. */
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir);
  }

  @Test
  void aProjectUserSeesNothingOutsideItsProjectOnAnyRoute() throws Exception {
    try (TestController c = TestController.start(config(dir.resolve("controller")));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = c.admin();
      String eu = enroll(c, agents, "eu-1", "eu");
      String us = enroll(c, agents, "us-1", "us");

      created(admin.post("/api/v1/projects", Map.of("name", "stores-eu", "selector", "region=eu")));
      created(
          admin.post("/api/v1/projects", Map.of("name", "outside-us", "selector", "region=us")));
      created(
          admin.post(
              "/api/v1/roles",
              Map.of("name", "enroller", "permissions", List.of("onboarding:write"))));
      String lenaToken = user(admin, "lena", Map.of("stores-eu", List.of("operator", "enroller")));
      user(admin, "outside-bob", Map.of("outside-us", List.of("operator")));
      String miaToken =
          user(
              admin,
              "mia",
              Map.of("stores-eu", List.of("operator"), "outside-us", List.of("viewer")));
      pushChart(admin, "shop");

      // The administrator creates objects in the other project, and a profile: profiles are
      // fleet-wide (they apply to the project's clusters too, so their names are no secret), but
      // a project user neither lists nor gets them.
      Answer outsideWeb =
          created(
              admin.post(
                  "/api/v1/deployments?project=outside-us",
                  Map.of(
                      "name",
                      "outside-web",
                      "app",
                      "shop",
                      "version",
                      "1.0.0",
                      "target",
                      "*",
                      "force",
                      true)));
      assertThat(outsideWeb.body().path("project").asText()).isEqualTo("outside-us");
      assertThat(outsideWeb.body().path("target").asText()).isEqualTo("region=us");
      created(
          admin.post(
              "/api/v1/alerts/rules?project=outside-us",
              Map.of("name", "outside-offline", "type", "device-offline", "for", "10m")));
      created(
          admin.post(
              "/api/v1/clusters?project=outside-us",
              Map.of("name", "outside-k3s", "selector", "k3s=yes", "servers", Map.of("min", 1))));
      // Download policies belong to the fleet's operators, like secrets: hidden from project users.
      created(
          admin.put(
              "/api/v1/download-policies/outside-policy",
              Map.of("selector", "region=us", "bytesPerDay", 1L << 20)));
      created(
          admin.post(
              "/api/v1/repos?project=outside-us",
              Map.of(
                  "name",
                  "outside-repo",
                  "url",
                  "https://127.0.0.1:1/outside.git",
                  "target",
                  "*",
                  "force",
                  true)));
      created(admin.post("/api/v1/profiles", Map.of("name", "fleet-profile", "selector", "*")));
      String rollout =
          admin
              .get("/api/v1/deployments/outside-web")
              .body()
              .path("latestRollout")
              .path("id")
              .asText();
      assertThat(rollout).isNotEmpty();
      String usToken = null;
      for (JsonNode t : admin.get("/api/v1/onboarding-tokens").body().path("items")) {
        if (t.path("tags").path("region").asText().equals("us")) {
          usToken = t.path("id").asText();
        }
      }
      assertThat(usToken).isNotNull();
      String session = outsideSession(admin, us);
      // Events about both devices.
      ok(admin.patch("/api/v1/devices/" + us + "/tags", Map.of("set", Map.of("shelf", "9"))));
      ok(admin.patch("/api/v1/devices/" + eu + "/tags", Map.of("set", Map.of("shelf", "1"))));

      try (AdminClient lena = new AdminClient(c.url(), lenaToken, c.caFingerprint());
          AdminClient mia = new AdminClient(c.url(), miaToken, c.caFingerprint())) {
        // What lena creates belongs to her only project and reaches only its devices.
        Answer euWeb =
            created(
                lena.post(
                    "/api/v1/deployments",
                    Map.of(
                        "name", "eu-web", "app", "shop", "version", "1.0.0", "target", "shelf=1",
                        "force", true)));
        assertThat(euWeb.body().path("project").asText()).isEqualTo("stores-eu");
        assertThat(euWeb.body().path("target").asText()).isEqualTo("region=eu,shelf=1");
        Answer rule =
            created(
                lena.post(
                    "/api/v1/alerts/rules",
                    Map.of("name", "eu-offline", "type", "device-offline", "for", "10m")));
        assertThat(rule.body().path("project").asText()).isEqualTo("stores-eu");
        assertThat(rule.body().path("selector").asText()).isEqualTo("region=eu");
        Answer cluster =
            created(
                lena.post(
                    "/api/v1/clusters",
                    Map.of("name", "eu-k3s", "selector", "k3s=yes", "servers", Map.of("min", 1))));
        assertThat(cluster.body().path("project").asText()).isEqualTo("stores-eu");
        assertThat(cluster.body().path("selector").asText()).isEqualTo("k3s=yes,region=eu");
        assertThat(names(lena.get("/api/v1/deployments"), "name")).containsExactly("eu-web");
        assertThat(names(lena.get("/api/v1/clusters"), "name")).containsExactly("eu-k3s");
        assertThat(names(lena.get("/api/v1/alerts/rules"), "name")).containsExactly("eu-offline");
        // Another project's name is not hers to create in.
        Answer elsewhere =
            lena.post(
                "/api/v1/alerts/rules?project=outside-us",
                Map.of("name", "sneaky", "type", "device-offline", "for", "10m"));
        assertThat(elsewhere.status()).isEqualTo(404);
        Answer farTags =
            lena.post("/api/v1/onboarding-tokens", Map.of("tags", Map.of("region", "us")));
        assertThat(farTags.code()).isEqualTo("VALIDATION_FAILED");
        assertThat(farTags.body().path("message").asText()).contains("outside your projects");
        created(lena.post("/api/v1/onboarding-tokens", Map.of("tags", Map.of("region", "eu"))));

        // A role counts in its own project only: mia operates stores-eu and views outside-us, so
        // what she creates lands in stores-eu, the only project where she may create it, and she
        // changes nothing in outside-us (its devices refuse her, its objects are as missing).
        Answer unnamed =
            created(
                mia.post(
                    "/api/v1/alerts/rules",
                    Map.of("name", "mia-offline", "type", "device-offline", "for", "10m")));
        assertThat(unnamed.body().path("project").asText()).isEqualTo("stores-eu");
        Answer miaElsewhere =
            mia.post(
                "/api/v1/alerts/rules?project=outside-us",
                Map.of("name", "mia-us", "type", "device-offline", "for", "10m"));
        assertThat(miaElsewhere.status()).isEqualTo(404);
        assertThat(miaElsewhere.body().path("message").asText()).contains("among your projects");
        assertThat(mia.get("/api/v1/devices/" + us).status()).isEqualTo(200);
        Answer notHers =
            mia.patch("/api/v1/devices/" + us + "/tags", Map.of("set", Map.of("shelf", "2")));
        assertThat(notHers.code()).isEqualTo("PERMISSION_DENIED");
        assertThat(notHers.body().path("message").asText())
            .contains("devices:write")
            .contains("within a project counts on that project's devices only");
        assertThat(admin.get("/api/v1/devices/" + us).body().path("tags").path("shelf").asText())
            .isEqualTo("9");
        assertThat(mia.get("/api/v1/deployments/outside-web").status()).isEqualTo(200);
        assertThat(mia.delete("/api/v1/deployments/outside-web").status()).isEqualTo(404);

        // Someone who may create in two projects names the one a new object belongs to.
        String maxToken =
            user(
                admin,
                "max",
                Map.of("stores-eu", List.of("operator"), "outside-us", List.of("operator")));
        try (AdminClient max = new AdminClient(c.url(), maxToken, c.caFingerprint())) {
          Answer unnamedByMax =
              max.post(
                  "/api/v1/alerts/rules",
                  Map.of("name", "max-offline", "type", "device-offline", "for", "10m"));
          assertThat(unnamedByMax.code()).isEqualTo("PROJECT_REQUIRED");
          assertThat(unnamedByMax.body().path("message").asText())
              .contains("outside-us, stores-eu")
              .contains("?project=");
        }

        // The administrator sees all, and narrows to one project with ?project=.
        assertThat(names(admin.get("/api/v1/deployments"), "name"))
            .containsExactlyInAnyOrder("eu-web", "outside-web");
        assertThat(names(admin.get("/api/v1/deployments?project=stores-eu"), "name"))
            .containsExactly("eu-web");
        assertThat(names(admin.get("/api/v1/devices?project=outside-us"), "id"))
            .containsExactly(us);

        // Events: only her devices'; another project's device is unknown. The event log shows
        // what settled (EventLog.SETTLE), so wait until the other device's events are listed.
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> admin.get("/api/v1/events").body().toString().contains(us));
        JsonNode events = lena.get("/api/v1/events").body().path("items");
        assertThat(events).isNotEmpty();
        events.forEach(e -> assertThat(e.path("deviceId").asText()).isEqualTo(eu));
        assertThat(lena.get("/api/v1/events?device=" + us).status()).isEqualTo(404);
        // The fleet summary counts her devices only.
        assertThat(lena.get("/api/v1/fleet/summary").body().path("total").asInt()).isEqualTo(1);
        assertThat(admin.get("/api/v1/fleet/summary").body().path("total").asInt()).isEqualTo(2);
        assertThat(lena.get("/api/v1/profiles").body().path("items")).isEmpty();
        assertThat(admin.get("/api/v1/profiles").body().path("items")).isNotEmpty();
        // The Prometheus exposition counts the whole fleet: not hers.
        assertThat(lena.get("/metrics").code()).isEqualTo("PERMISSION_DENIED");

        streamShowsOnlyHerDevices(admin, lena, eu, us);

        // Walk every GET route of the served route table.
        List<String> markers = List.of(us, "outside-", usToken, rollout);
        Map<String, String> outside = outside(us, rollout, session);
        JsonNode paths = admin.get("/api/v1/openapi.json").body().path("paths");
        List<String> lists = new ArrayList<>();
        List<String> gets = new ArrayList<>();
        List<String> adminSaw = new ArrayList<>();
        paths
            .fields()
            .forEachRemaining(
                p -> {
                  String path = p.getKey();
                  if (!p.getValue().has("get")
                      || !(path.startsWith("/api/") || path.equals("/metrics"))
                      || path.equals("/api/v1/stream")) {
                    return;
                  }
                  if (!path.contains("{")) {
                    Answer mine = lena.get(path);
                    assertThat(mine.body().toString())
                        .as("GET " + path + " as a user of stores-eu")
                        .doesNotContain(markers);
                    if (markers.stream()
                        .anyMatch(m -> admin.get(path).body().toString().contains(m))) {
                      adminSaw.add(path);
                    }
                    lists.add(path);
                    return;
                  }
                  if (SHARED.contains(path)) {
                    return;
                  }
                  String hiddenPath = substitute(path, outside);
                  assertThat(hiddenPath)
                      .as(path + " needs an outside object in this test, or a place in SHARED")
                      .isNotNull();
                  Answer hidden = lena.get(hiddenPath);
                  Answer missing = lena.get(substitute(path, nothing()));
                  // Outside objects answer exactly as missing ones: 404, or the same refusal
                  // when her roles lack the route's permission altogether.
                  assertThat(hidden.status()).as("GET " + hiddenPath).isEqualTo(missing.status());
                  assertThat(hidden.code()).as("GET " + hiddenPath).isEqualTo(missing.code());
                  if (hidden.status() != 404) {
                    assertThat(hidden.code())
                        .as("GET " + hiddenPath)
                        .isEqualTo("PERMISSION_DENIED");
                  }
                  gets.add(path);
                });
        assertThat(lists).hasSizeGreaterThan(25);
        assertThat(gets).hasSizeGreaterThan(20);
        // The walk is not vacuous: the administrator does see the other project in these lists.
        assertThat(adminSaw)
            .contains(
                "/api/v1/devices",
                "/api/v1/events",
                "/api/v1/deployments",
                "/api/v1/repos",
                "/api/v1/alerts/rules",
                "/api/v1/clusters",
                "/api/v1/rollouts",
                "/api/v1/projects",
                "/api/v1/users",
                "/api/v1/onboarding-tokens");
        for (String one :
            List.of(
                "/api/v1/devices/" + us,
                "/api/v1/deployments/outside-web",
                "/api/v1/rollouts/" + rollout,
                "/api/v1/repos/outside-repo",
                "/api/v1/alerts/rules/outside-offline",
                "/api/v1/clusters/outside-k3s",
                "/api/v1/profiles/fleet-profile",
                "/api/v1/users/outside-bob",
                "/api/v1/projects/outside-us")) {
          assertThat(admin.get(one).status())
              .as("GET " + one + " as the administrator")
              .isEqualTo(200);
        }
        // Nothing tells another project's object from a missing one, by message either.
        assertThat(lena.get("/api/v1/deployments/outside-web").body().path("message").asText())
            .isEqualTo(
                lena.get("/api/v1/deployments/no-such")
                    .body()
                    .path("message")
                    .asText()
                    .replace("no-such", "outside-web"));
        // And a change to another project's object is answered the same way, changing nothing.
        assertThat(lena.delete("/api/v1/deployments/outside-web").status()).isEqualTo(404);
        assertThat(lena.delete("/api/v1/alerts/rules/outside-offline").status()).isEqualTo(404);
        assertThat(lena.delete("/api/v1/clusters/outside-k3s").status()).isEqualTo(404);
        assertThat(lena.post("/api/v1/rollouts/" + rollout + "/pause", Map.of()).status())
            .isEqualTo(404);
        assertThat(admin.get("/api/v1/deployments/outside-web").status()).isEqualTo(200);
        assertThat(admin.get("/api/v1/clusters/outside-k3s").status()).isEqualTo(200);
      }
    }
  }

  /** Lena's live stream carries her device's changes and never the other project's. */
  private static void streamShowsOnlyHerDevices(
      AdminClient admin, AdminClient lena, String eu, String us) throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    try (InputStream in = lena.stream("/api/v1/stream?topics=devices,events,summary,rollouts")) {
      Thread reader =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try (BufferedReader r =
                        new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                      for (String line; (line = r.readLine()) != null; ) {
                        lines.add(line);
                      }
                    } catch (java.io.IOException e) {
                      // closed at the end of the test
                    }
                  });
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> lines.stream().anyMatch(l -> l.startsWith("event: hello")));
      ok(admin.patch("/api/v1/devices/" + us + "/tags", Map.of("set", Map.of("aisle", "3"))));
      ok(admin.patch("/api/v1/devices/" + eu + "/tags", Map.of("set", Map.of("aisle", "4"))));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  lines.stream()
                      .anyMatch(
                          l ->
                              l.startsWith("data: ")
                                  && l.contains(eu)
                                  && l.contains("\"aisle\":\"4\"")));
      // Events and devices are her device's only; the summary counts her device only.
      assertThat(lines).noneMatch(l -> l.contains(us));
      assertThat(lines).anyMatch(l -> l.equals("event: device"));
      int summary = lines.indexOf("event: summary");
      assertThat(summary).as("the summary comes first").isNotNegative();
      assertThat(lines.get(summary + 1)).startsWith("data: ").contains("\"total\":1,");
      assertThat(lines).noneMatch(l -> l.equals("event: rollout"));
      reader.interrupt();
    }
  }

  /** Each GET route's parameters filled with an object outside stores-eu. */
  private static Map<String, String> outside(String us, String rollout, String session) {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("/api/v1/devices/{id}", us);
    o.put("/api/v1/repos/{name}", "outside-repo");
    o.put("{sha}", "0123456789abcdef0123456789abcdef01234567");
    o.put("/api/v1/apps/{name}", "outside-web");
    o.put("/api/v1/deployments/{name}", "outside-web");
    o.put("/api/v1/profiles/{name}", "fleet-profile");
    o.put("{version}", "1");
    o.put("/api/v1/rollouts/{id}", rollout);
    o.put("/api/v1/users/{name}", "outside-bob");
    o.put("/api/v1/projects/{name}", "outside-us");
    o.put("/api/v1/alerts/rules/{id}", "outside-offline");
    o.put("/api/v1/alerts/receivers/{id}", "outside-hook");
    o.put("/api/v1/secrets/{name}", "outside-secret");
    o.put("/api/v1/download-policies/{name}", "outside-policy");
    o.put("/api/v1/clusters/{name}", "outside-k3s");
    o.put("/api/v1/sessions/{id}", session);
    return o;
  }

  /** The same parameters naming nothing that exists. */
  private static Map<String, String> nothing() {
    Map<String, String> o = new LinkedHashMap<>();
    outside("x", "x", "x").keySet().forEach(k -> o.put(k, k.startsWith("{") ? "1" : "no-such"));
    return o;
  }

  /**
   * The path with its first parameter (by the longest matching prefix) and any further ones ({@code
   * {sha}}, {@code {version}}) filled in; null when the route has no entry.
   */
  /**
   * A tunnel session on the other project's device: the administrator port-forwards to a socket the
   * test listens on (the agent runs on this machine), sends a byte and ends the session.
   */
  private static String outsideSession(AdminClient admin, String device) throws Exception {
    try (java.net.ServerSocket target =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      java.net.http.WebSocket ws =
          admin.webSocket(
              "/api/v1/devices/" + device + "/port-forward?port=" + target.getLocalPort(),
              new java.net.http.WebSocket.Listener() {});
      try (java.net.Socket accepted = target.accept()) {
        ws.sendBinary(java.nio.ByteBuffer.wrap(new byte[] {42}), true).join();
        assertThat(accepted.getInputStream().read()).isEqualTo(42);
      }
      ws.sendClose(java.net.http.WebSocket.NORMAL_CLOSURE, "done").join();
    }
    JsonNode sessions = admin.get("/api/v1/sessions?device=" + device).body().path("items");
    assertThat(sessions).hasSize(1);
    return sessions.get(0).path("id").asText();
  }

  private static String substitute(String path, Map<String, String> values) {
    String out = null;
    for (var e : values.entrySet()) {
      if (e.getKey().startsWith("/") && path.startsWith(e.getKey())) {
        String param = e.getKey().substring(e.getKey().lastIndexOf('/'));
        out = path.replace(param, "/" + e.getValue());
      }
    }
    if (out == null) {
      return null;
    }
    for (var e : values.entrySet()) {
      if (e.getKey().startsWith("{")) {
        out = out.replace(e.getKey(), e.getValue());
      }
    }
    return out.contains("{") ? null : out;
  }

  private static Answer created(Answer a) {
    assertThat(a.status()).as(a.body().toString()).isEqualTo(201);
    return a;
  }

  private static Answer ok(Answer a) {
    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
    return a;
  }

  private static List<String> names(Answer list, String field) {
    List<String> out = new ArrayList<>();
    list.body().path("items").forEach(d -> out.add(d.path(field).asText()));
    return out;
  }

  /** Creates a user with roles in projects and returns a token of theirs. */
  private static String user(AdminClient admin, String name, Map<String, List<String>> roles) {
    created(admin.post("/api/v1/users", Map.of("name", name, "roles", List.of())));
    for (var r : new java.util.TreeMap<>(roles).entrySet()) {
      ok(
          admin.put(
              "/api/v1/users/" + name + "/roles",
              Map.of("roles", r.getValue(), "project", r.getKey())));
    }
    return created(admin.post("/api/v1/tokens", Map.of("name", "t", "user", name)))
        .body()
        .path("secret")
        .asText();
  }

  /** A chart of one ConfigMap, pushed to the catalog as version 1.0.0. */
  private void pushChart(AdminClient admin, String app) throws Exception {
    Path chart = dir.resolve("chart").resolve(app);
    Files.createDirectories(chart.resolve("templates"));
    Files.writeString(
        chart.resolve("Chart.yaml"), "apiVersion: v2\nname: " + app + "\nversion: 1.0.0\n");
    Files.writeString(chart.resolve("values.yaml"), "greeting: hello\n");
    Files.writeString(
        chart.resolve("templates/config.yaml"),
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: shop
          namespace: default
        data:
          greeting: {{ .Values.greeting }}
        """);
    Path archive = dir.resolve(app + ".tgz");
    Process tar =
        new ProcessBuilder(
                "tar", "-czf", archive.toString(), "-C", chart.getParent().toString(), app)
            .redirectErrorStream(true)
            .start();
    assertThat(tar.waitFor()).as(new String(tar.getInputStream().readAllBytes())).isZero();
    created(
        admin.post(
            "/api/v1/catalog/apps/" + app + "/versions",
            Map.of(
                "version",
                "1.0.0",
                "kind",
                "chart",
                "archive",
                Base64.getEncoder().encodeToString(Files.readAllBytes(archive)))));
  }

  private static String enroll(TestController c, TestAgents agents, String name, String region) {
    String token = c.token(Map.of("region", region), null, false);
    Path bootstrap = agents.bootstrap(name, c.url(), c.caFingerprint(), token);
    Agent agent = agents.start(agents.options(name, bootstrap));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    return agent.status().deviceId().orElseThrow();
  }
}
