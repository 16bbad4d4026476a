package io.edgefleet.e2e.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.IdentityStore;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.SealedBox;
import io.edgefleet.protocol.tls.SoftwareKeyAgreement;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secrets over the real HTTPS API and the device routes with mutual TLS: metadata only through the
 * API, nothing in the clear at rest, master key rotation, delivery sealed to each targeted device
 * only, refused to decommissioned devices and where the delivery policy says no.
 */
class SecretsIT {
  private static final String PASSWORD = "correct-horse-battery-staple-7f3a";
  private static final String CERT = "-----BEGIN FAKE-----\u0001\u0002binary-ish-cert-bytes";

  @TempDir Path dir;

  private final Set<String> quarantined = ConcurrentHashMap.newKeySet();

  private static Map<String, Object> secret(String name, String target, String password) {
    return Map.of(
        "name",
        name,
        "stringData",
        Map.of("password", password),
        "data",
        Map.of(
            "tls.crt", Base64.getEncoder().encodeToString(CERT.getBytes(StandardCharsets.UTF_8))),
        "target",
        target,
        "namespace",
        "shop");
  }

  @Test
  void secretsAreKeptSealedAndReachOnlyTheirDevices() throws Exception {
    Path data = dir.resolve("controller");
    try (TestController controller =
            TestController.start(
                TestController.config(data),
                id ->
                    quarantined.contains(id)
                        ? Optional.of("it is quarantined")
                        : Optional.empty());
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = controller.admin();
      Device a = enroll(controller, agents, "a", "store-1");
      Device b = enroll(controller, agents, "b", "store-2");

      // Create: metadata back, never a value.
      AdminClient.Answer created =
          admin.post("/api/v1/secrets", secret("db", "site=store-1", PASSWORD));
      assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
      assertThat(created.body().path("version").asLong()).isEqualTo(1);
      assertThat(created.body().path("namespace").asText()).isEqualTo("shop");
      assertThat(created.body().path("matchedDevices").asInt()).isEqualTo(1);
      assertThat(created.body().path("keys").toString()).isEqualTo("[\"password\",\"tls.crt\"]");
      for (AdminClient.Answer read :
          List.of(created, admin.get("/api/v1/secrets"), admin.get("/api/v1/secrets/db"))) {
        assertThat(read.status()).isEqualTo(200 + (read == created ? 1 : 0));
        assertThat(read.body().toString()).doesNotContain(PASSWORD).doesNotContain(b64(PASSWORD));
      }
      assertThat(admin.get("/api/v1/secrets").body().path("items")).hasSize(1);

      // Refused input, each with its code.
      assertThat(admin.post("/api/v1/secrets", secret("db", "*", "x")).code())
          .isEqualTo("SECRET_EXISTS");
      assertThat(admin.post("/api/v1/secrets", secret("Bad_Name", "*", "x")).code())
          .isEqualTo("VALIDATION_FAILED");
      assertThat(admin.post("/api/v1/secrets", secret("big", "*", "x".repeat(70 * 1024))).code())
          .isEqualTo("SECRET_TOO_LARGE");
      assertThat(admin.post("/api/v1/secrets", secret("t", "site in (", "x")).code())
          .isEqualTo("VALIDATION_FAILED");
      assertThat(admin.get("/api/v1/secrets/missing").status()).isEqualTo(404);

      // Device a's document references it; b's does not.
      DesiredState.SecretRef ref = new DesiredState.SecretRef("db", 1, "shop");
      await().atMost(Duration.ofSeconds(20)).until(() -> desired(a).secrets().contains(ref));
      assertThat(desired(b).secrets()).isEmpty();

      // a opens it with its own key; b is refused it.
      assertThat(fetch(a, "db", 1))
          .containsEntry("password", PASSWORD)
          .containsEntry("tls.crt", CERT);
      assertThat(a.http.get(DeviceApi.SECRETS + "db?version=1").body().toString())
          .doesNotContain(PASSWORD);
      assertThat(b.http.get(DeviceApi.SECRETS + "db?version=1").code())
          .isEqualTo("SECRET_NOT_TARGETED");
      // a's box is a's only: b's key cannot open it, nor can it be taken for another secret.
      byte[] sealed = sealed(a, "db", 1);
      assertThat(opens(b, sealed, SealedBox.secretAad(a.id, "db", 1))).isFalse();
      assertThat(opens(a, sealed, SealedBox.secretAad(a.id, "db", 2))).isFalse();
      assertThat(a.http.get(DeviceApi.SECRETS + "db").code()).isEqualTo("VALIDATION_FAILED");

      // Nothing in the clear at rest: the database files hold neither the value nor its base64.
      assertNoPlaintext(data, PASSWORD);

      // Update: a new version, a's generation moves, the old version is gone.
      long before = desired(a).generation();
      AdminClient.Answer updated =
          admin.put(
              "/api/v1/secrets/db", Map.of("stringData", Map.of("password", "second-" + PASSWORD)));
      assertThat(updated.status()).as(updated.body().toString()).isEqualTo(200);
      assertThat(updated.body().path("version").asLong()).isEqualTo(2);
      assertThat(updated.body().path("keys").toString()).isEqualTo("[\"password\"]");
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> desired(a).secrets().contains(new DesiredState.SecretRef("db", 2, "shop")));
      assertThat(desired(a).generation()).isGreaterThan(before);
      assertThat(a.http.get(DeviceApi.SECRETS + "db?version=1").code())
          .isEqualTo("SECRET_VERSION_GONE");
      assertThat(fetch(a, "db", 2)).isEqualTo(Map.of("password", "second-" + PASSWORD));

      // Master key rotation: data keys re-wrapped, the old master key dropped, secrets readable.
      Path ring = data.resolve("secrets").resolve("master.keys");
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ring)))
          .isEqualTo("rw-------");
      String oldKey = Files.readString(ring).strip();
      AdminClient.Answer rotated = admin.post("/api/v1/secrets/master-key/rotate", Map.of());
      assertThat(rotated.status()).as(rotated.body().toString()).isEqualTo(200);
      assertThat(rotated.body().path("rewrapped").asInt()).isEqualTo(1);
      assertThat(rotated.body().path("retired")).hasSize(1);
      assertThat(Files.readString(ring).strip()).isNotEqualTo(oldKey).doesNotContain(oldKey);
      assertThat(fetch(a, "db", 2)).isEqualTo(Map.of("password", "second-" + PASSWORD));

      // A device whose tags now match is given the secret too.
      AdminClient.Answer tagged =
          admin.patch(
              "/api/v1/devices/" + b.id + "/tags",
              Map.of("set", Map.of("site", "store-1"), "remove", List.of()));
      assertThat(tagged.status()).as(tagged.body().toString()).isEqualTo(200);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> desired(b).secrets().contains(new DesiredState.SecretRef("db", 2, "shop")));
      assertThat(fetch(b, "db", 2)).containsEntry("password", "second-" + PASSWORD);

      // The delivery policy (quarantine) refuses a device.
      quarantined.add(b.id);
      assertThat(b.http.get(DeviceApi.SECRETS + "db?version=2").code())
          .isEqualTo("SECRET_DELIVERY_REFUSED");
      assertThat(b.http.get(DeviceApi.SECRETS + "db?version=2").body().path("message").asText())
          .contains("quarantined");
      quarantined.remove(b.id);
      assertThat(fetch(b, "db", 2)).containsKey("password");

      // Decommissioned: a secret created afterwards, targeting every device, never reaches a.
      assertThat(admin.post("/api/v1/devices/" + a.id + "/decommission", Map.of()).status())
          .isEqualTo(200);
      assertThat(admin.post("/api/v1/secrets", secret("later", "*", "late-" + PASSWORD)).status())
          .isEqualTo(201);
      assertThat(a.http.get(DeviceApi.SECRETS + "later?version=1").code())
          .isEqualTo("DEVICE_DECOMMISSIONED");
      assertThat(fetch(b, "later", 1)).containsEntry("password", "late-" + PASSWORD);

      // Delete: gone from the API and from b's document; audited, without values.
      assertThat(admin.delete("/api/v1/secrets/db").status()).isEqualTo(204);
      assertThat(admin.get("/api/v1/secrets/db").status()).isEqualTo(404);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> desired(b).secrets().stream().noneMatch(r -> r.name().equals("db")));
      String audit = admin.get("/api/v1/audit?limit=100").body().toString();
      assertThat(audit)
          .contains("secret.create")
          .contains("secret.update")
          .contains("secret.delete")
          .contains("secret.master-key.rotate")
          .doesNotContain(PASSWORD);
      assertNoPlaintext(data, PASSWORD);
    }
  }

  @Test
  void onPostgresqlTheRowsHoldNoValueAndSecretsSurviveARestartAndARotation() throws Exception {
    String url = io.edgefleet.testkit.Postgres.newDatabase();
    var config = TestController.config(dir.resolve("controller")).withDatabase(url, null, null);
    try (TestAgents agents = new TestAgents(dir)) {
      Device a;
      try (TestController controller = TestController.start(config)) {
        AdminClient admin = controller.admin();
        assertThat(admin.get("/api/v1/info").body().path("database").asText())
            .isEqualTo("postgresql");
        a = enroll(controller, agents, "pg", "store-1");
        assertThat(admin.post("/api/v1/secrets", secret("db", "site=store-1", PASSWORD)).status())
            .isEqualTo(201);
        assertThat(
                admin
                    .put(
                        "/api/v1/secrets/db",
                        Map.of("stringData", Map.of("password", "2-" + PASSWORD)))
                    .status())
            .isEqualTo(200);
        assertThat(admin.post("/api/v1/secrets/master-key/rotate", Map.of()).status())
            .isEqualTo(200);
        a.http.close();
      }
      // Every column of every row, as text: no value, in the clear or base64.
      try (java.sql.Connection c = java.sql.DriverManager.getConnection(url);
          java.sql.ResultSet rs = c.createStatement().executeQuery("SELECT * FROM secrets")) {
        int rows = 0;
        while (rs.next()) {
          rows++;
          for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
            String v = String.valueOf(rs.getString(i));
            for (String value : List.of(PASSWORD, "2-" + PASSWORD)) {
              assertThat(v).doesNotContain(value).doesNotContain(b64(value));
            }
          }
        }
        assertThat(rows).isEqualTo(1);
      }
      // A restarted controller reads the master key file again: the secret opens.
      try (TestController controller = TestController.start(config)) {
        Device again =
            new Device(a.agent, a.id, a.stateDir, new DeviceHttp(controller.url(), a.stateDir));
        assertThat(fetch(again, "db", 2)).containsEntry("password", "2-" + PASSWORD);
        again.http.close();
      }
    }
  }

  /** An enrolled device: its agent, its id and its own mutual-TLS client. */
  private record Device(Agent agent, String id, Path stateDir, DeviceHttp http) {}

  private Device enroll(TestController controller, TestAgents agents, String name, String site) {
    String token = controller.token(Map.of("site", site), null, false);
    Path bootstrap = agents.bootstrap(name, controller.url(), controller.caFingerprint(), token);
    AgentOptions options = agents.options(name, bootstrap);
    Agent agent = agents.start(options);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    return new Device(
        agent,
        agent.status().deviceId().orElseThrow(),
        options.stateDir(),
        new DeviceHttp(controller.url(), options.stateDir()));
  }

  private static DesiredState desired(Device d) throws IOException {
    DeviceHttp.Answer a = d.http.get(DeviceApi.DESIRED + "?known=0");
    if (a.status() == 204) {
      return new DesiredState(d.id, 0, null, List.of());
    }
    byte[] payload = Base64.getDecoder().decode(a.body().path("payload").asText());
    return Json.mapper().readValue(payload, DesiredState.class);
  }

  private static byte[] sealed(Device d, String name, long version) {
    DeviceHttp.Answer a = d.http.get(DeviceApi.SECRETS + name + "?version=" + version);
    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
    assertThat(a.body().path("name").asText()).isEqualTo(name);
    assertThat(a.body().path("version").asLong()).isEqualTo(version);
    return Base64.getDecoder().decode(a.body().path("sealed").asText());
  }

  private static Map<String, String> fetch(Device d, String name, long version) throws Exception {
    byte[] plain =
        SealedBox.open(
            agreement(d), sealed(d, name, version), SealedBox.secretAad(d.id, name, version));
    JsonNode values = Json.mapper().readTree(plain);
    Map<String, String> out = new java.util.TreeMap<>();
    values
        .properties()
        .forEach(
            e ->
                out.put(
                    e.getKey(),
                    new String(
                        Base64.getDecoder().decode(e.getValue().asText()),
                        StandardCharsets.UTF_8)));
    return out;
  }

  private static boolean opens(Device d, byte[] sealed, byte[] aad) {
    try {
      SealedBox.open(agreement(d), sealed, aad);
      return true;
    } catch (java.security.GeneralSecurityException e) {
      return false;
    }
  }

  private static SoftwareKeyAgreement agreement(Device d) {
    IdentityStore.Identity id = new IdentityStore(d.stateDir).load().orElseThrow();
    return new SoftwareKeyAgreement(id.key().getPrivate());
  }

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  /** Neither the value nor its base64 is in any file of the controller's data directory. */
  static void assertNoPlaintext(Path data, String value) {
    byte[][] needles = {
      value.getBytes(StandardCharsets.UTF_8), b64(value).getBytes(StandardCharsets.UTF_8)
    };
    try (Stream<Path> files = Files.walk(data)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        byte[] content = Files.readAllBytes(f);
        for (byte[] needle : needles) {
          assertThat(indexOf(content, needle)).as("%s holds a secret value", f).isEqualTo(-1);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
