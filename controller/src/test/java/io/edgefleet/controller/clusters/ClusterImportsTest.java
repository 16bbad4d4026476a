package io.edgefleet.controller.clusters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.edgefleet.controller.clusters.ClusterModel.State;
import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.store.Database;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cluster imports against a real HTTP server and a real database: fetched once the cluster is up,
 * offered to its applier only, failures explained and retried with a growing delay while the
 * manifest fetched before stays, withdrawn when the URL goes.
 */
class ClusterImportsTest {
  static final Instant T0 = Instant.parse("2026-12-06T10:00:00Z");
  static final String MANIFEST =
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cattle-system\n---\n"
          + "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: cattle-cluster-agent\n"
          + "  namespace: cattle-system\n";

  @TempDir Path dir;
  Database db;
  HttpServer server;
  ClusterStore store = new ClusterStore();
  ClusterImports imports;
  final Map<String, String> bodies = new ConcurrentHashMap<>();
  final AtomicInteger hits = new AtomicInteger();
  final List<String> changed = new CopyOnWriteArrayList<>();
  String base;

  final TestClock clock = new TestClock(T0);

  @BeforeEach
  void start() throws IOException {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/",
        ex -> {
          hits.incrementAndGet();
          String body = bodies.get(ex.getRequestURI().getPath());
          byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(body == null ? 404 : 200, bytes.length == 0 ? -1 : bytes.length);
          try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
          }
        });
    server.start();
    base = "http://127.0.0.1:" + server.getAddress().getPort();
    imports =
        new ClusterImports(
            db.jdbi(),
            clock,
            store,
            ClusterImports.Fetcher.http(Duration.ofSeconds(5)),
            changed::add);
  }

  @AfterEach
  void stop() {
    imports.close();
    server.stop(0);
    db.close();
  }

  void cluster(String name, State state, String applier, String url) {
    ClusterStore.Row r =
        new ClusterStore.Row(
            name,
            "pool=" + name,
            3,
            3,
            0,
            0,
            "v1.30.2+k3s1",
            null,
            Map.of(),
            Map.of(),
            300,
            url,
            state,
            List.of(),
            applier,
            false,
            "k1",
            "sealed",
            1,
            "test",
            T0,
            T0,
            null);
    db.jdbi()
        .useHandle(
            h -> {
              if (store.byName(h, name).isPresent()) {
                store.updateDefinition(h, r);
                store.setOutcome(h, name, state, List.of(), applier);
              } else {
                store.insert(h, r);
              }
            });
  }

  ClusterImports.Status status(String name) {
    return imports
        .status(db.jdbi().withHandle(h -> store.byName(h, name)).orElseThrow())
        .orElse(null);
  }

  static Map<String, String> applier(String cluster) {
    return Map.of(ClusterTags.NAME, cluster, ClusterTags.APPLIER, "true");
  }

  @Test
  void theManifestIsFetchedOnceTheClusterIsUpAndGoesToItsApplierOnly() {
    bodies.put("/import/c1.yaml", MANIFEST);
    cluster("c1", State.FORMING, null, base + "/import/c1.yaml");
    imports.tick();
    assertThat(hits).hasValue(0);
    assertThat(status("c1").state()).isEqualTo("PENDING");
    assertThat(imports.apps()).isEmpty();

    cluster("c1", State.READY, "dev-1", base + "/import/c1.yaml");
    imports.tick();
    assertThat(hits).hasValue(1);
    assertThat(changed).containsExactly("c1");
    ClusterImports.Status s = status("c1");
    assertThat(s.state()).isEqualTo("FETCHED");
    assertThat(s.fetchedAt()).isEqualTo(T0);
    assertThat(imports.apps()).hasSize(1);
    AppCatalog.App app = imports.apps().getFirst();
    assertThat(app.name()).isEqualTo(ClusterImports.APP);
    assertThat(app.revision()).isEqualTo(s.digest()).startsWith("sha256:");
    assertThat(app.target().matches(applier("c1"))).isTrue();
    assertThat(app.target().matches(Map.of(ClusterTags.NAME, "c1"))).isFalse();
    assertThat(app.target().matches(applier("c2"))).isFalse();
    assertThat(imports.render(app, applier("c1"), null).yaml()).isEqualTo(MANIFEST);

    imports.tick();
    assertThat(hits).as("a fetched manifest is not fetched again").hasValue(1);
  }

  @Test
  void aFailedFetchSaysWhyKeepsWhatWasFetchedAndIsRetriedLaterAndLater() {
    bodies.put("/a.yaml", MANIFEST);
    cluster("c1", State.READY, "dev-1", base + "/a.yaml");
    imports.tick();
    String first = status("c1").digest();

    cluster("c1", State.READY, "dev-1", base + "/b.yaml");
    imports.tick();
    ClusterImports.Status failed = status("c1");
    assertThat(failed.state()).isEqualTo("FAILED");
    assertThat(failed.error()).contains("/b.yaml answered HTTP 404");
    assertThat(failed.nextAttemptAt()).isEqualTo(T0.plus(Duration.ofMinutes(1)));
    assertThat(imports.apps()).extracting(AppCatalog.App::revision).containsExactly(first);
    assertThat(hits).hasValue(2);

    clock.set(T0.plusSeconds(59));
    imports.tick();
    assertThat(hits).as("not before its delay").hasValue(2);
    clock.set(T0.plusSeconds(60));
    imports.tick();
    assertThat(hits).hasValue(3);
    assertThat(status("c1").attempts()).isEqualTo(2);
    assertThat(status("c1").nextAttemptAt()).isEqualTo(T0.plusSeconds(60 + 120));

    bodies.put(
        "/b.yaml", MANIFEST + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
    clock.set(T0.plusSeconds(180));
    imports.tick();
    ClusterImports.Status ok = status("c1");
    assertThat(ok.state()).isEqualTo("FETCHED");
    assertThat(ok.error()).isNull();
    assertThat(ok.digest()).isNotEqualTo(first);
    assertThat(changed).containsExactly("c1", "c1");
  }

  @Test
  void aUrlRemovedWithdrawsTheApp() {
    bodies.put("/a.yaml", MANIFEST);
    cluster("c1", State.READY, "dev-1", base + "/a.yaml");
    imports.tick();
    assertThat(imports.apps()).hasSize(1);
    cluster("c1", State.READY, "dev-1", null);
    imports.tick();
    assertThat(imports.apps()).isEmpty();
    assertThat(changed).containsExactly("c1", "c1");
  }

  @Test
  void whatIsNotKubernetesObjectsIsRefusedNamingTheProblem() {
    bodies.put("/notyaml.yaml", "kind: [unclosed\n");
    bodies.put("/nokind.yaml", MANIFEST + "---\nfoo: bar\n");
    bodies.put("/empty.yaml", "---\n");
    bodies.put("/big.yaml", "#".repeat(ClusterImports.MAX_BYTES + 1));
    Map<String, String> expected =
        Map.of(
            "notyaml", "is not YAML",
            "nokind", "document 3 of the import manifest is not a Kubernetes object",
            "empty", "holds no Kubernetes objects",
            "big", "is larger than 1 MiB");
    expected.forEach(
        (name, message) -> cluster(name, State.READY, "dev-1", base + "/" + name + ".yaml"));
    imports.tick();
    expected.forEach(
        (name, message) -> {
          ClusterImports.Status s = status(name);
          assertThat(s.state()).as(name).isEqualTo("FAILED");
          assertThat(s.error()).as(name).contains(message);
        });
    assertThat(imports.apps()).isEmpty();
    assertThat(changed).isEmpty();
  }

  @Test
  void retriesWaitLongerEachTimeUpToAnHour() {
    assertThat(ClusterImports.retryDelay(1)).isEqualTo(Duration.ofMinutes(1));
    assertThat(ClusterImports.retryDelay(2)).isEqualTo(Duration.ofMinutes(2));
    assertThat(ClusterImports.retryDelay(4)).isEqualTo(Duration.ofMinutes(8));
    assertThat(ClusterImports.retryDelay(7)).isEqualTo(Duration.ofHours(1));
    assertThat(ClusterImports.retryDelay(40)).isEqualTo(Duration.ofHours(1));
  }

  @Test
  void anUnreachableServerIsAnErrorNotACrash() {
    assertThatThrownBy(
            () -> ClusterImports.Fetcher.http(Duration.ofSeconds(2)).fetch("http://127.0.0.1:1/x"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("could not fetch http://127.0.0.1:1/x");
  }
}
