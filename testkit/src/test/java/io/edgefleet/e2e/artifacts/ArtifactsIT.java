package io.edgefleet.e2e.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.s3.S3Server;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Artifacts over the real HTTPS API: a push streamed to disk with its digest checked and its size
 * bounded, listed and deleted by an operator; an enrolled device downloads it over mutual TLS and
 * resumes a cut download with {@code Range}. Once with the artifacts in the data directory, once in
 * a bucket of a real S3 server over TLS.
 */
class ArtifactsIT {
  private static final String VERSION = "v1.20.2+k3s1";

  @TempDir Path dir;

  /** What the store holds, as the test sees it from outside the controller. */
  interface Held {
    /** The digests' hex whose bytes the store holds (side files left out). */
    List<String> blobs() throws Exception;
  }

  @Test
  void anOperatorPushesABinaryAndADeviceFetchesItInPieces() throws Exception {
    Path data = dir.resolve("controller");
    scenario(
        TestController.config(data),
        () -> {
          try (var files = Files.list(data.resolve("artifacts/sha256"))) {
            return files
                .map(f -> f.getFileName().toString())
                .filter(n -> !n.contains("."))
                .toList();
          }
        });
  }

  @Test
  void theSameWithTheArtifactsInAnS3Bucket() throws Exception {
    Path data = dir.resolve("controller");
    try (S3Server s3 = S3Server.start(dir.resolve("s3"), "artifacts", true)) {
      scenario(
          TestController.config(data).withS3(Optional.of(s3.options("edgefleet"))),
          () ->
              s3.keys().stream()
                  .filter(k -> k.startsWith("edgefleet/sha256/") && !k.contains(".chunks"))
                  .map(k -> k.substring("edgefleet/sha256/".length()))
                  .toList());
      // Nothing stays in the controller's data directory: uploads were staged and put.
      assertThat(data.resolve("artifacts")).doesNotExist();
      try (var left = Files.list(data.resolve("artifact-uploads"))) {
        assertThat(left).isEmpty();
      }
    }
  }

