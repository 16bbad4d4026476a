package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands against a real HTTPS server with its own CA, over loopback. */
class CliCommandsIT {
  private static final String API_TOKEN = "efa_test";
  private static final String DEVICE =
      """
      {"id":"d-1","name":"pos-1","serial":"SN1","tags":{"site":"store-17","role":"pos"},
       "status":"ONLINE","statusReason":"heartbeat","lastSeen":"%s","agentVersion":"0.1.0",
       "facts":{"hostname":"pos-1","serial":"SN1","macs":["aa:bb:cc:dd:ee:ff"],"arch":"amd64",
                "cpus":4,"memoryBytes":8000000000,"diskBytes":64000000000,"os":"debian",
                "osVersion":"12","agentVersion":"0.1.0","k3s":true,"kubelet":false},
       "createdAt":"2025-01-01T00:00:00Z","enrolledAt":"2025-01-01T00:01:00Z"}
      """
          .formatted(Instant.now().minus(Duration.ofDays(3)));
  private static final String PENDING =
      """
      {"id":"d-2","serial":"SN2","tags":{},"status":"PENDING","enrollmentCode":"ABCD-1234",
       "createdAt":"2025-01-01T00:00:00Z"}
      """;

  @TempDir Path dir;
  private FakeController controller;

  @BeforeEach
  void start() throws Exception {
    controller = new FakeController();
  }

  @AfterEach
  void stop() {
    controller.close();
  }

  @Test
  void devicesListPrintsAnAlignedTableAndSendsTheBearerToken() {
    controller.answer(
        "GET",
        "/api/v1/devices?status=ONLINE",
        200,
        "{\"items\":[" + DEVICE + "," + PENDING + "]}");

    Cli.Result r = run("devices", "list", "--status", "online");

    assertThat(r.err()).isEmpty();
    assertThat(r.exitCode()).isZero();
    assertThat(r.out().lines())
        .containsExactly(
            "ID   NAME   STATUS   REASON     LAST SEEN  TAGS                    VERSION",
            "d-1  pos-1  ONLINE   heartbeat  3d ago     role=pos,site=store-17  0.1.0",
            "d-2  -      PENDING  -          -          -                       -");
    assertThat(controller.requests())
        .singleElement()
        .satisfies(q -> assertThat(q.authorization()).isEqualTo("Bearer " + API_TOKEN));
  }

  @Test
  void jsonOutputIsTheApiItemsArray() throws Exception {
    controller.answer("GET", "/api/v1/devices", 200, "{\"items\":[" + PENDING + "]}");

    Cli.Result r = run("devices", "list", "-o", "json");

    assertThat(Json.mapper().readTree(r.out()))
        .isEqualTo(Json.mapper().readTree("[" + PENDING + "]"));
  }

  @Test
  void devicesGetShowsFacts() {
    controller.answer("GET", "/api/v1/devices/d-1", 200, DEVICE);

    Cli.Result r = run("devices", "get", "d-1");

    assertThat(r.out())
        .contains("Hostname:")
        .containsPattern("Memory: +7\\.5 GiB")
        .containsPattern("K3s: +yes")
        .containsPattern("Kubelet: +no")
        .containsPattern("MACs: +aa:bb:cc:dd:ee:ff")
        .containsPattern("Last seen: +\\S+Z \\(3d ago\\)");
  }

