package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.edgefleet.protocol.DeviceApi;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Artifact downloads against a real HTTP server that cuts the first transfer mid-body. */
class ClusterAccessTest {
  @TempDir Path dir;
  private final byte[] k3s = new byte[3 << 20];
  private String digest;
  private HttpServer server;
  private final List<String> ranges = new CopyOnWriteArrayList<>();
  private final AtomicBoolean cut = new AtomicBoolean(true);
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private ClusterAccess access;

  @BeforeEach
  void serve() throws Exception {
    new Random(7).nextBytes(k3s);
    digest = "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(k3s));
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(DeviceApi.ARTIFACTS, this::artifact);
    server.start();
    Transfers t =
        new Transfers(
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build(),
            timer,
            new Transfers.Limits(Duration.ofSeconds(5), Duration.ofSeconds(5), 512));
    access = new ClusterAccess(() -> t, () -> "http://127.0.0.1:" + server.getAddress().getPort());
  }

  @AfterEach
  void stop() {
    server.stop(0);
    timer.shutdownNow();
  }

  /** Serves the artifact with an entity tag and {@code Range: bytes=N-}; cuts the first body. */
  private void artifact(HttpExchange x) throws java.io.IOException {
    String asked = x.getRequestURI().getPath().substring(DeviceApi.ARTIFACTS.length());
    if (!asked.equals(digest)) {
      x.sendResponseHeaders(404, -1);
      x.close();
      return;
    }
    String range = x.getRequestHeaders().getFirst("Range");
    ranges.add(range == null ? "" : range);
    int from = 0;
    x.getResponseHeaders().add("ETag", "\"" + digest + "\"");
    if (range != null && range.startsWith("bytes=")) {
      from = Integer.parseInt(range.substring(6, range.indexOf('-')));
      x.getResponseHeaders()
          .add("Content-Range", "bytes " + from + "-" + (k3s.length - 1) + "/" + k3s.length);
      x.sendResponseHeaders(206, k3s.length - from);
    } else {
      x.sendResponseHeaders(200, k3s.length);
    }
    try (OutputStream out = x.getResponseBody()) {
      if (cut.getAndSet(false)) {
        // Half of the body, then the connection dies.
        out.write(k3s, from, k3s.length / 2);
        out.flush();
        x.getHttpContext().getServer().stop(0);
        return;
      }
      out.write(k3s, from, k3s.length - from);
    }
  }

  @Test
  void aCutDownloadResumesWhereItStoppedAndTheWholeMatchesTheDigest() throws Exception {
    Path file = dir.resolve("k3s.download");
    assertThatThrownBy(() -> access.download(digest, file, k3s.length))
        .isInstanceOf(java.io.IOException.class);
    Path part = dir.resolve("k3s.download.part");
    assertThat(part).exists();
    long had = Files.size(part);
    assertThat(had).isPositive().isLessThan(k3s.length);
    // The server comes back on the same port.
    int port = server.getAddress().getPort();
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
    server.createContext(DeviceApi.ARTIFACTS, this::artifact);
    server.start();
    access.download(digest, file, k3s.length);
    assertThat(ranges).hasSize(2);
    assertThat(ranges.get(0)).isEmpty();
    assertThat(ranges.get(1)).isEqualTo("bytes=" + had + "-");
    assertThat(file).hasBinaryContent(k3s);
    assertThat(part).doesNotExist();
  }

  @Test
  void anUnknownArtifactSaysHowToProvideIt() {
    assertThatThrownBy(() -> access.download("sha256:" + "0".repeat(64), dir.resolve("x"), 10))
        .hasMessageContaining("HTTP 404")
        .hasMessageContaining("edgefleet artifacts push");
  }

  @Test
  void theLocalAddressIsTheOneThatReachesTheController() throws Exception {
    assertThat(ClusterAccess.localAddress(URI.create("https://127.0.0.1:8443")))
        .isEqualTo("127.0.0.1");
  }
}
