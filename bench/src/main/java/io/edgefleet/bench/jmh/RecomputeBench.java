package io.edgefleet.bench.jmh;

import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.BundleStore;
import io.edgefleet.controller.desired.DesiredStateEngine;
import io.edgefleet.controller.desired.ReleaseGate;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.tls.Fingerprints;
import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * {@link DesiredStateEngine#recompute} of one device that runs five apps, against SQLite with 1,000
 * active devices. The catalog is defined here: five apps selected by tag selectors, renders cached
 * as the real catalog caches them (by app and revision), so the figure is the engine's own cost:
 * device lookup, selector matches, one transaction with the bundle and app-state upserts and, when
 * something changed, a new signed document.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class RecomputeBench {
  static final String DEVICE = "dev-0";

  private BenchDatabase database;
  private DesiredStateEngine engine;
  private final List<AppCatalog.App> apps = new ArrayList<>();
  private final Map<String, AppCatalog.Rendered> renders = new HashMap<>();
  private final LongAdder nudges = new LongAdder();
  private boolean flip;

  @Setup
  public void open() throws NoSuchAlgorithmException {
    database = new BenchDatabase();
    database.insertActive("dev-", 1_000, Map.of("role", "pos", "env", "prod", "site", "s1"));
    for (int i = 0; i < Fixtures.APPS; i++) {
      apps.add(app(i, "r1"));
    }
    AppCatalog catalog =
        new AppCatalog() {
          @Override
          public List<App> apps() {
            return List.copyOf(apps);
          }

          @Override
          public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
            return renders.computeIfAbsent(
                app.name() + "@" + app.revision(), k -> rendered(app.name(), app.revision()));
          }
        };
    var clock = java.time.Clock.systemUTC();
    engine =
        new DesiredStateEngine(
            database.db.jdbi(),
            clock,
            new DeviceStore(),
            new BundleStore(database.db.jdbi(), clock),
            io.edgefleet.controller.pki.SigningKeys.open(database.dir.resolve("pki"), clock),
            catalog,
            ReleaseGate.OPEN,
            (id, nudge) -> nudges.increment());
    engine.recompute(DEVICE);
  }

  /** Nothing changed: the common case when a device reconnects or another app changes. */
  @Benchmark
  public long unchanged() {
    return engine.recompute(DEVICE);
  }

  /** One of the five apps moved to another (already rendered) revision: a new signed generation. */
  @Benchmark
  public long changed() {
    flip = !flip;
    apps.set(0, app(0, flip ? "r2" : "r1"));
    return engine.recompute(DEVICE);
  }

  @TearDown
  public void close() {
    engine.close();
    database.close();
  }

  private static AppCatalog.App app(int i, String revision) {
    Selector target = Selector.parse(i % 2 == 0 ? "role=pos" : "env in (prod,stage),role");
    return new AppCatalog.App("app-" + i, "catalog", revision, target::matches);
  }

  /** About 2 KB of manifests per app, like a small Deployment and Service. */
  private static AppCatalog.Rendered rendered(String name, String revision) {
    String yaml =
        ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: "
                + name
                + "\n  labels:\n"
                + "    edgefleet.io/revision: "
                + revision
                + "\n")
            + "spec:\n  template:\n    spec:\n      containers:\n      - name: main\n".repeat(30);
    return new AppCatalog.Rendered(
        yaml, Fingerprints.sha256(yaml.getBytes(StandardCharsets.UTF_8)));
  }
}