  private void scenario(ControllerConfig config, Held held) throws Exception {
    try (TestController controller = TestController.start(config.withMaxArtifactBytes(256 * 1024));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = controller.admin();
      byte[] bytes = new byte[200_000];
      for (int i = 0; i < bytes.length; i++) {
        bytes[i] = (byte) (i * 7 + i / 251);
      }
      String digest = digest(bytes);

      // Refused pushes leave nothing behind.
      AdminClient.Answer mismatch =
          push(admin, bytes, "k3s", VERSION, Map.of("X-Edgefleet-Digest", digest(new byte[1])));
      assertThat(mismatch.code()).isEqualTo("ARTIFACT_DIGEST_MISMATCH");
      assertThat(mismatch.status()).isEqualTo(422);
      AdminClient.Answer tooLarge = push(admin, new byte[300 * 1024], "k3s", VERSION, Map.of());
      assertThat(tooLarge.code()).isEqualTo("ARTIFACT_TOO_LARGE");
      assertThat(tooLarge.status()).isEqualTo(413);
      assertThat(push(admin, bytes, "K3S!", VERSION, Map.of()).code())
          .isEqualTo("VALIDATION_FAILED");
      assertThat(admin.get("/api/v1/artifacts").body().path("items")).isEmpty();
      assertThat(held.blobs()).isEmpty();

      // The push: stored under its digest, with the '+' of the version intact.
      AdminClient.Answer pushed =
          push(admin, bytes, "k3s", VERSION, Map.of("X-Edgefleet-Digest", digest));
      assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
      assertThat(pushed.body().path("digest").asText()).isEqualTo(digest);
      assertThat(pushed.body().path("version").asText()).isEqualTo(VERSION);
      assertThat(pushed.body().path("size").asLong()).isEqualTo(bytes.length);
      assertThat(admin.get("/api/v1/artifacts").body().path("items")).hasSize(1);
      assertThat(admin.get("/api/v1/artifacts/" + digest).status()).isEqualTo(200);
      assertThat(held.blobs()).containsExactly(digest.substring(7));

      // A device fetches it whole, and resumes from where a cut download stopped.
      String token = controller.token(Map.of("site", "s1"), null, false);
      Path bootstrap = agents.bootstrap("d1", controller.url(), controller.caFingerprint(), token);
      AgentOptions options = agents.options("d1", bootstrap);
      Agent agent = agents.start(options);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> agent.status().state() == Agent.State.CONNECTED);
      try (DeviceHttp device = new DeviceHttp(controller.url(), options.stateDir())) {
        DeviceHttp.Bytes whole = device.getBytes(DeviceApi.ARTIFACTS + digest, Map.of());
        assertThat(whole.status()).isEqualTo(200);
        assertThat(whole.body()).isEqualTo(bytes);
        assertThat(whole.headers()).containsEntry("accept-ranges", "bytes");
        assertThat(whole.headers().get("etag")).isEqualTo("\"" + digest + "\"");

        int cut = 123_457;
        DeviceHttp.Bytes rest =
            device.getBytes(
                DeviceApi.ARTIFACTS + digest,
                Map.of("Range", "bytes=" + cut + "-", "If-Range", "\"" + digest + "\""));
        assertThat(rest.status()).isEqualTo(206);
        assertThat(rest.headers())
            .containsEntry(
                "content-range", "bytes " + cut + "-" + (bytes.length - 1) + "/" + bytes.length)
            .containsEntry("content-length", Integer.toString(bytes.length - cut));
        assertThat(rest.body()).isEqualTo(Arrays.copyOfRange(bytes, cut, bytes.length));

        DeviceHttp.Bytes one =
            device.getBytes(DeviceApi.ARTIFACTS + digest, Map.of("Range", "bytes=0-0"));
        assertThat(one.status()).isEqualTo(206);
        assertThat(one.body()).containsExactly(bytes[0]);

        assertThat(
                device
                    .getBytes(
                        DeviceApi.ARTIFACTS + digest,
                        Map.of("Range", "bytes=" + bytes.length + "-"))
                    .status())
            .isEqualTo(416);
        DeviceHttp.Bytes unknown =
            device.getBytes(DeviceApi.ARTIFACTS + digest(new byte[2]), Map.of());
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(Json.mapper().readTree(unknown.body()).path("code").asText())
            .isEqualTo("NOT_FOUND");
        assertThat(device.getBytes(DeviceApi.ARTIFACTS + "sha256:zz", Map.of()).status())
            .isEqualTo(422);
      }

      // Without a device certificate the device route is closed.
      assertThat(
              admin
                  .raw(
                      "GET",
                      DeviceApi.ARTIFACTS + digest,
                      null,
                      controller.controller().adminToken().orElse(null),
                      null)
                  .status())
          .isIn(401, 403);

      // The chunk list a device verifies each piece with.
      try (DeviceHttp device = new DeviceHttp(controller.url(), options.stateDir())) {
        DeviceHttp.Bytes chunks =
            device.getBytes(DeviceApi.ARTIFACTS + digest + DeviceApi.CHUNKS_SUFFIX, Map.of());
        assertThat(chunks.status()).isEqualTo(200);
        assertThat(Json.mapper().readTree(chunks.body()).path("size").asLong())
            .isEqualTo(bytes.length);
      }

      // Delete: gone from the listing and from the store.
      assertThat(admin.delete("/api/v1/artifacts/" + digest).status()).isEqualTo(204);
      assertThat(admin.get("/api/v1/artifacts/" + digest).status()).isEqualTo(404);
      assertThat(held.blobs()).isEmpty();
      assertThat(admin.get("/api/v1/audit?limit=20").body().toString())
          .contains("artifact.push")
          .contains("artifact.delete");
    }
  }

  static AdminClient.Answer push(
      AdminClient admin, byte[] bytes, String kind, String version, Map<String, String> headers) {
    return admin.postBytes(
        "/api/v1/artifacts?kind="
            + kind
            + "&version="
            + java.net.URLEncoder.encode(version, java.nio.charset.StandardCharsets.UTF_8),
        bytes,
        "application/octet-stream",
        headers);
  }

  static String digest(byte[] b) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }
}
