package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The desired-state sync against a controller on a real loopback socket that fails, stalls and
 * serves ranges: failures are retried without a new nudge, a stalled download resumes from the byte
 * it reached, and a document that arrives twice is taken once.
 */
@Timeout(60)
class DesiredStateSyncTest {
  @TempDir Path dir;
  final KeyPair controllerKey = ed25519();
  final List<String> problems = Collections.synchronizedList(new ArrayList<>());
  final List<String> refusals = Collections.synchronizedList(new ArrayList<>());
  final List<Long> applied = Collections.synchronizedList(new ArrayList<>());
  final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
  final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  final AtomicInteger linkFailures = new AtomicInteger();
  HttpServer server;
  HttpClient client;
  DesiredStateSync sync;
  String bundle;
  String digest;

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.start();
    client = HttpClient.newBuilder().executor(workers).build();
    byte[] noise = new byte[48 * 1024];
    new Random(3).nextBytes(noise);
    bundle =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: "
            + Base64.getEncoder().encodeToString(noise)
            + "\n";
    digest = Fingerprints.sha256(bundle.getBytes(StandardCharsets.UTF_8));
    sync =
        new DesiredStateSync(
            dir,
            new IdentityStore(dir),
            workers,
            timer,
            RandomGenerator.getDefault(),
            new PrintStream(OutputStream.nullOutputStream()),
            new DesiredStateSync.Listener() {
              @Override
              public void applied(Verified v) {
                applied.add(v.state().generation());
              }

              @Override
              public void refused(String kind, String message) {
                refusals.add(kind + ": " + message);
              }

              @Override
              public void problem(String message) {
                if (message != null) {
                  problems.add(message);
                }
              }

              @Override
              public void linkFailed() {
                linkFailures.incrementAndGet();
              }
            });
    sync.trust(TrustedKeys.of(controllerKey.getPublic()));
    sync.load("dev-1");
  }

  @AfterEach
  void stop() {
    sync.close();
    server.stop(0);
    client.shutdownNow();
    timer.shutdownNow();
    workers.shutdownNow();
  }

  private void connect(Duration stall) {
    Transfers t =
        new Transfers(client, timer, new Transfers.Limits(Duration.ofSeconds(5), stall, 512));
    String url = "http://127.0.0.1:" + server.getAddress().getPort();
    sync.connect("dev-1", t, () -> url);
  }

  @Test
  void aBundleFetchThatFailsIsRetriedWithoutANewNudge() {
    AtomicInteger asked = new AtomicInteger();
    server.createContext(
        "/device/v1/bundles/",
        x -> {
          if (asked.incrementAndGet() <= 2) {
            send(x, 503, Map.of(), "{\"code\":\"UNAVAILABLE\",\"message\":\"busy\"}".getBytes());
          } else {
            send(x, 200, Map.of(), bundle.getBytes(StandardCharsets.UTF_8));
          }
        });
    connect(Duration.ofSeconds(5));

    sync.offer(nudge(1, Map.of()));

    await().atMost(Duration.ofSeconds(20)).until(() -> applied.contains(1L));
    assertThat(asked.get()).isEqualTo(3);
    assertThat(problems).anySatisfy(p -> assertThat(p).contains("busy [UNAVAILABLE]"));
    assertThat(sync.store().bundle(digest)).contains(bundle);
    assertThat(refusals).isEmpty();
  }

  @Test
  void aStalledDownloadResumesFromTheByteItReached() {
    byte[] body = bundle.getBytes(StandardCharsets.UTF_8);
    int half = body.length / 2;
    CountDownLatch release = new CountDownLatch(1);
    List<String> ranges = Collections.synchronizedList(new ArrayList<>());
    server.createContext(
        "/device/v1/bundles/",
        x -> {
          String range = x.getRequestHeaders().getFirst("Range");
          ranges.add(
              range == null ? "-" : range + " if " + x.getRequestHeaders().getFirst("If-Range"));
          if (range == null) {
            // Half the body, then nothing: the link died and the far end forgot us.
            x.getResponseHeaders().add("ETag", "\"v1\"");
            x.sendResponseHeaders(200, body.length);
            OutputStream out = x.getResponseBody();
            out.write(body, 0, half);
            out.flush();
            try {
              release.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            x.close();
            return;
          }
          int from = Integer.parseInt(range.substring("bytes=".length(), range.indexOf('-')));
          send(
              x,
              206,
              Map.of(
                  "ETag",
                  "\"v1\"",
                  "Content-Range",
                  "bytes " + from + "-" + (body.length - 1) + "/" + body.length),
              java.util.Arrays.copyOfRange(body, from, body.length));
        });
    connect(Duration.ofSeconds(1));

    sync.offer(nudge(1, Map.of()));

    await().atMost(Duration.ofSeconds(20)).until(() -> applied.contains(1L));
    release.countDown();
    assertThat(ranges).hasSize(2);
    assertThat(ranges.get(0)).isEqualTo("-");
    // The client may have read a little less than was written; it asked for the rest of it.
    int resumedAt =
        Integer.parseInt(ranges.get(1).substring("bytes=".length(), ranges.get(1).indexOf('-')));
    assertThat(resumedAt).isBetween(1, half);
    assertThat(ranges.get(1)).endsWith("if \"v1\"");
    assertThat(problems).anySatisfy(p -> assertThat(p).contains("stalled"));
    // A stall is the link's failure: the agent's socket is asked to prove it still carries.
    assertThat(linkFailures).hasPositiveValue();
    assertThat(sync.store().bundle(digest)).contains(bundle);
  }

  @Test
  void theSameDocumentTwiceIsTakenOnceAndNotReportedAsAReplay() {
    String packed =
        Base64.getEncoder()
            .encodeToString(
                io.edgefleet.protocol.Gzip.deflate(bundle.getBytes(StandardCharsets.UTF_8)));
    connect(Duration.ofSeconds(5));
    ControllerMessage.Nudge n = nudge(4, Map.of(digest, packed));
    sync.offer(n);
    sync.offer(n);
    await().atMost(Duration.ofSeconds(10)).until(() -> applied.contains(4L));
    sync.offer(n);
    // Work is taken in order: once the next document is in, the repeat was dealt with.
    sync.offer(nudge(5, Map.of(digest, packed)));
    await().atMost(Duration.ofSeconds(10)).until(() -> applied.contains(5L));
    assertThat(applied).containsExactly(4L, 5L);
    assertThat(refusals).isEmpty();
  }

  private ControllerMessage.Nudge nudge(long generation, Map<String, String> inline) {
    DesiredState d =
        new DesiredState(
            "dev-1",
            generation,
            Instant.now(),
            List.of(new DesiredState.DesiredApp("big", "repo", "r1", digest, bundle.length())),
            List.of());
    byte[] bytes = Json.writeBytes(d);
    SignedDesiredState signed =
        new SignedDesiredState(
            Base64.getEncoder().encodeToString(bytes),
            Signatures.sign(controllerKey.getPrivate(), bytes));
    return new ControllerMessage.Nudge(generation, signed, inline);
  }

  private static void send(HttpExchange x, int status, Map<String, String> headers, byte[] body)
      throws IOException {
    headers.forEach((k, v) -> x.getResponseHeaders().add(k, v));
    x.sendResponseHeaders(status, body.length);
    try (OutputStream out = x.getResponseBody()) {
      out.write(body);
    }
  }

  private static KeyPair ed25519() {
    try {
      return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
