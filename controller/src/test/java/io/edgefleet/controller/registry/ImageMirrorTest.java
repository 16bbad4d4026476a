package io.edgefleet.controller.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.edgefleet.controller.artifacts.Artifacts;
import io.edgefleet.controller.artifacts.DirectoryBlobStore;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mirror against a small registry served in the test: the bearer-token dance with basic
 * credentials, a Docker manifest list with platform variants, a redirect to other storage that gets
 * no credentials, digests checked, limits of size and stalls, media types it refuses.
 */
class ImageMirrorTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TOKEN = "token-for-team-app";

  @TempDir Path tmp;
  Database db;
  Artifacts artifacts;
  HttpServer server;
  ExecutorService serverThreads;
  String host;
  final Map<String, byte[]> manifests = new HashMap<>();
  final Map<String, String> manifestTypes = new HashMap<>();
  final Map<String, byte[]> blobs = new HashMap<>();
  final List<String> requests = new CopyOnWriteArrayList<>();
  final List<String> tokenQueries = new CopyOnWriteArrayList<>();
  final List<String> storageAuthorizations = new CopyOnWriteArrayList<>();
  final CountDownLatch release = new CountDownLatch(1);
  Optional<String> lieAboutManifest = Optional.empty();
  Optional<String> stallOn = Optional.empty();
  Path data;

  @BeforeEach
  void setUp() throws Exception {
    data = Files.createDirectories(tmp.resolve("data"));
    db = Database.open(Database.sqliteUrl(data), null, null);
    serverThreads = Executors.newFixedThreadPool(4);
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
    server.setExecutor(serverThreads);
    server.createContext("/", this::serve);
    server.start();
    host = "127.0.0.1:" + server.getAddress().getPort();
    Files.writeString(
        data.resolve("registries.yaml"),
        "registries:\n  - host: "
            + host
            + "\n    insecure: true\n    username: robot\n    passwordFile: "
            + Files.writeString(tmp.resolve("pw"), "pull-secret\n")
            + "\n");
    artifacts = artifacts(10_000_000);
  }

  @AfterEach
  void tearDown() {
    release.countDown();
    server.stop(0);
    serverThreads.shutdownNow();
    db.close();
  }

  private Artifacts artifacts(long max) {
    Clock clock = Clock.fixed(Instant.parse("2026-12-01T10:00:00Z"), ZoneOffset.UTC);
    return new Artifacts(
        db.jdbi(),
        clock,
        new AuditLog(db.jdbi(), clock),
        new DirectoryBlobStore(data.resolve("artifacts")),
        max,
        d -> Optional.empty());
  }

  private ImageMirror mirror(Artifacts store, Duration stall) throws IOException {
    return new ImageMirror(
        store,
        new RegistryConfig(data.resolve("registries.yaml")),
        Files.createDirectories(data.resolve("mirror")),
        db.jdbi(),
        new AuditLog(db.jdbi(), Clock.systemUTC()),
        new RegistryClient.Timeouts(Duration.ofSeconds(2), Duration.ofSeconds(5), stall));
  }

  private ImageMirror mirror() throws IOException {
    return mirror(artifacts, Duration.ofSeconds(10));
  }

  /** An image with one layer for {@code arch}; answers its manifest's digest. */
  private String image(String arch, String content, String manifestType) throws Exception {
    byte[] layer = ("layer " + content).getBytes(StandardCharsets.UTF_8);
    byte[] config =
        ("{\"architecture\":\"" + arch + "\",\"os\":\"linux\",\"config\":{}}")
            .getBytes(StandardCharsets.UTF_8);
    String configType =
        manifestType.equals(Manifests.DOCKER_MANIFEST)
            ? "application/vnd.docker.container.image.v1+json"
            : "application/vnd.oci.image.config.v1+json";
    String layerType =
        manifestType.equals(Manifests.DOCKER_MANIFEST)
            ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
            : "application/vnd.oci.image.layer.v1.tar+gzip";
    blobs.put(RegistryClient.sha256(layer), layer);
    blobs.put(RegistryClient.sha256(config), config);
    byte[] manifest =
        JSON.writeValueAsBytes(
            Map.of(
                "schemaVersion",
                2,
                "mediaType",
                manifestType,
                "config",
                Map.of(
                    "mediaType",
                    configType,
                    "digest",
                    RegistryClient.sha256(config),
                    "size",
                    config.length),
                "layers",
                List.of(
                    Map.of(
                        "mediaType",
                        layerType,
                        "digest",
                        RegistryClient.sha256(layer),
                        "size",
                        layer.length))));
    String digest = RegistryClient.sha256(manifest);
    manifests.put(digest, manifest);
    manifestTypes.put(digest, manifestType);
    return digest;
  }

  private void tag(String tag, String digest) {
    manifests.put(tag, manifests.get(digest));
    manifestTypes.put(tag, manifestTypes.get(digest));
  }

  private String index(String tag, Map<String, String> platforms) throws Exception {
    List<Object> entries = new ArrayList<>();
    for (Map.Entry<String, String> p : platforms.entrySet()) {
      String[] parts = p.getKey().split("/");
      Map<String, Object> platform = new HashMap<>();
      platform.put("os", "linux");
      platform.put("architecture", parts[0]);
      if (parts.length > 1) {
        platform.put("variant", parts[1]);
      }
      entries.add(
          Map.of(
              "mediaType",
              Manifests.DOCKER_MANIFEST,
              "digest",
              p.getValue(),
              "size",
              manifests.get(p.getValue()).length,
              "platform",
              platform));
    }
    byte[] list =
        JSON.writeValueAsBytes(
            Map.of("schemaVersion", 2, "mediaType", Manifests.DOCKER_LIST, "manifests", entries));
    String digest = RegistryClient.sha256(list);
    manifests.put(digest, list);
    manifestTypes.put(digest, Manifests.DOCKER_LIST);
    manifests.put(tag, list);
    manifestTypes.put(tag, Manifests.DOCKER_LIST);
    return digest;
  }

  private void serve(HttpExchange x) throws IOException {
    try (x) {
      String path = x.getRequestURI().getPath();
      requests.add(x.getRequestMethod() + " " + path);
      if (path.equals("/token")) {
        tokenQueries.add(x.getRequestURI().getQuery());
        String expected =
            "Basic "
                + Base64.getEncoder()
                    .encodeToString("robot:pull-secret".getBytes(StandardCharsets.UTF_8));
        if (!expected.equals(x.getRequestHeaders().getFirst("Authorization"))) {
          send(x, 401, "application/json", "{\"details\":\"bad credentials\"}".getBytes());
          return;
        }
        send(x, 200, "application/json", ("{\"token\":\"" + TOKEN + "\"}").getBytes());
        return;
      }
      if (path.startsWith("/storage/")) {
        storageAuthorizations.add(String.valueOf(x.getRequestHeaders().getFirst("Authorization")));
        byte[] blob = blobs.get(path.substring("/storage/".length()));
        send(x, 200, "application/octet-stream", blob);
        return;
      }
      if (!("Bearer " + TOKEN).equals(x.getRequestHeaders().getFirst("Authorization"))) {
        x.getResponseHeaders()
            .add(
                "WWW-Authenticate",
                "Bearer realm=\"http://"
                    + host
                    + "/token\",service=\"test-registry\",scope=\"repository:team/app:pull\"");
        send(x, 401, "application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}".getBytes());
        return;
      }
      String prefix = "/v2/team/app/";
      if (!path.startsWith(prefix)) {
        send(x, 404, "application/json", "{\"errors\":[{\"code\":\"NAME_UNKNOWN\"}]}".getBytes());
        return;
      }
      String rest = path.substring(prefix.length());
      if (rest.equals("tags/list")) {
        send(x, 200, "application/json", "{\"name\":\"team/app\",\"tags\":[]}".getBytes());
        return;
      }
      if (rest.startsWith("manifests/")) {
        String ref = rest.substring("manifests/".length());
        byte[] m = manifests.get(ref);
        if (m == null) {
          send(
              x,
              404,
              "application/json",
              "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}".getBytes());
          return;
        }
        x.getResponseHeaders()
            .add("Docker-Content-Digest", lieAboutManifest.orElse(RegistryClient.sha256(m)));
        send(x, 200, manifestTypes.get(ref), m);
        return;
      }
      if (rest.startsWith("blobs/")) {
        String digest = rest.substring("blobs/".length());
        byte[] blob = blobs.get(digest);
        if (blob == null) {
          send(x, 404, "application/json", "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\"}]}".getBytes());
          return;
        }
        if (stallOn.filter(digest::equals).isPresent()) {
          x.sendResponseHeaders(200, blob.length);
          x.getResponseBody().write(blob, 0, blob.length / 2);
          x.getResponseBody().flush();
          try {
            release.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return;
        }
        // Like registries backed by object storage: the blob is elsewhere.
        x.getResponseHeaders()
            .add(
                "Location",
                "http://localhost:" + server.getAddress().getPort() + "/storage/" + digest);
        send(x, 307, "text/plain", new byte[0]);
        return;
      }
      send(x, 404, "text/plain", new byte[0]);
    }
  }

  private static void send(HttpExchange x, int status, String type, byte[] body)
      throws IOException {
    x.getResponseHeaders().add("Content-Type", type);
    x.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      try (OutputStream out = x.getResponseBody()) {
        out.write(body);
      }
    }
  }

  @Test
  void aManifestListGivesTheArchitectureAskedForAfterTheTokenDance() throws Exception {
    String amd64 = image("amd64", "amd64", Manifests.DOCKER_MANIFEST);
    String armV7 = image("arm64", "arm64 v7 oddity", Manifests.DOCKER_MANIFEST);
    String arm64 = image("arm64", "arm64", Manifests.DOCKER_MANIFEST);
    Map<String, String> platforms = new java.util.LinkedHashMap<>();
    platforms.put("amd64", amd64);
    platforms.put("arm64/v7", armV7);
    platforms.put("arm64/v8", arm64);
    index("2.0", platforms);

    ImageMirror.Mirrored m = mirror().mirror(host + "/team/app:2.0", "arm64", "op");

    assertThat(m.manifestDigest()).isEqualTo(arm64);
    assertThat(m.platform()).isEqualTo("linux/arm64");
    assertThat(m.fetched()).isTrue();
    assertThat(m.artifact().kind()).isEqualTo("image");
    assertThat(m.artifact().name()).isEqualTo(host + "/team/app");
    assertThat(m.artifact().version()).isEqualTo(arm64);
    assertThat(m.artifact().arch()).isEqualTo("arm64");
    assertThat(tokenQueries).hasSize(1);
    assertThat(tokenQueries.get(0))
        .contains("service=test-registry")
        .contains("scope=repository:team/app:pull");
    // Blobs came from the storage host without the registry's credentials.
    assertThat(storageAuthorizations).hasSize(2).containsOnly("null");

    Map<String, byte[]> entries = entries(artifacts.open(m.artifact().digest()));
    assertThat(entries.keySet())
        .containsExactly(
            "blobs/",
            "blobs/sha256/",
            "oci-layout",
            "index.json",
            "blobs/sha256/" + arm64.substring(7),
            "blobs/sha256/" + configOf(arm64).substring(7),
            "blobs/sha256/" + layerOf(arm64).substring(7));
    assertThat(entries.get("blobs/sha256/" + arm64.substring(7))).isEqualTo(manifests.get(arm64));
    JsonNode index = JSON.readTree(entries.get("index.json"));
    assertThat(index.at("/manifests/0/digest").asText()).isEqualTo(arm64);
    assertThat(index.at("/manifests/0/mediaType").asText()).isEqualTo(Manifests.DOCKER_MANIFEST);
    assertThat(index.at("/manifests/0/annotations/org.opencontainers.image.ref.name").asText())
        .isEqualTo(host + "/team/app:2.0");

    // Mirrored again: found stored by its manifest digest, no blob fetched.
    requests.clear();
    ImageMirror.Mirrored again = mirror().mirror(host + "/team/app@" + arm64, "arm64", "op");
    assertThat(again.fetched()).isFalse();
    assertThat(again.artifact()).isEqualTo(m.artifact());
    assertThat(requests).noneMatch(r -> r.contains("/blobs/"));
    assertThat(artifacts.list()).hasSize(1);
  }

  @Test
  void aManifestWhoseBytesAreNotItsDigestIsRefused() throws Exception {
    String amd64 = image("amd64", "x", Manifests.OCI_MANIFEST);
    tag("1.0", amd64);
    lieAboutManifest = Optional.of("sha256:" + "0".repeat(64));
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app:1.0", null, "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.REGISTRY_DIGEST_MISMATCH));
    lieAboutManifest = Optional.empty();
    // Asked by a digest the registry answers other bytes for.
    String other = "sha256:" + "1".repeat(64);
    manifests.put(other, manifests.get(amd64));
    manifestTypes.put(other, Manifests.OCI_MANIFEST);
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app@" + other, null, "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.REGISTRY_DIGEST_MISMATCH))
        .hasMessageContaining("Nothing was stored");
    assertThat(artifacts.list()).isEmpty();
  }

  @Test
  void aBlobWithOtherBytesIsRefusedAndLeavesNothing() throws Exception {
    String amd64 = image("amd64", "y", Manifests.OCI_MANIFEST);
    tag("1.0", amd64);
    blobs.put(layerOf(amd64), "layer Y".getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app:1.0", "amd64", "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.REGISTRY_DIGEST_MISMATCH))
        .hasMessageContaining(layerOf(amd64));
    assertThat(artifacts.list()).isEmpty();
    try (Stream<Path> left = Files.list(data.resolve("mirror"))) {
      assertThat(left).isEmpty();
    }
    try (Stream<Path> left = Files.list(data.resolve("artifacts/sha256"))) {
      assertThat(left).isEmpty();
    }
  }

  @Test
  void anImageLargerThanTheArtifactLimitIsRefusedBeforeItsBlobsAreFetched() throws Exception {
    String amd64 = image("amd64", "z".repeat(5000), Manifests.OCI_MANIFEST);
    tag("1.0", amd64);
    assertThatThrownBy(
            () ->
                mirror(artifacts(2000), Duration.ofSeconds(10))
                    .mirror(host + "/team/app:1.0", "amd64", "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.ARTIFACT_TOO_LARGE))
        .hasMessageContaining("--max-artifact-bytes");
    assertThat(requests).noneMatch(r -> r.contains("/blobs/"));
  }

  @Test
  void aBlobThatStallsEndsTheMirrorAfterTheStallTimeout() throws Exception {
    String amd64 = image("amd64", "s".repeat(100_000), Manifests.OCI_MANIFEST);
    tag("1.0", amd64);
    stallOn = Optional.of(layerOf(amd64));
    assertThatThrownBy(
            () ->
                mirror(artifacts, Duration.ofMillis(500))
                    .mirror(host + "/team/app:1.0", "amd64", "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.REGISTRY_UNREACHABLE));
    assertThat(artifacts.list()).isEmpty();
  }

  @Test
  void unknownNamesMissingPlatformsAndOtherArtifactsGetTheirOwnErrors() throws Exception {
    String amd64 = image("amd64", "a", Manifests.DOCKER_MANIFEST);
    index("1.0", Map.of("amd64", amd64));
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app:1.0", "s390x", "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.REGISTRY_NOT_FOUND))
        .hasMessageContaining("has no image for linux/s390x; it has linux/amd64");
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app:9.9", null, "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.REGISTRY_NOT_FOUND))
        .hasMessageContaining("check the tag or digest");
    assertThatThrownBy(() -> mirror().mirror(host + "/team/other:1.0", null, "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.REGISTRY_NOT_FOUND))
        .hasMessageContaining("does not exist");
    manifests.put(
        "chart",
        ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\","
                + "\"digest\":\"sha256:"
                + "2".repeat(64)
                + "\",\"size\":1},\"layers\":[]}")
            .getBytes(StandardCharsets.UTF_8));
    manifestTypes.put("chart", Manifests.OCI_MANIFEST);
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app:chart", null, "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.IMAGE_MEDIA_TYPE_UNSUPPORTED))
        .hasMessageContaining("not a container image");
    manifests.put("old", "{\"schemaVersion\":1,\"name\":\"team/app\"}".getBytes());
    manifestTypes.put("old", "application/vnd.docker.distribution.manifest.v1+prettyjws");
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app:old", null, "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.IMAGE_MEDIA_TYPE_UNSUPPORTED));
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app:1.0", "AMD 64", "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.VALIDATION_FAILED));
    assertThat(artifacts.list()).isEmpty();
  }

  @Test
  void wrongCredentialsAreRefusedWithWhatToCheck() throws Exception {
    String amd64 = image("amd64", "c", Manifests.OCI_MANIFEST);
    tag("1.0", amd64);
    Files.writeString(tmp.resolve("pw"), "wrong\n");
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app:1.0", null, "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.REGISTRY_UNAUTHORIZED))
        .hasMessageContaining("user robot")
        .hasMessageContaining("passwordFile");
    Files.delete(data.resolve("registries.yaml"));
    // Unlisted, the registry is reached over HTTPS, which this one does not speak.
    assertThatThrownBy(() -> mirror().mirror(host + "/team/app:1.0", null, "op"))
        .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.REGISTRY_UNREACHABLE))
        .hasMessageContaining("insecure: true");
  }

  @Test
  void aThirdMirrorWhileTwoRunIsRefusedToRetry() throws Exception {
    String amd64 = image("amd64", "b".repeat(100_000), Manifests.OCI_MANIFEST);
    tag("1.0", amd64);
    String layer = layerOf(amd64);
    stallOn = Optional.of(layer);
    ImageMirror mirror = mirror(artifacts, Duration.ofSeconds(30));
    ExecutorService callers = Executors.newFixedThreadPool(2);
    try {
      List<java.util.concurrent.Future<?>> running = new ArrayList<>();
      for (int i = 0; i < ImageMirror.CONCURRENT; i++) {
        running.add(callers.submit(() -> mirror.mirror(host + "/team/app:1.0", null, "op")));
      }
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> requests.stream().filter(r -> r.contains(layer)).count() == 2);
      assertThatThrownBy(() -> mirror.mirror(host + "/team/app:1.0", null, "op"))
          .satisfies(e -> assertThat(code(e)).isEqualTo(ErrorCode.RATE_LIMITED))
          .hasMessageContaining("try again");
      release.countDown();
      for (var r : running) {
        assertThatThrownBy(() -> r.get(20, TimeUnit.SECONDS))
            .hasCauseInstanceOf(ControllerException.class);
      }
    } finally {
      callers.shutdownNow();
    }
    assertThat(artifacts.list()).isEmpty();
  }

  private String configOf(String manifestDigest) throws IOException {
    return JSON.readTree(manifests.get(manifestDigest)).at("/config/digest").asText();
  }

  private String layerOf(String manifestDigest) throws IOException {
    return JSON.readTree(manifests.get(manifestDigest)).at("/layers/0/digest").asText();
  }

  private static ErrorCode code(Throwable e) {
    assertThat(e).isInstanceOf(ControllerException.class);
    return ((ControllerException) e).code();
  }

  private static Map<String, byte[]> entries(InputStream tar) throws IOException {
    Map<String, byte[]> out = new java.util.LinkedHashMap<>();
    try (InputStream in = tar;
        TarArchiveInputStream t = new TarArchiveInputStream(in)) {
      TarArchiveEntry e;
      while ((e = t.getNextEntry()) != null) {
        out.put(e.getName(), t.readAllBytes());
      }
    }
    return out;
  }
}
