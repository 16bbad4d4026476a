package io.edgefleet.e2e.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A site of three real agents and a real controller over mutual TLS: the device tagged {@code
 * edgefleet.io/site-cache=true} serves blobs to the two others of site {@code s1} over HTTPS with
 * its device certificate, fetching from the controller what it does not hold (once); the controller
 * tells each device its site's cache in its signed desired state. The bytes the controller's device
 * artifact route sent are read from its {@code /metrics}.
 *
 * <p>No renderer produces container apps here, so, as in {@link ArtifactDownloadsIT}, the test adds
 * the blob to the {@code stage} list of the desired state each agent received (everything else in
 * it, the site cache section included, is the controller's), once the device knows its site's
 * cache.
 */
class SiteCacheIT {
  private static final int MIB = 1 << 20;
  private static final Pattern SERVED =
      Pattern.compile("^edgefleet_device_artifact_bytes_total (\\S+)$", Pattern.MULTILINE);

  @TempDir Path dir;

  TestController controller;
  AdminClient admin;
  TestAgents agents;
  ScheduledExecutorService timer;
  final List<Node> nodes = new ArrayList<>();

  @BeforeEach
  void start() {
    controller =
        TestController.start(
            TestController.config(dir.resolve("controller")).withMaxArtifactBytes(64L << 20));
    admin = controller.admin();
    agents = new TestAgents(dir);
    timer = Executors.newScheduledThreadPool(2);
  }

  @AfterEach
  void stop() {
    agents.close();
    timer.shutdownNow();
    controller.close();
  }

  @Test
  void threeDevicesOfASiteCostTheWanOneBlob() throws Exception {
    byte[] blob = ArtifactDownloadsIT.blob(24 * MIB + 4321, 11);
    ArtifactRef ref = push(blob, "site-1");
    Node cache = node("cache", true);
    Node n1 = node("n1", false);
    Node n2 = node("n2", false);
    awaitNeighboursKnowTheCache(cache, n1, n2);
    long before = served();

    // All three need it at the same time: the cache fetches it once, the neighbours wait for it.
    for (Node n : List.of(cache, n1, n2)) {
      n.want(ref);
    }
    for (Node n : List.of(cache, n1, n2)) {
      awaitHeld(n, ref, blob);
    }

    long wan = served() - before;
    System.out.printf(
        "site of 3, blob of %d bytes: the controller sent %d bytes of artifacts%n",
        blob.length, wan);
    assertThat(wan).isEqualTo(blob.length);
    for (Node n : List.of(n1, n2)) {
      SiteCacheSource.Stats s = n.source.stats();
      assertThat(s.fromCache()).as(n.name).isEqualTo(blob.length);
      assertThat(s.fromController()).as(n.name).isZero();
      assertThat(s.mismatches()).isZero();
    }
    SiteCacheServer.Stats server = cache.site.server().orElseThrow().stats();
    assertThat(server.bytes()).isEqualTo(2L * blob.length);
    assertThat(cache.source.stats().fromController()).isEqualTo(blob.length);

    // The operator sees which cache each device uses.
    JsonNode view = admin.get("/api/v1/devices/" + n1.id() + "/site-cache").body();
    assertThat(view.path("cache").asText()).isEqualTo(cache.id());
    assertThat(view.path("url").asText()).startsWith("https://127.0.0.1:");
    assertThat(view.path("serves").asBoolean()).isFalse();
    JsonNode self = admin.get("/api/v1/devices/" + cache.id() + "/site-cache").body();
    assertThat(self.path("serves").asBoolean()).isTrue();
  }

  @Test
  void whenTheCacheIsDownTheNeighboursFetchFromTheController() throws Exception {
    byte[] blob = ArtifactDownloadsIT.blob(6 * MIB + 99, 12);
    ArtifactRef ref = push(blob, "site-2");
    Node cache = node("cache", true);
    Node n1 = node("n1", false);
    Node n2 = node("n2", false);
    awaitNeighboursKnowTheCache(cache, n1, n2);
    // The cache's server dies without a word to anyone (a crash, a pulled cable): its neighbours
    // still have its address. (An agent that stops tells the controller, which tells them.)
    cache.site.server().orElseThrow().close();
    long before = served();

    n1.want(ref);
    n2.want(ref);
    awaitHeld(n1, ref, blob);
    awaitHeld(n2, ref, blob);

    assertThat(served() - before).isEqualTo(2L * blob.length);
    for (Node n : List.of(n1, n2)) {
      SiteCacheSource.Stats s = n.source.stats();
      assertThat(s.fromCache()).isZero();
      assertThat(s.fromController()).isEqualTo(blob.length);
      assertThat(s.fallbacks()).isGreaterThanOrEqualTo(1);
    }
  }

  @Test
  void aCacheServingACorruptedChunkIsCaughtAndTheBlobIsRightAnyway() throws Exception {
    byte[] blob = ArtifactDownloadsIT.blob(5 * MIB + 7, 13);
    ArtifactRef ref = push(blob, "site-3");
    Node cache = node("cache", true);
    Node n1 = node("n1", false);
    awaitNeighboursKnowTheCache(cache, n1);
    cache.want(ref);
    awaitHeld(cache, ref, blob);
    // The cache's copy goes bad on its disk in the fourth chunk.
    Path held = cache.artifacts.blobs().find(ref.digest()).orElseThrow();
    flip(held, 3L * MIB + 1234);
    long before = served();

    n1.want(ref);
    awaitHeld(n1, ref, blob);

    SiteCacheSource.Stats s = n1.source.stats();
    assertThat(s.mismatches()).isEqualTo(1);
    assertThat(n1.artifacts.stats().mismatches()).isEqualTo(1);
    // The three good chunks from the cache were kept; the bad one and the rest came from the
    // controller.
    assertThat(s.fromController()).isEqualTo(blob.length - 3L * MIB);
    assertThat(served() - before).isEqualTo(blob.length - 3L * MIB);
  }

  @Test
  void theCacheServesOnlyFleetDevicesAndANeighbourTrustsOnlyTheDeviceItWasTold() throws Exception {
    byte[] blob = ArtifactDownloadsIT.blob(2 * MIB + 5, 14);
    ArtifactRef ref = push(blob, "site-4");
    Node cache = node("cache", true);
    Node n1 = node("n1", false);
    awaitNeighboursKnowTheCache(cache, n1);
    cache.want(ref);
    awaitHeld(cache, ref, blob);
    java.net.URI url = java.net.URI.create(n1.siteCache().orElseThrow().url());

    // A client without a device certificate of the fleet gets no answer.
    javax.net.ssl.SSLContext anyone = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
    anyone.init(
        null,
        new javax.net.ssl.TrustManager[] {
          new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) {}

            @Override
            public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) {}

            @Override
            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
              return new java.security.cert.X509Certificate[0];
            }
          }
        },
        null);
    int first;
    try (javax.net.ssl.SSLSocket s =
        (javax.net.ssl.SSLSocket)
            anyone.getSocketFactory().createSocket(url.getHost(), url.getPort())) {
      s.setSoTimeout(10_000);
      s.startHandshake();
      s.getOutputStream()
          .write(
              ("GET /blobs/" + ref.digest() + " HTTP/1.1\r\nHost: x\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      first = s.getInputStream().read();
    } catch (java.io.IOException e) {
      first = -1;
    }
    assertThat(first).as("a byte of an answer to a client without a certificate").isEqualTo(-1);
    assertThat(cache.site.server().orElseThrow().stats().bytes()).isZero();

    // A neighbour told that another device serves there refuses the cache's certificate.
    n1.source.use(new DesiredState.SiteCache("s1", "dev-someone-else", url.toString(), false));
    n1.want(ref);
    awaitHeld(n1, ref, blob);
    assertThat(n1.source.stats().fromCache()).isZero();
    assertThat(n1.source.stats().fallbacks()).isGreaterThanOrEqualTo(1);
    assertThat(cache.site.server().orElseThrow().stats().bytes()).isZero();
  }

  @Test
  void theCacheServesOnlyTheActiveDevicesOfItsSite() throws Exception {
    byte[] blob = ArtifactDownloadsIT.blob(MIB + 5, 17);
    ArtifactRef ref = push(blob, "site-6");
    Node cache = node("cache", true);
    Node n1 = node("n1", false);
    Node elsewhere = node("elsewhere", false, "s2");
    awaitNeighboursKnowTheCache(cache, n1);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> cache.siteCache().orElseThrow().neighbours().equals(List.of(n1.id())));
    cache.want(ref);
    awaitHeld(cache, ref, blob);
    java.net.URI url = java.net.URI.create(n1.siteCache().orElseThrow().url());
    String request = "HEAD /blobs/" + ref.digest() + " HTTP/1.1\r\n\r\n";

    assertThat(head(deviceContext(n1), url, request)).startsWith("HTTP/1.1 200");
    // A device of the fleet, but of another site: refused at the handshake.
    assertThat(answered(deviceContext(elsewhere), url, request)).isFalse();

    // Decommissioned (its certificate revoked): the cache is told and refuses it from then on.
    assertThat(admin.post("/api/v1/devices/" + n1.id() + "/decommission", Map.of()).status())
        .isIn(200, 204);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> cache.siteCache().orElseThrow().neighbours().isEmpty());
    assertThat(answered(deviceContext(n1), url, request)).isFalse();
    assertThat(cache.site.server().orElseThrow().stats().bytes()).isZero();
  }

  /** Whether the site cache answers {@code request} at all over {@code ctx}. */
  private static boolean answered(javax.net.ssl.SSLContext ctx, java.net.URI url, String request)
      throws Exception {
    try {
      return head(ctx, url, request).startsWith("HTTP/1.1");
    } catch (java.io.IOException e) {
      return false;
    }
  }

  @Test
  void theCacheAnswersOnlyItsRoutesWithValidDigestsAndBoundedRequests() throws Exception {
    byte[] blob = ArtifactDownloadsIT.blob(MIB + 3, 15);
    ArtifactRef ref = push(blob, "site-5");
    Node cache = node("cache", true);
    Node n1 = node("n1", false);
    awaitNeighboursKnowTheCache(cache, n1);
    cache.want(ref);
    awaitHeld(cache, ref, blob);
    java.net.URI url = java.net.URI.create(n1.siteCache().orElseThrow().url());
    javax.net.ssl.SSLContext device = deviceContext(n1);

    assertThat(head(device, url, "GET /blobs/../../etc/passwd HTTP/1.1\r\n\r\n"))
        .startsWith("HTTP/1.1 404");
    assertThat(head(device, url, "GET /blobs/sha256:..%2F..%2Fidentity HTTP/1.1\r\n\r\n"))
        .startsWith("HTTP/1.1 404");
    assertThat(head(device, url, "DELETE /blobs/" + ref.digest() + " HTTP/1.1\r\n\r\n"))
        .startsWith("HTTP/1.1 405");
    assertThat(
            head(
                device,
                url,
                "GET /blobs/" + ref.digest() + " HTTP/1.1\r\nX: " + "a".repeat(9000) + "\r\n\r\n"))
        .startsWith("HTTP/1.1 400");
    assertThat(
            head(
                device,
                url,
                "GET /blobs/"
                    + ref.digest()
                    + " HTTP/1.1\r\nRange: bytes="
                    + blob.length
                    + "-\r\n\r\n"))
        .startsWith("HTTP/1.1 416");
    String partial =
        head(device, url, "GET /blobs/" + ref.digest() + " HTTP/1.1\r\nRange: bytes=10-19\r\n\r\n");
    assertThat(partial)
        .startsWith("HTTP/1.1 206")
        .contains("Content-Range: bytes 10-19/" + blob.length);
    assertThat(head(device, url, "GET /blobs/" + ref.digest() + "/chunks HTTP/1.1\r\n\r\n"))
        .startsWith("HTTP/1.1 200")
        .contains("application/json");
  }

  /** A TLS context with {@code n}'s device key and certificate that trusts any server. */
  private static javax.net.ssl.SSLContext deviceContext(Node n) throws Exception {
    var identity = n.agent.identity().orElseThrow();
    java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    char[] pw = "test".toCharArray();
    ks.setKeyEntry(
        "device",
        identity.key().getPrivate(),
        pw,
        new java.security.cert.X509Certificate[] {identity.certificate(), identity.ca()});
    javax.net.ssl.KeyManagerFactory kmf =
        javax.net.ssl.KeyManagerFactory.getInstance(
            javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, pw);
    javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
    ctx.init(kmf.getKeyManagers(), new javax.net.ssl.TrustManager[] {anyServer()}, null);
    return ctx;
  }

  private static javax.net.ssl.X509TrustManager anyServer() {
    return new javax.net.ssl.X509TrustManager() {
      @Override
      public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) {}

      @Override
      public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) {}

      @Override
      public java.security.cert.X509Certificate[] getAcceptedIssuers() {
        return new java.security.cert.X509Certificate[0];
      }
    };
  }

  /** Sends {@code request} as it is and returns the answer's head. */
  private static String head(javax.net.ssl.SSLContext ctx, java.net.URI url, String request)
      throws Exception {
    try (javax.net.ssl.SSLSocket s =
        (javax.net.ssl.SSLSocket)
            ctx.getSocketFactory().createSocket(url.getHost(), url.getPort())) {
      s.setSoTimeout(20_000);
      s.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      java.io.ByteArrayOutputStream head = new java.io.ByteArrayOutputStream();
      java.io.InputStream in = s.getInputStream();
      int last = 0;
      int b;
      while (last != 0x0D0A0D0A && (b = in.read()) >= 0) {
        head.write(b);
        last = (last << 8) | b;
      }
      return head.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
    }
  }

  /** One agent of the site with its artifact and site cache features. */
  final class Node {
    final String name;
    final boolean isCache;
    final AgentOptions options;
    Agent agent;
    ArtifactsFeature artifacts;
    SiteCacheSource source;
    SiteCacheFeature site;
    volatile ArtifactRef wanted;
    volatile DesiredState last;

    Node(String name, boolean isCache, AgentOptions options) {
      this.name = name;
      this.isCache = isCache;
      this.options = options;
    }

    String id() {
      return agent.status().deviceId().orElseThrow();
    }

    Optional<DesiredState.SiteCache> siteCache() {
      DesiredState s = last;
      return s == null ? Optional.empty() : Optional.ofNullable(s.siteCache());
    }

    void want(ArtifactRef ref) {
      wanted = ref;
      DesiredState s = last;
      if (s != null) {
        apply(s);
      }
    }

    void apply(DesiredState state) {
      last = state;
      ArtifactRef r = wanted;
      artifacts.applied(r == null ? state : state.withDownloads(List.of(r), null));
    }
  }

  private Node node(String name, boolean isCache) {
    return node(name, isCache, "s1");
  }

  private Node node(String name, boolean isCache, String site) {
    Map<String, String> tags =
        isCache
            ? Map.of(
                DesiredState.SiteCache.SITE_TAG, site, DesiredState.SiteCache.CACHE_TAG, "true")
            : Map.of(DesiredState.SiteCache.SITE_TAG, site);
    String token = controller.token(tags, null, false);
    AgentOptions options =
        agents.options(
            name, agents.bootstrap(name, controller.url(), controller.caFingerprint(), token));
    Node n = new Node(name, isCache, options);
    Clock clock = Clock.systemUTC();
    BlobCache blobs = BlobCache.open(options.stateDir(), 0);
    n.agent =
        agents.start(
            options,
            clock,
            new NoRuntime("test agent"),
            List.of(
                a -> {
                  n.source = SiteCacheSource.forAgent(a, clock, System.out);
                  n.artifacts =
                      ArtifactsFeature.forAgent(
                          a, blobs, n.source, TestAgents.fastArtifacts(), timer, clock, System.out);
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
                          n.source,
                          System.out);
                  return n.site;
                },
                a -> new Feeding(n)));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> n.agent.status().state() == Agent.State.CONNECTED);
    nodes.add(n);
    return n;
  }

  /** Until the cache serves and each neighbour's desired state names it with its address. */
  private void awaitNeighboursKnowTheCache(Node cache, Node... neighbours) {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                cache.siteCache().map(DesiredState.SiteCache::serve).orElse(false)
                    && cache.site.server().isPresent());
    for (Node n : neighbours) {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  n.siteCache()
                      .filter(c -> !c.serve() && c.url() != null)
                      .filter(c -> c.deviceId().equals(cache.id()))
                      .isPresent());
    }
  }

  private static void awaitHeld(Node n, ArtifactRef ref, byte[] blob) throws Exception {
    await()
        .atMost(Duration.ofSeconds(120))
        .until(() -> n.artifacts.blobs().find(ref.digest()).isPresent());
    assertThat(Files.readAllBytes(n.artifacts.blobs().find(ref.digest()).orElseThrow()))
        .as(n.name)
        .isEqualTo(blob);
  }

  private long served() {
    Matcher m = SERVED.matcher(admin.get("/metrics").body().asText());
    assertThat(m.find()).as("the controller counts the artifact bytes it sends").isTrue();
    return (long) Double.parseDouble(m.group(1));
  }

  private ArtifactRef push(byte[] bytes, String version) throws Exception {
    String digest = ArtifactsIT.digest(bytes);
    AdminClient.Answer a =
        ArtifactsIT.push(admin, bytes, "vm-disk", version, Map.of("X-Edgefleet-Digest", digest));
    assertThat(a.status()).as(a.body().toString()).isEqualTo(201);
    return new ArtifactRef(digest, bytes.length);
  }

  private static void flip(Path file, long offset) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(offset);
      int b = f.read();
      f.seek(offset);
      f.write(b ^ 0x20);
    }
  }

  /**
   * The artifact feature on the agent's connection, fed the desired state the agent received with
   * the test's blob in its {@code stage} list.
   */
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
