package io.edgefleet.bench;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.artifacts.ArtifactsFeature;
import io.edgefleet.agent.artifacts.BlobCache;
import io.edgefleet.agent.artifacts.SiteCacheFeature;
import io.edgefleet.agent.artifacts.SiteCacheServer;
import io.edgefleet.agent.artifacts.SiteCacheSource;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * WAN bytes of a site of three devices that all need the same artifact: once without a site cache
 * (each device fetches from the controller), once with one (the tagged device fetches, its two
 * neighbours fetch from it over HTTPS on loopback). The WAN bytes are what the controller's device
 * artifact route sent ({@code edgefleet_device_artifact_bytes_total}); real controller, three real
 * agents in this process.
 *
 * <pre>
 *   SiteCacheBench [--mib 100] [--out file.json]
 * </pre>
 */
public final class SiteCacheBench {
  private static final Pattern SERVED =
      Pattern.compile("^edgefleet_device_artifact_bytes_total (\\S+)$", Pattern.MULTILINE);

  /** One agent and its artifact features. */
  private static final class Node {
    Agent agent;
    ArtifactsFeature artifacts;
    SiteCacheFeature site;
    volatile DesiredState last;
    volatile ArtifactRef wanted;

    void apply(DesiredState s) {
      last = s;
      ArtifactRef r = wanted;
      artifacts.applied(r == null ? s : s.withDownloads(List.of(r), null));
    }

    void want(ArtifactRef r) {
      wanted = r;
      DesiredState s = last;
      if (s != null) {
        apply(s);
      }
    }
  }

  public static void main(String[] args) throws Exception {
    int mib = 100;
    Path out = null;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--mib" -> mib = Integer.parseInt(args[i + 1]);
        case "--out" -> out = Path.of(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Path dir = Files.createTempDirectory("edgefleet-site-cache-bench");
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
    byte[] blob = new byte[mib * 1_000_000];
    new Random(42).nextBytes(blob);
    String digest =
        "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(blob));
    ArtifactRef ref = new ArtifactRef(digest, blob.length);
    try (TestController controller =
            TestController.start(
                TestController.config(dir.resolve("controller"))
                    .withMaxArtifactBytes(blob.length + (64L << 20)));
        TestAgents agents = new TestAgents(dir, quiet);
        AdminClient admin = controller.admin()) {
      AdminClient.Answer pushed =
          admin.postBytes(
              "/api/v1/artifacts?kind=vm-disk&version=bench",
              blob,
              "application/octet-stream",
              Map.of("X-Edgefleet-Digest", digest));
      if (pushed.status() != 201) {
        throw new IllegalStateException("push failed: " + pushed.body());
      }
      long[] without = run(controller, agents, admin, timer, quiet, "plain", false, ref, dir);
      long[] with = run(controller, agents, admin, timer, quiet, "cached", true, ref, dir);
      System.out.printf("site of 3 devices, one artifact of %d bytes%n", blob.length);
      System.out.printf("%-16s %14s %8s %10s%n", "", "WAN bytes", "blobs", "seconds");
      row("without cache", without, blob.length);
      row("with site cache", with, blob.length);
      if (out != null) {
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(
            out,
            String.format(
                "{\"devices\": 3, \"blobBytes\": %d, \"withoutCache\": {\"wanBytes\": %d,"
                    + " \"millis\": %d}, \"withCache\": {\"wanBytes\": %d, \"millis\": %d}}%n",
                blob.length, without[0], without[1], with[0], with[1]));
      }
    } finally {
      timer.shutdownNow();
    }
  }

  private static void row(String name, long[] r, long blob) {
    System.out.printf("%-16s %14d %8.2f %10.1f%n", name, r[0], (double) r[0] / blob, r[1] / 1000.0);
  }

  /** Three devices of one site fetch {@code ref}: the WAN bytes and the milliseconds it took. */
  private static long[] run(
      TestController controller,
      TestAgents agents,
      AdminClient admin,
      ScheduledExecutorService timer,
      PrintStream quiet,
      String site,
      boolean cached,
      ArtifactRef ref,
      Path dir)
      throws Exception {
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      boolean isCache = cached && i == 0;
      Map<String, String> tags =
          isCache
              ? Map.of(
                  DesiredState.SiteCache.SITE_TAG, site, DesiredState.SiteCache.CACHE_TAG, "true")
              : Map.of(DesiredState.SiteCache.SITE_TAG, site);
      String name = site + "-" + i;
      AgentOptions options =
          agents.options(
              name,
              agents.bootstrap(
                  name,
                  controller.url(),
                  controller.caFingerprint(),
                  controller.token(tags, null, false)));
      nodes.add(start(agents, options, isCache, timer, quiet));
    }
    if (cached) {
      Node cache = nodes.getFirst();
      String id = cache.agent.status().deviceId().orElseThrow();
      waitFor(
          () ->
              nodes.stream()
                  .skip(1)
                  .allMatch(
                      n ->
                          n.last != null
                              && n.last.siteCache() != null
                              && n.last.siteCache().url() != null
                              && n.last.siteCache().deviceId().equals(id)));
    }
    long before = served(admin);
    long start = System.nanoTime();
    nodes.forEach(n -> n.want(ref));
    waitFor(() -> nodes.stream().allMatch(n -> n.artifacts.blobs().find(ref.digest()).isPresent()));
    long millis = (System.nanoTime() - start) / 1_000_000;
    long wan = served(admin) - before;
    nodes.forEach(n -> n.agent.close());
    return new long[] {wan, millis};
  }

