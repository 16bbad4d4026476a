package io.edgefleet.e2e.access;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.AdminClient.Answer;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A user whose roles are held within a project sees only the project's devices. */
class ProjectsIT {
  @TempDir Path dir;

  @Test
  void aProjectUserGets404ForDevicesOutsideTheProject() {
    try (TestController c = TestController.start(dir.resolve("controller"));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = c.admin();
      String eu = enroll(c, agents, "eu-1", "eu");
      String us = enroll(c, agents, "us-1", "us");

      Answer project =
          admin.post("/api/v1/projects", Map.of("name", "stores-eu", "selector", "region=eu"));
      assertThat(project.status()).as(project.body().toString()).isEqualTo(201);
      assertThat(admin.post("/api/v1/users", Map.of("name", "lena", "roles", List.of())).status())
          .isEqualTo(201);
      Answer bound =
          admin.put(
              "/api/v1/users/lena/roles",
              Map.of("roles", List.of("operator"), "project", "stores-eu"));
      assertThat(bound.status()).as(bound.body().toString()).isEqualTo(200);
      assertThat(bound.body().path("projects").path("stores-eu").get(0).asText())
          .isEqualTo("operator");
      String secret =
          admin
              .post("/api/v1/tokens", Map.of("name", "t", "user", "lena"))
              .body()
              .path("secret")
              .asText();

      try (AdminClient lena = new AdminClient(c.url(), secret, c.caFingerprint())) {
        assertThat(lena.get("/api/v1/devices/" + eu).status()).isEqualTo(200);
        Answer other = lena.get("/api/v1/devices/" + us);
        assertThat(other.status()).isEqualTo(404);
        Answer unknown = lena.get("/api/v1/devices/no-such-device");
        // Nothing tells a device of another project from one that does not exist.
        assertThat(other.body().path("message").asText())
            .isEqualTo(unknown.body().path("message").asText().replace("no-such-device", us));
        assertThat(ids(lena.get("/api/v1/devices?count=true"))).containsExactly(eu);
        assertThat(lena.get("/api/v1/devices?count=true").body().path("total").asInt())
            .isEqualTo(1);
        assertThat(ids(lena.get("/api/v1/devices?selector=region%3Dus"))).isEmpty();
        Answer me = lena.get("/api/v1/whoami");
        assertThat(me.body().path("projects").path("stores-eu").get(0).asText())
            .isEqualTo("operator");
        Answer refused = lena.get("/api/v1/audit");
        assertThat(refused.body().path("message").asText())
            .contains("needs audit:read; your roles within your projects have");
      }
      try (AdminClient lena = new AdminClient(c.url(), secret, c.caFingerprint())) {
        // Every route about one device, from the served route table: another project's device
        // is answered exactly as one that does not exist, and nothing happens to it.
        JsonNode paths = admin.get("/api/v1/openapi.json").body().path("paths");
        List<String> walked = new ArrayList<>();
        paths
            .fields()
            .forEachRemaining(
                p -> {
                  if (!p.getKey().startsWith("/api/v1/devices/{id}")) {
                    return;
                  }
                  p.getValue()
                      .fieldNames()
                      .forEachRemaining(
                          method -> {
                            String m = method.toUpperCase(java.util.Locale.ROOT);
                            byte[] body = m.equals("GET") ? null : "{}".getBytes();
                            String type = body == null ? null : "application/json";
                            Answer hidden =
                                lena.raw(m, p.getKey().replace("{id}", us), body, secret, type);
                            Answer missing =
                                lena.raw(m, p.getKey().replace("{id}", "nope"), body, secret, type);
                            assertThat(hidden.status()).as(m + " " + p.getKey()).isIn(403, 404);
                            assertThat(hidden.code()).isEqualTo(missing.code());
                            walked.add(m + " " + p.getKey());
                          });
                });
        assertThat(walked).hasSizeGreaterThan(8);
      }
      assertThat(admin.get("/api/v1/devices/" + us).body().path("status").asText())
          .isNotEqualTo("DECOMMISSIONED");
      assertThat(ids(admin.get("/api/v1/devices"))).containsExactlyInAnyOrder(eu, us);
      assertThat(admin.delete("/api/v1/projects/stores-eu").code()).isEqualTo("CONFLICT");
    }
  }

  private static List<String> ids(Answer list) {
    List<String> out = new ArrayList<>();
    list.body().path("items").forEach(d -> out.add(d.path("id").asText()));
    return out;
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
