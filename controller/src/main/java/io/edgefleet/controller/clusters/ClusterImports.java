package io.edgefleet.controller.clusters;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.render.RenderedApp;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The import of clusters into a third-party cluster manager: once a cluster with an import URL is
 * up (it has an applier and is past forming), the controller fetches the manifest from the URL,
 * checks that it is Kubernetes objects, keeps it, and offers it as the app {@value #APP} to the
 * cluster's applier, which applies it like any other app. A failed fetch says why in the cluster's
 * view and is tried again with a growing delay, while the applier keeps the manifest fetched
 * before; a changed URL fetches again; a URL removed withdraws the app. Fetches run on this
 * feature's own thread, one at a time, each bounded in time and size. Thread-safe.
 */
public final class ClusterImports implements AppCatalog, AutoCloseable {
  /** The name and source of the import app on the applier. */
  public static final String APP = "cluster-import";

  /** The largest manifest fetched. */
  public static final int MAX_BYTES = 1 << 20;

  static final Duration FIRST_RETRY = Duration.ofMinutes(1);
  static final Duration LAST_RETRY = Duration.ofHours(1);
  private static final int FETCHES_PER_TICK = 8;
  private static final Logger LOG = LoggerFactory.getLogger(ClusterImports.class);
  private static final YAMLMapper YAML = new YAMLMapper();

  /** Fetches the manifest at a URL. */
  @FunctionalInterface
  public interface Fetcher {
    /**
     * @throws IOException with a message for a person: unreachable, not 200, too large
     */
    String fetch(String url) throws IOException;

    /** Over HTTP(S), each fetch bounded by {@code timeout} and {@link #MAX_BYTES}. */
    static Fetcher http(Duration timeout) {
      HttpClient client =
          HttpClient.newBuilder()
              .connectTimeout(timeout)
              .followRedirects(HttpClient.Redirect.NORMAL)
              .build();
      return url -> {
        HttpRequest request =
            HttpRequest.newBuilder(URI.create(url)).timeout(timeout).GET().build();
        HttpResponse<InputStream> response;
        try {
          response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted");
        } catch (IOException e) {
          throw new IOException(
              "could not fetch "
                  + url
                  + ": "
                  + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        }
        try (InputStream in = response.body()) {
          if (response.statusCode() != 200) {
            throw new IOException(url + " answered HTTP " + response.statusCode());
          }
          byte[] bytes = in.readNBytes(MAX_BYTES + 1);
          if (bytes.length > MAX_BYTES) {
            throw new IOException(
                "the manifest at " + url + " is larger than " + (MAX_BYTES >> 20) + " MiB");
          }
          try {
            return StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .decode(java.nio.ByteBuffer.wrap(bytes))
                .toString();
          } catch (CharacterCodingException e) {
            throw new IOException("the manifest at " + url + " is not UTF-8 text");
          }
        }
      };
    }
  }

  /**
   * Where a cluster's import stands.
   *
   * @param state {@code PENDING} (the cluster is not up yet, or the first fetch is due), {@code
   *     FETCHED} (the manifest is delivered to the applier as the app {@value #APP}) or {@code
   *     FAILED} (the last fetch failed; {@code error} says why, the next one is at {@code
   *     nextAttemptAt})
   */
  public record Status(
      String url,
      String state,
      String digest,
      Instant fetchedAt,
      String error,
      int attempts,
      Instant nextAttemptAt) {}

  private record Fetched(String digest) {}

  private final Jdbi jdbi;
  private final Clock clock;
  private final ClusterStore clusters;
  private final Fetcher fetcher;
  private final Consumer<String> changed;
  private final ScheduledExecutorService worker;
  private volatile Map<String, Fetched> fetched;

  /**
   * @param changed told the cluster's name when the manifest offered to its applier changed
   */
  public ClusterImports(
      Jdbi jdbi, Clock clock, ClusterStore clusters, Fetcher fetcher, Consumer<String> changed) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.clusters = clusters;
    this.fetcher = fetcher;
    this.changed = changed;
    this.worker =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "edgefleet-cluster-imports");
              t.setDaemon(true);
              return t;
            });
    this.fetched = load();
  }

  /** Looks for imports to fetch every {@code every}, on this feature's thread. */
  public void start(Duration every) {
    long ms = every.toMillis();
    worker.scheduleWithFixedDelay(this::safeTick, ms, ms, TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    worker.shutdownNow();
  }

  private void safeTick() {
    try {
      tick();
    } catch (RuntimeException e) {
      LOG.warn("cluster imports: tick failed", e);
    }
  }

  /**
   * Fetches the imports that are due: of clusters that are up, whose URL has no manifest yet (or
   * changed), and whose last failure has waited its delay; forgets the imports of clusters that are
   * gone or have no URL any more. At most a few fetches per call.
   */
  void tick() {
    Instant now = clock.instant();
    List<ClusterStore.Row> rows = jdbi.withHandle(clusters::withImport);
    Map<String, Status> known = jdbi.withHandle(this::statuses);
    int budget = FETCHES_PER_TICK;
    for (ClusterStore.Row c : rows) {
      Status s = known.remove(c.name());
      boolean sameUrl = s != null && s.url().equals(c.importManifestUrl());
      if (!up(c)
          || (sameUrl && s.digest() != null && s.error() == null)
          || (sameUrl && s.nextAttemptAt().isAfter(now))
          || budget == 0) {
        continue;
      }
      budget--;
      fetch(c.name(), c.importManifestUrl(), sameUrl ? s.attempts() : 0, now);
    }
    known.keySet().forEach(this::forget);
  }

  /** A cluster is up for its import once it has an applier and has formed. */
  static boolean up(ClusterStore.Row c) {
    return !c.deactivated()
        && c.applier() != null
        && c.state() != ClusterModel.State.FORMING
        && c.state() != ClusterModel.State.PENDING;
  }

  private void fetch(String cluster, String url, int attempts, Instant now) {
    String manifest;
    try {
      manifest = check(fetcher.fetch(url));
    } catch (IOException e) {
      int n = attempts + 1;
      Instant next = now.plus(retryDelay(n));
      jdbi.useHandle(
          h ->
              upsert(
                  h, cluster, url, null, null, null, e.getMessage(), n, next.toEpochMilli(), true));
      LOG.info("cluster {}: import manifest not fetched: {}", cluster, e.getMessage());
      return;
    }
    RenderedApp rendered = RenderedApp.of(manifest);
    jdbi.useHandle(
        h ->
            upsert(
                h,
                cluster,
                url,
                rendered.digest(),
                manifest,
                now.toEpochMilli(),
                null,
                0,
                now.toEpochMilli(),
                false));
    Fetched before = fetched.get(cluster);
    fetched = load();
    if (before == null || !before.digest().equals(rendered.digest())) {
      changed.accept(cluster);
    }
  }

  /** The delay before attempt {@code n + 1} after {@code n} failures: doubling, capped. */
  static Duration retryDelay(int failures) {
    Duration d = FIRST_RETRY;
    for (int i = 1; i < failures && d.compareTo(LAST_RETRY) < 0; i++) {
      d = d.multipliedBy(2);
    }
    return d.compareTo(LAST_RETRY) > 0 ? LAST_RETRY : d;
  }

  /**
   * The manifest if it is one or more Kubernetes objects (each a mapping with {@code apiVersion}
   * and {@code kind}).
   *
   * @throws IOException naming the first document that is not
   */
  static String check(String text) throws IOException {
    int count = 0;
    try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(text)) {
      while (docs.hasNextValue()) {
        JsonNode doc = docs.nextValue();
        count++;
        if (doc == null || doc.isNull() || doc.isMissingNode()) {
          count--;
          continue;
        }
        if (!doc.isObject()
            || !doc.path("apiVersion").isTextual()
            || !doc.path("kind").isTextual()) {
          throw new IOException(
              "document "
                  + count
                  + " of the import manifest is not a Kubernetes object"
                  + " (it needs apiVersion and kind)");
        }
      }
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("document ")) {
        throw e;
      }
      throw new IOException("the import manifest is not YAML: " + firstLine(e.getMessage()));
    }
    if (count == 0) {
      throw new IOException("the import manifest holds no Kubernetes objects");
    }
    return text;
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "unreadable";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private void forget(String cluster) {
    jdbi.useHandle(
        h ->
            h.createUpdate("DELETE FROM cluster_imports WHERE cluster = :c")
                .bind("c", cluster)
                .execute());
    Fetched before = fetched.get(cluster);
    fetched = load();
    if (before != null) {
      changed.accept(cluster);
    }
  }

  private static void upsert(
      Handle h,
      String cluster,
      String url,
      String digest,
      String manifest,
      Long fetchedAt,
      String error,
      int attempts,
      long nextAttemptAt,
      boolean keepManifest) {
    boolean exists =
        h.createQuery("SELECT COUNT(*) FROM cluster_imports WHERE cluster = :c")
                .bind("c", cluster)
                .mapTo(Integer.class)
                .one()
            > 0;
    if (!exists) {
      h.createUpdate(
              "INSERT INTO cluster_imports (cluster, url, digest, manifest, fetched_at, error,"
                  + " attempts, next_attempt_at) VALUES (:c, :u, :d, :m, :f, :e, :a, :n)")
          .bind("c", cluster)
          .bind("u", url)
          .bind("d", digest)
          .bind("m", manifest)
          .bind("f", fetchedAt)
          .bind("e", error)
          .bind("a", attempts)
          .bind("n", nextAttemptAt)
          .execute();
    } else if (keepManifest) {
      // A failed fetch keeps delivering the manifest fetched before (taking it away would make
      // the applier delete what it imported), and says why the newer one is not there.
      h.createUpdate(
              "UPDATE cluster_imports SET url = :u, error = :e, attempts = :a,"
                  + " next_attempt_at = :n WHERE cluster = :c")
          .bind("c", cluster)
          .bind("u", url)
          .bind("e", error)
          .bind("a", attempts)
          .bind("n", nextAttemptAt)
          .execute();
    } else {
      h.createUpdate(
              "UPDATE cluster_imports SET url = :u, digest = :d, manifest = :m, fetched_at = :f,"
                  + " error = NULL, attempts = 0, next_attempt_at = :n WHERE cluster = :c")
          .bind("c", cluster)
          .bind("u", url)
          .bind("d", digest)
          .bind("m", manifest)
          .bind("f", fetchedAt)
          .bind("n", nextAttemptAt)
          .execute();
    }
  }

  private Map<String, Status> statuses(Handle h) {
    return statuses(h, null);
  }

  /** The imports' statuses by cluster: every cluster's, or only {@code cluster}'s. */
  private static Map<String, Status> statuses(Handle h, String cluster) {
    Map<String, Status> out = new HashMap<>();
    h.createQuery(
            "SELECT cluster, url, digest, fetched_at, error, attempts, next_attempt_at"
                + " FROM cluster_imports"
                + (cluster == null ? "" : " WHERE cluster = :c"))
        .bindMap(cluster == null ? Map.of() : Map.of("c", cluster))
        .map(
            (rs, ctx) -> {
              long fetchedAt = rs.getLong("fetched_at");
              boolean hasFetched = !rs.wasNull();
              String digest = rs.getString("digest");
              String error = rs.getString("error");
              return Map.entry(
                  rs.getString("cluster"),
                  new Status(
                      rs.getString("url"),
                      error != null ? "FAILED" : digest != null ? "FETCHED" : "PENDING",
                      digest,
                      hasFetched ? Instant.ofEpochMilli(fetchedAt) : null,
                      error,
                      rs.getInt("attempts"),
                      Instant.ofEpochMilli(rs.getLong("next_attempt_at"))));
            })
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  private Map<String, Fetched> load() {
    Map<String, Fetched> out = new HashMap<>();
    jdbi.useHandle(
        h ->
            h.createQuery("SELECT cluster, digest FROM cluster_imports WHERE digest IS NOT NULL")
                .map((rs, ctx) -> Map.entry(rs.getString(1), new Fetched(rs.getString(2))))
                .forEach(e -> out.put(e.getKey(), e.getValue())));
    return Map.copyOf(out);
  }

  /**
   * Where a cluster's import stands: empty when the cluster has no import URL; {@code PENDING}
   * until the cluster is up and the first fetch ran.
   */
  Optional<Status> status(ClusterStore.Row c) {
    if (c.importManifestUrl() == null) {
      return Optional.empty();
    }
    Status s = jdbi.withHandle(h -> statuses(h, c.name())).get(c.name());
    if (s == null || !s.url().equals(c.importManifestUrl())) {
      return Optional.of(new Status(c.importManifestUrl(), "PENDING", null, null, null, 0, null));
    }
    return Optional.of(s);
  }

  @Override
  public List<App> apps() {
    return fetched.entrySet().stream()
        .map(
            e -> {
              String cluster = e.getKey();
              return new App(
                  APP,
                  APP,
                  e.getValue().digest(),
                  tags ->
                      cluster.equals(tags.get(ClusterTags.NAME))
                          && "true".equals(tags.get(ClusterTags.APPLIER)));
            })
        .toList();
  }

  @Override
  public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
    String cluster = tags.get(ClusterTags.NAME);
    String manifest =
        jdbi.withHandle(
                h ->
                    h.createQuery(
                            "SELECT manifest FROM cluster_imports WHERE cluster = :c AND digest ="
                                + " :d")
                        .bind("c", cluster)
                        .bind("d", app.revision())
                        .mapTo(String.class)
                        .findOne())
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "the import manifest of cluster " + cluster + " changed; recomputing"));
    return new Rendered(manifest, app.revision());
  }
}
