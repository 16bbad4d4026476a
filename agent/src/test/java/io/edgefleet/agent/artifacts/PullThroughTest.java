package io.edgefleet.agent.artifacts;

import static io.edgefleet.agent.artifacts.Blobs4Test.bytes;
import static io.edgefleet.agent.artifacts.Blobs4Test.digest;
import static io.edgefleet.agent.artifacts.Blobs4Test.ref;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.DesiredState;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The site cache's pull-through: blobs its neighbours ask for are fetched once however many ask at
 * the same time, after the device's own, and are left out of the device's own report.
 */
class PullThroughTest {
  private static final int CHUNK = 4096;
  private static final Instant NOON = Instant.parse("2026-06-01T12:00:00Z");

  @TempDir Path dir;

  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final ExecutorService askers = Executors.newFixedThreadPool(8);
  private final Blobs4Test.MovingClock clock = new Blobs4Test.MovingClock(NOON);
  private final ByteArrayOutputStream log = new ByteArrayOutputStream();
  private final SiteCacheSourceTest.Memory controller =
      new SiteCacheSourceTest.Memory("the controller");
  private ArtifactsFeature feature;

  @AfterEach
  void close() {
    if (feature != null) {
      feature.close();
    }
    askers.shutdownNow();
    timer.shutdownNow();
  }

  @Test
  void eightNeighboursAskingAtOnceCostOneFetch() throws Exception {
    byte[] blob = bytes(9 * CHUNK + 17, 1);
    controller.blobs.put(digest(blob), blob);
    feature = feature();
    feature.want(new DesiredState("cache", 1, NOON, List.of()));

    CountDownLatch go = new CountDownLatch(1);
    List<CompletableFuture<CompletableFuture<Void>>> asks = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      asks.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                return feature.pull(digest(blob));
              },
              askers));
    }
    go.countDown();
    for (var a : asks) {
      a.get(10, TimeUnit.SECONDS).get(30, TimeUnit.SECONDS);
    }

    assertThat(Files.readAllBytes(feature.blobs().find(digest(blob)).orElseThrow()))
        .isEqualTo(blob);
    assertThat(controller.served).isEqualTo(blob.length);
    assertThat(controller.servedFrom).containsExactly(0L);
    // One chunk list to learn the size, one for the download: never one per neighbour.
    assertThat(controller.chunkLists).isLessThanOrEqualTo(2);
    // A later ask for a held blob is answered at once, without the source.
    assertThat(feature.pull(digest(blob))).isCompleted();
    assertThat(controller.attempts).isEqualTo(1);
  }

  @Test
  void theDevicesOwnBlobsComeFirstAndPulledOnesStayOutOfItsReport() throws Exception {
    byte[] own = bytes(3 * CHUNK, 2);
    byte[] asked = bytes(2 * CHUNK, 3);
    controller.blobs.put(digest(own), own);
    controller.blobs.put(digest(asked), asked);
    feature = feature();
    feature.want(
        new DesiredState("cache", 1, NOON, List.of(), List.of(), List.of())
            .withDownloads(List.of(ref(own)), null));
    CompletableFuture<Void> pull = feature.pull(digest(asked));

    pull.get(10, TimeUnit.SECONDS);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> feature.status().map(r -> !r.held().isEmpty()).orElse(false));
    assertThat(controller.order()).containsExactly(digest(own), digest(asked));
    AgentMessage.ArtifactReport report = feature.status().orElseThrow();
    assertThat(report.held()).containsExactly(digest(own));
    assertThat(report.fetching()).isEmpty();
  }

  @Test
  void aBlobTheControllerDoesNotHaveFailsTheAskersAtOnce() {
    feature = feature();
    feature.want(new DesiredState("cache", 1, NOON, List.of()));
    String unknown = digest(bytes(10, 4));

    CompletableFuture<Void> pull = feature.pull(unknown);

    await().atMost(Duration.ofSeconds(10)).until(pull::isDone);
    assertThatThrownBy(pull::get)
        .isInstanceOf(ExecutionException.class)
        .hasMessageContaining("HTTP 404");
    assertThatThrownBy(() -> feature.pull("sha256:../../etc/passwd").get())
        .hasMessageContaining("no sha256:<64 hex> digest");
  }

  private ArtifactsFeature feature() {
    return new ArtifactsFeature(
        new BlobCache(dir.resolve("blobs"), 0, p -> Long.MAX_VALUE, p -> false),
        new OrderedSource(controller),
        ArtifactsFeature.Options.defaults().withTick(Duration.ofHours(1)),
        timer,
        clock,
        new PrintStream(log, true),
        (kind, severity, app, message) -> {},
        () -> {});
  }

  /** Records the order in which blobs are first asked for. */
  private static final class OrderedSource implements ArtifactSource {
    private final SiteCacheSourceTest.Memory memory;

    OrderedSource(SiteCacheSourceTest.Memory memory) {
      this.memory = memory;
    }

    @Override
    public String name() {
      return memory.name();
    }

    @Override
    public io.edgefleet.protocol.ArtifactChunks chunks(String digest) throws java.io.IOException {
      synchronized (memory) {
        return memory.chunks(digest);
      }
    }

    @Override
    public long range(String digest, long from, long end, Receiver receiver)
        throws java.io.IOException {
      synchronized (memory) {
        memory.order.add(digest);
        return memory.range(digest, from, end, receiver);
      }
    }
  }
}
