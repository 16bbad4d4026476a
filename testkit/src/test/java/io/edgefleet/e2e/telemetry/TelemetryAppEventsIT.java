package io.edgefleet.e2e.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What happens to an app on a device becomes device events that travel through the outbox: an app
 * that fails and recovers shows up in the controller's event log with its app, severity and outbox
 * seq, and its readiness as the {@code app.<name>.ready} gauge of the device's metrics.
 */
class TelemetryAppEventsIT {
  @TempDir Path dir;

  /** A runtime whose apps' health the test sets. */
  static final class Switchable implements WorkloadRuntime {
    final Set<String> owned = ConcurrentHashMap.newKeySet();
    volatile AppHealth health = new AppHealth(AppHealth.State.READY, "all 1 objects ready");

    @Override
    public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
      return owned.add(app) ? new ApplyOutcome.Applied(1, 0) : new ApplyOutcome.InSync();
    }

    @Override
    public ApplyOutcome remove(String app) {
      owned.remove(app);
      return new ApplyOutcome.Applied(0, 0);
    }

    @Override
    public AppHealth health(String app) {
      return health;
    }

    @Override
    public Set<String> ownedApps() {
      return Set.copyOf(owned);
    }

    @Override
    public void close() {}
  }

  record Event(long seq, String kind, String severity, String app, String message) {}

  @Test
  void anAppThatFailsAndRecoversIsReportedAsEventsAndAsAGauge() throws Exception {
    try (GitRepo repo = GitRepo.init(dir.resolve("repo"));
        TestController controller =
            TestController.start(
                TestController.config(dir.resolve("controller"))
                    .withTelemetryInterval(Duration.ofSeconds(1)));
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin()) {
      repo.write("apps/shop/app.yaml", GitRepo.configMap("settings", "greeting", "hello"))
          .commit("add shop");
      assertThat(
              admin
                  .post(
                      "/api/v1/repos",
                      Map.of(
                          "name",
                          "fleet",
                          "url",
                          repo.url(),
                          "target",
                          "site=mall",
                          "interval",
                          "5s"))
                  .status())
          .isEqualTo(201);
      Switchable runtime = new Switchable();
      AgentOptions options =
          agents
              .options(
                  "till",
                  agents.bootstrap(
                      "t",
                      controller.url(),
                      controller.caFingerprint(),
                      controller.token(Map.of("site", "mall"), null, false)))
              .withReconcileInterval(Duration.ofSeconds(1));
      TestAgents.WithTelemetry started =
          agents.startWithTelemetry(
              options,
              Clock.systemUTC(),
              runtime,
              Map::of,
              TelemetryFeature.Options.defaults().withSampleEvery(Duration.ofMillis(200)));
      Agent agent = started.agent();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  agent.apps().stream()
                      .anyMatch(a -> a.name().equals("shop") && a.phase().name().equals("READY")));
      String id = agent.status().deviceId().orElseThrow();
      Jdbi db = controller.controller().database().jdbi();

      runtime.health = new AppHealth(AppHealth.State.FAILED, "deployment web: crash loop");
      await().atMost(Duration.ofSeconds(30)).until(() -> events(db, id).size() >= 1);
      runtime.health = new AppHealth(AppHealth.State.READY, "all 1 objects ready");
      await().atMost(Duration.ofSeconds(30)).until(() -> events(db, id).size() >= 2);

      List<Event> events = events(db, id);
      assertThat(events).extracting(Event::kind).containsExactly("app-failed", "app-recovered");
      assertThat(events.get(0).severity()).isEqualTo("error");
      assertThat(events.get(0).app()).isEqualTo("shop");
      assertThat(events.get(0).message()).contains("crash loop");
      assertThat(events.get(1).severity()).isEqualTo("info");
      assertThat(events.get(1).seq()).isGreaterThan(events.get(0).seq());

      // The gauge saw both: a window with the app at 0 and the newest at 1.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  controller
                      .controller()
                      .telemetry()
                      .latest(id)
                      .map(m -> m.metrics().get("app.shop.ready"))
                      .filter(s -> s.last() == 1.0)
                      .isPresent());
      assertThat(
              admin
                  .get("/api/v1/devices/" + id + "/metrics?since=1h")
                  .body()
                  .path("summaries")
                  .findValues("app.shop.ready"))
          .anyMatch(s -> s.path("min").asDouble() == 0.0);
    }
  }

  private static List<Event> events(Jdbi db, String id) {
    return db.withHandle(
        h ->
            h.createQuery(
                    "SELECT seq, kind, severity, app, message FROM device_events WHERE device_id ="
                        + " :d AND seq IS NOT NULL AND kind LIKE 'app-%' ORDER BY seq")
                .bind("d", id)
                .map(
                    (rs, ctx) ->
                        new Event(
                            rs.getLong(1),
                            rs.getString(2),
                            rs.getString(3),
                            rs.getString(4),
                            rs.getString(5)))
                .list());
  }
}