  @Test
  void apiErrorIsPrintedOnStderrWithItsCodeAndExitsOne() {
    controller.answer(
        "GET",
        "/api/v1/devices/d-9",
        404,
        "{\"code\":\"NOT_FOUND\",\"message\":\"no device d-9\"}");

    Cli.Result r = run("devices", "get", "d-9");

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).isEqualTo("error: no device d-9 (NOT_FOUND)" + System.lineSeparator());
  }

  @Test
  void wrongPinnedFingerprintIsRefusedBeforeAnyRequest() {
    Cli.Result r =
        Cli.run(
            "devices",
            "list",
            "--server",
            controller.url(),
            "--token",
            API_TOKEN,
            "--ca-fingerprint",
            "sha256:" + "0".repeat(64));

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err())
        .startsWith(
            "error: the controller's CA does not match the pinned fingerprint sha256:"
                + "0".repeat(64))
        .contains(controller.caFingerprint());
    assertThat(controller.requests()).isEmpty();
  }

  @Test
  void closedPortSaysTheControllerCannotBeReached() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }

    Cli.Result r =
        Cli.run(
            "devices",
            "list",
            "--server",
            "https://127.0.0.1:" + port,
            "--token",
            API_TOKEN,
            "--ca-fingerprint",
            controller.caFingerprint());

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err())
        .startsWith(
            "error: cannot reach the controller at https://127.0.0.1:"
                + port
                + ": connection refused"
                + System.lineSeparator());
  }

  @Test
  void onboardingCreateSendsTheRequestAndWritesAPrivateBootstrapFile() throws Exception {
    String bootstrap =
        "{\"version\":1,\"controllerUrl\":\"https://127.0.0.1:7443\",\"caFingerprint\":\"sha256:"
            + "a".repeat(64)
            + "\",\"token\":\"efo_secret\"}";
    controller
        .answer("POST", "/api/v1/onboarding-tokens", 201, token("efo_secret"))
        .answer("POST", "/api/v1/onboarding-tokens/bootstrap", 200, bootstrap);
    Path file = dir.resolve("boot.json");

    Cli.Result r =
        run(
            "onboarding",
            "create",
            "--name",
            "stores",
            "--tag",
            "site=store-17",
            "--tag",
            "role=pos",
            "--uses",
            "5",
            "--expires",
            "7d",
            "--require-approval",
            "--bootstrap-out",
            file.toString());

    assertThat(r.err()).isEmpty();
    assertThat(r.exitCode()).isZero();
    assertThat(body(0))
        .isEqualTo(
            json(
                "{\"name\":\"stores\",\"tags\":{\"site\":\"store-17\",\"role\":\"pos\"},"
                    + "\"maxUses\":5,\"expiresIn\":\"7d\",\"requireApproval\":true}"));
    assertThat(body(1)).isEqualTo(json("{\"token\":\"efo_secret\"}"));
    assertThat(json(Files.readString(file))).isEqualTo(json(bootstrap));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-------");
    assertThat(r.out())
        .containsPattern("Token: +efo_secret")
        .containsPattern("Tags: +role=pos,site=store-17")
        .contains("wrote " + file + "; start the agent: edgefleet agent --bootstrap " + file);
  }

  @Test
  void onboardingCreateWithoutFileHintsAtTheBootstrapCommand() {
    controller.answer("POST", "/api/v1/onboarding-tokens", 201, token("efo_x"));

    Cli.Result r = run("onboarding", "create");

    assertThat(body(0)).isEqualTo(json("{\"tags\":{},\"requireApproval\":false}"));
    assertThat(r.out())
        .endsWith(
            "write a bootstrap file: edgefleet onboarding bootstrap --token efo_x"
                + System.lineSeparator());
  }

  @Test
  void bootstrapCommandTakesTheOnboardingTokenAndApiTokenSeparately() throws Exception {
    // An existing world-readable file must not keep its mode when the secret replaces it.
    Path file = dir.resolve("edgefleet-bootstrap.json");
    Files.writeString(file, "old");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    controller.answer(
        "POST",
        "/api/v1/onboarding-tokens/bootstrap",
        200,
        "{\"version\":1,\"controllerUrl\":\"https://c:7443\",\"caFingerprint\":\"sha256:"
            + "b".repeat(64)
            + "\",\"token\":\"efo_1\"}");

    Cli.Result r =
        Cli.run(
            "onboarding",
            "bootstrap",
            "--token",
            "efo_1",
            "--out",
            file.toString(),
            "--api-token",
            API_TOKEN,
            "--server",
            controller.url(),
            "--ca-fingerprint",
            controller.caFingerprint());

    assertThat(r.exitCode()).isZero();
    assertThat(controller.requests().getFirst().authorization()).isEqualTo("Bearer " + API_TOKEN);
    assertThat(body(0)).isEqualTo(json("{\"token\":\"efo_1\"}"));
    assertThat(r.out())
        .isEqualTo(
            "wrote "
                + file
                + "; start the agent: edgefleet agent --bootstrap "
                + file
                + System.lineSeparator());
    assertThat(Files.getPosixFilePermissions(file))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(json(Files.readString(file)).path("token").asText()).isEqualTo("efo_1");
  }

  @Test
  void invalidBootstrapDocumentIsNotWritten() {
    controller.answer(
        "POST",
        "/api/v1/onboarding-tokens/bootstrap",
        200,
        "{\"version\":1,\"controllerUrl\":\"http://c\",\"caFingerprint\":\"x\"}");
    Path file = dir.resolve("b.json");

    Cli.Result r =
        Cli.run(
            "onboarding",
            "bootstrap",
            "--token",
            "efo_1",
            "--out",
            file.toString(),
            "--api-token",
            API_TOKEN,
            "--server",
            controller.url(),
            "--ca-fingerprint",
            controller.caFingerprint());

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err()).contains("invalid bootstrap document").contains("https://");
    assertThat(file).doesNotExist();
  }

  @Test
  void onboardingListShowsUsesExpiryAndState() {
    String expired = Instant.now().minus(Duration.ofHours(2)).toString();
    controller.answer(
        "GET",
        "/api/v1/onboarding-tokens",
        200,
        "{\"items\":[{\"id\":\"t-1\",\"name\":\"a\",\"tags\":{},\"maxUses\":2,\"uses\":2,"
            + "\"requireApproval\":false,\"revoked\":false},"
            + "{\"id\":\"t-2\",\"tags\":{\"site\":\"s\"},\"uses\":0,\"expiresAt\":\""
            + expired
            + "\",\"requireApproval\":true,\"revoked\":false}]}");

    Cli.Result r = run("onboarding", "list");

    assertThat(r.out().lines())
        .containsExactly(
            "ID   NAME  TAGS    USES  EXPIRES  APPROVAL   STATE",
            "t-1  a     -       2/2   never    automatic  used up",
            "t-2  -     site=s  0     2h ago   required   expired");
  }

  @Test
  void revokeDeletesTheToken() {
    controller.answer("DELETE", "/api/v1/onboarding-tokens/t-1", 204, "");

    Cli.Result r = run("onboarding", "revoke", "t-1");

    assertThat(r.exitCode()).isZero();
    assertThat(r.out()).isEqualTo("revoked onboarding token t-1" + System.lineSeparator());
  }

  @Test
  void tagAndUntagPatchTheDeviceTags() {
    controller.answer("PATCH", "/api/v1/devices/d-1/tags", 200, DEVICE);

    assertThat(run("devices", "tag", "d-1", "site=store-17", "role=").exitCode()).isZero();
    assertThat(run("devices", "untag", "d-1", "role", "role", "site").exitCode()).isZero();

    assertThat(body(0))
        .isEqualTo(json("{\"set\":{\"site\":\"store-17\",\"role\":\"\"},\"remove\":[]}"));
    assertThat(body(1)).isEqualTo(json("{\"set\":{},\"remove\":[\"role\",\"site\"]}"));
  }

  @Test
  void approveByEnrollmentCodeShowsTheDevice() {
    controller.answer(
        "POST", "/api/v1/devices/ABCD-1234/approve", 200, PENDING.replace("PENDING", "NEVER_SEEN"));

    Cli.Result r = run("devices", "approve", "ABCD-1234");

    assertThat(r.exitCode()).isZero();
    assertThat(r.out().lines()).hasSize(2).last().asString().startsWith("d-2  -     NEVER_SEEN");
  }

  @Test
  void preregisterSendsSerialAndTags() {
    controller.answer(
        "POST",
        "/api/v1/preregistrations",
        201,
        "{\"serial\":\"SN 9\",\"tags\":{\"site\":\"s\"},\"requireApproval\":false,"
            + "\"createdAt\":\"2025-01-01T00:00:00Z\"}");

    Cli.Result r =
        run("devices", "preregister", "--serial", "SN9", "--tag", "site=s", "--name", "till");

    assertThat(r.exitCode()).isZero();
    assertThat(body(0))
        .isEqualTo(
            json(
                "{\"serial\":\"SN9\",\"tags\":{\"site\":\"s\"},\"requireApproval\":false,"
                    + "\"name\":\"till\"}"));
    assertThat(r.out()).startsWith("SERIAL  NAME  TAGS    APPROVAL   DEVICE  CREATED");
  }

  private Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(
                Stream.of(args),
                Stream.of(
                    "--server",
                    controller.url(),
                    "--token",
                    API_TOKEN,
                    "--ca-fingerprint",
                    controller.caFingerprint()))
            .toArray(String[]::new));
  }

  private JsonNode body(int request) {
    return json(controller.requests().get(request).body());
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (Exception e) {
      throw new AssertionError("not JSON: " + text, e);
    }
  }

  private static String token(String token) {
    return "{\"id\":\"t-1\",\"name\":\"stores\",\"token\":\""
        + token
        + "\",\"tags\":{\"site\":\"store-17\",\"role\":\"pos\"},\"maxUses\":5,\"uses\":0,"
        + "\"expiresAt\":\"2099-01-01T00:00:00Z\",\"requireApproval\":true,"
        + "\"createdAt\":\"2025-01-01T00:00:00Z\",\"revoked\":false}";
  }
}