  private static Node start(
      TestAgents agents,
      AgentOptions options,
      boolean isCache,
      ScheduledExecutorService timer,
      PrintStream quiet)
      throws InterruptedException {
    Node n = new Node();
    Clock clock = Clock.systemUTC();
    BlobCache blobs = BlobCache.open(options.stateDir(), 0);
    n.agent =
        agents.start(
            options,
            clock,
            new NoRuntime("bench agent"),
            List.of(
                a -> {
                  SiteCacheSource source = SiteCacheSource.forAgent(a, clock, quiet);
                  n.artifacts =
                      ArtifactsFeature.forAgent(
                          a,
                          blobs,
                          source,
                          ArtifactsFeature.Options.defaults()
                              .withTick(Duration.ofMillis(500))
                              .withRetry(Duration.ofMillis(200), Duration.ofSeconds(1)),
                          timer,
                          clock,
                          quiet);
                  n.site =
                      SiteCacheFeature.forAgent(
                          a,
                          isCache
                              ? new SiteCacheFeature.Options(
                                  Optional.of(new InetSocketAddress("127.0.0.1", 0)),
                                  Optional.empty(),
                                  SiteCacheServer.Limits.defaults())
                              : SiteCacheFeature.Options.none(),
                          blobs,
                          n.artifacts,
                          source,
                          quiet);
                  return n.site;
                },
                a -> new Feeding(n)));
    waitFor(() -> n.agent.status().state() == Agent.State.CONNECTED);
    return n;
  }

  private static long served(AdminClient admin) {
    Matcher m = SERVED.matcher(admin.get("/metrics").body().asText());
    if (!m.find()) {
      throw new IllegalStateException("the controller reports no edgefleet_device_artifact_bytes");
    }
    return (long) Double.parseDouble(m.group(1));
  }

  /** Polls {@code done} every 50 ms for up to 10 minutes. */
  private static void waitFor(BooleanSupplier done) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out");
      }
      Thread.sleep(50);
    }
  }

  /** Feeds the artifact feature the received desired state with the bench's artifact staged. */
  private record Feeding(Node node) implements AgentFeature {
    @Override
    public void applied(DesiredState state) {
      node.apply(state);
    }

    @Override
    public void connected(Channel channel, ControllerMessage.Welcome welcome) {
      node.artifacts.connected(channel, welcome);
    }

    @Override
    public void disconnected() {
      node.artifacts.disconnected();
    }

    @Override
    public boolean handle(ControllerMessage message) {
      return node.artifacts.handle(message);
    }

    @Override
    public boolean event(String kind, String severity, String app, String message, Instant at) {
      return false;
    }

    @Override
    public void close() {
      node.artifacts.close();
    }
  }
}
