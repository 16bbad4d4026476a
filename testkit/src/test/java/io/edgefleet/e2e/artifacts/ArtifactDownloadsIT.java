package io.edgefleet.e2e.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.artifacts.ArtifactsFeature;
import io.edgefleet.agent.artifacts.BlobCache;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DelayProxy;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Artifacts fetched by a real agent from a real controller over mutual TLS, through a link proxy
 * that caps the rate, counts the bytes and cuts connections: chunk lists from {@code
 * /device/v1/artifacts/{digest}/chunks}, ranges from the first byte not yet on the device, every
 * chunk verified.
 *
 * <p>The controller does not yet put artifacts into the desired states it signs, so the test hands
 * the artifact feature a desired state naming the pushed blobs itself, in place of the one the
 * agent received; everything below that (the agent's connection, its transfers and their stall
 * detection, the controller's routes, the disk on both sides) is real.
 */
class ArtifactDownloadsIT {
  private static final int CHUNK = 1 << 20;
  private static final long RATE = 2L << 20;

  @TempDir Path dir;

  TestController controller;
  AdminClient admin;
  TestAgents agents;
  DelayProxy link;
  ScheduledExecutorService timer;
  Agent agent;
  ArtifactsFeature artifacts;
  AgentOptions options;

  @BeforeEach
  void start() {
    controller =
        TestController.start(
            TestController.config(dir.resolve("controller")).withMaxArtifactBytes(64L << 20));
    admin = controller.admin();
    agents = new TestAgents(dir);
    timer = Executors.newSingleThreadScheduledExecutor();
    link = DelayProxy.forUrl(controller.url()).rate(0, RATE).maxBuffered(16 * 1024).start();
  }

  @AfterEach
  void stop() {
    agents.close();
    timer.shutdownNow();
    link.close();
    controller.close();
  }

  @Test
  void aTransferCutInTheMiddleGoesOnWithoutSendingWhatArrivedAgain() throws Exception {
    byte[] blob = blob(6 * CHUNK + 12_345, 1);
    ArtifactRef ref = push(blob, "v1");
    startAgent(Clock.systemUTC());
    long before = link.bytesDown();

    artifacts.applied(state(List.of(app("web", ref)), List.of(), null));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> verified(ref.digest()) >= 2L * CHUNK && verified(ref.digest()) < 5L * CHUNK);
    link.cut();
    long atCut = link.bytesDown() - before;
    link.restore();

    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> artifacts.blobs().find(ref.digest()).isPresent());
    assertThat(Files.readAllBytes(artifacts.blobs().find(ref.digest()).orElseThrow()))
        .isEqualTo(blob);
    long down = link.bytesDown() - before;
    // What crossed the link beyond the blob itself: the bytes lost in flight at the cut, the
    // chunk list, TLS and HTTP framing, the reconnect. Less than two chunks.
    long resent = down - blob.length;
    System.out.printf(
        "cut after %d bytes; %d bytes crossed for a blob of %d: %d beyond it%n",
        atCut, down, blob.length, resent);
    assertThat(atCut).isLessThan(blob.length);
    assertThat(resent).isPositive().isLessThan(2L * CHUNK);
    assertThat(artifacts.stats().mismatches()).isZero();
    awaitReport(r -> r.held().contains(ref.digest()) && r.fetching().isEmpty());
  }

  @Test
  void aCorruptedChunkIsDetectedFetchedAgainAndTheBlobIsRight() throws Exception {
    byte[] blob = blob(3 * CHUNK + 777, 2);
    ArtifactRef ref = push(blob, "v2");
    startAgent(Clock.systemUTC());
    // The chunk list is computed from the intact blob (on the first request, and kept)...
    try (DeviceHttp device = new DeviceHttp(controller.url(), options.stateDir())) {
      assertThat(device.get(DeviceApi.ARTIFACTS + ref.digest() + DeviceApi.CHUNKS_SUFFIX).status())
          .isEqualTo(200);
    }
    // ... then one byte of the second chunk goes bad on the controller's disk.
    Path stored = dir.resolve("controller/artifacts/sha256").resolve(ref.digest().substring(7));
    flip(stored, CHUNK + 4242);

    artifacts.applied(state(List.of(app("web", ref)), List.of(), null));
    await().atMost(Duration.ofSeconds(30)).until(() -> artifacts.stats().mismatches() >= 1);
    assertThat(artifacts.blobs().find(ref.digest())).isEmpty();
    // The first chunk was kept: only the bad one is fetched again.
    assertThat(verified(ref.digest())).isEqualTo(CHUNK);
    flip(stored, CHUNK + 4242);

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> artifacts.blobs().find(ref.digest()).isPresent());
    assertThat(Files.readAllBytes(artifacts.blobs().find(ref.digest()).orElseThrow()))
        .isEqualTo(blob);
    String id = agent.status().deviceId().orElseThrow();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> admin.get("/api/v1/devices/" + id + "/events").body().path("items").toString(),
            events -> events.contains("artifact-mismatch") && events.contains("chunk 2 of 4"));
  }

  @Test
  void aSmallBudgetStopsTheDownloadAndTheReportSaysWhyAsDoesAClosedWindow() throws Exception {
    byte[] blob = blob(4 * CHUNK, 3);
    byte[] staged = blob(CHUNK / 2, 4);
    ArtifactRef ref = push(blob, "v3");
    ArtifactRef stagedRef = push(staged, "v4");
    startAgent(Clock.systemUTC());
    long before = link.bytesDown();
    long budget = CHUNK + CHUNK / 2;

    artifacts.applied(
        state(
            List.of(app("db", ref)),
            List.of(stagedRef),
            new DesiredState.DownloadPolicy(budget, List.of(), "UTC")));
    AgentMessage.ArtifactReport stopped =
        awaitReport(r -> r.waiting() != null && r.waiting().contains("budget"));
    assertThat(stopped.waiting()).contains("budget of " + budget + " bytes is spent");
    assertThat(stopped.held()).isEmpty();
    // The app's artifacts come first; the staged blob waits behind them.
    assertThat(stopped.fetching())
        .containsExactly(
            new AgentMessage.ArtifactProgress(ref.digest(), ref.size(), CHUNK),
            new AgentMessage.ArtifactProgress(stagedRef.digest(), stagedRef.size(), 0));
    long down = link.bytesDown() - before;
    assertThat(down).isGreaterThanOrEqualTo(budget).isLessThan(budget + 256 * 1024);
    assertThat(artifacts.blobs().find(ref.digest())).isEmpty();

    // Outside its windows nothing moves, whatever the budget.
    Instant now = Instant.now();
    DateTimeFormatter hhmm = DateTimeFormatter.ofPattern("HH:mm").withZone(ZoneOffset.UTC);
    String window =
        hhmm.format(now.plus(Duration.ofHours(6)))
            + "-"
            + hhmm.format(now.plus(Duration.ofHours(7)));
    artifacts.applied(
        state(
            List.of(app("db", ref)),
            List.of(stagedRef),
            new DesiredState.DownloadPolicy(0, List.of(window), "UTC")));
    AgentMessage.ArtifactReport closed =
        awaitReport(
            r -> r.waiting() != null && r.waiting().contains("outside the download windows"));
    assertThat(closed.waiting()).contains(window);
    long downClosed = link.bytesDown();

    // Without a policy the download goes on from the verified chunk and the staged blob follows.
    artifacts.applied(state(List.of(app("db", ref)), List.of(stagedRef), null));
    AgentMessage.ArtifactReport done =
        awaitReport(r -> r.fetching().isEmpty() && r.held().size() == 2);
    assertThat(done.waiting()).isNull();
    assertThat(Files.readAllBytes(artifacts.blobs().find(ref.digest()).orElseThrow()))
        .isEqualTo(blob);
    assertThat(link.bytesDown() - downClosed)
        .isLessThan(blob.length - CHUNK + staged.length + 256 * 1024);

    // The reports crossed the link to the controller.
    String metrics = admin.get("/metrics").body().asText();
    assertThat(sample(metrics, "artifact_report")).isGreaterThanOrEqualTo(3);
  }

  private void startAgent(Clock clock) {
    String token = controller.token(Map.of("site", "s1"), null, false);
    options =
        agents.options("d1", agents.bootstrap("d1", link.url(), controller.caFingerprint(), token));
    AtomicReference<ArtifactsFeature> made = new AtomicReference<>();
    agent =
        agents.start(
            options,
            clock,
            new NoRuntime("test agent"),
            List.of(
                a -> {
                  ArtifactsFeature f =
                      ArtifactsFeature.forAgent(
                          a,
                          BlobCache.open(options.stateDir(), 0),
                          TestAgents.fastArtifacts(),
                          timer,
                          clock,
                          System.out);
                  made.set(f);
                  return new ConnectionOnly(f);
                }));
    artifacts = made.get();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
  }

  private long verified(String digest) {
    return artifacts.status().stream()
        .flatMap(r -> r.fetching().stream())
        .filter(p -> p.digest().equals(digest))
        .mapToLong(AgentMessage.ArtifactProgress::bytes)
        .findFirst()
        .orElse(-1);
  }

  private AgentMessage.ArtifactReport awaitReport(
      java.util.function.Predicate<AgentMessage.ArtifactReport> wanted) {
    AtomicReference<AgentMessage.ArtifactReport> seen = new AtomicReference<>();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              var r = artifacts.status();
              r.ifPresent(seen::set);
              return r.isPresent() && wanted.test(r.get());
            });
    return seen.get();
  }

  private ArtifactRef push(byte[] bytes, String version) throws Exception {
    String digest = ArtifactsIT.digest(bytes);
    AdminClient.Answer a =
        ArtifactsIT.push(admin, bytes, "vm-disk", version, Map.of("X-Edgefleet-Digest", digest));
    assertThat(a.status()).as(a.body().toString()).isEqualTo(201);
    return new ArtifactRef(digest, bytes.length);
  }

  private static DesiredState state(
      List<DesiredState.DesiredApp> apps,
      List<ArtifactRef> stage,
      DesiredState.DownloadPolicy policy) {
    return new DesiredState("d1", 1, Instant.now(), apps, List.of(), List.of())
        .withDownloads(stage, policy);
  }

  private static DesiredState.DesiredApp app(String name, ArtifactRef... refs) {
    return new DesiredState.DesiredApp(
        name,
        "git",
        "main",
        "sha256:" + "0".repeat(64),
        10,
        "c0ffee",
        false,
        "container",
        List.of(refs));
  }

  static byte[] blob(int size, int seed) {
    byte[] b = new byte[size];
    java.util.Random r = new java.util.Random(seed);
    r.nextBytes(b);
    return b;
  }

  private static void flip(Path file, long offset) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(offset);
      int b = f.read();
      f.seek(offset);
      f.write(b ^ 0x20);
    }
  }

  private static long sample(String text, String type) {
    Matcher m =
        Pattern.compile(
                "^edgefleet_websocket_messages_total\\{direction=\"in\",type=\""
                    + type
                    + "\"\\} (\\S+)$",
                Pattern.MULTILINE)
            .matcher(text);
    return m.find() ? (long) Double.parseDouble(m.group(1)) : 0;
  }

  /**
   * The artifact feature on the agent's connection, but fed by the test's desired states instead of
   * the controller's (which name no artifacts yet).
   */
  private record ConnectionOnly(ArtifactsFeature feature) implements AgentFeature {
    @Override
    public void connected(Channel channel, ControllerMessage.Welcome welcome) {
      feature.connected(channel, welcome);
    }

    @Override
    public void disconnected() {
      feature.disconnected();
    }

    @Override
    public boolean handle(ControllerMessage message) {
      return feature.handle(message);
    }

    @Override
    public boolean event(String kind, String severity, String app, String message, Instant at) {
      return false;
    }

    @Override
    public void close() {
      feature.close();
    }
  }
}
