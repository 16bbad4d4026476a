package io.edgefleet.controller.rollouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.desired.BundleStore;
import io.edgefleet.controller.desired.DesiredStateEngine;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.gitops.GitOps;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tls.Fingerprints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rollout state machine against a real SQLite database and the real desired-state engine,
 * advanced by {@code tick(now)} with explicit instants; devices "report" through the app status
 * service exactly as agents do. Run on SQLite ({@code RolloutEngineTest}) and on PostgreSQL ({@code
 * RolloutEnginePostgresIT}): the same SQL on both.
 */
abstract class RolloutEngineContract {
  static final String APP = "pos";
  static final Instant T0 = Instant.parse("2026-11-23T01:00:00Z");

  @TempDir Path dir;
  Database db;
  DesiredStateEngine desired;
  // Shared by the engines, as in the controller; a restarted rollout engine keeps it current again.
  final RolloutGate gate = new RolloutGate();
  final Map<String, String> gitPolicies = new ConcurrentHashMap<>();
  RolloutEngine rollouts;
  AppStatusService status;
  final DeviceStore store = new DeviceStore();
  final AtomicReference<String> revision = new AtomicReference<>("v1");
  final Map<String, String> target = new LinkedHashMap<>(Map.of("fleet", "a"));
  final Set<String> offline = new HashSet<>();
  final List<String> devices = new ArrayList<>();
  final List<AppCatalog.App> gitApps = new java.util.concurrent.CopyOnWriteArrayList<>();

  final AppCatalog catalog =
      new AppCatalog() {
        @Override
        public List<App> apps() {
          List<App> all = new ArrayList<>(gitApps);
          all.add(
              new App(APP, "catalog", revision.get(), tags -> "a".equals(tags.get("fleet")), true));
          return all;
        }

        @Override
        public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
          String yaml = "# " + app.name() + "@" + app.revision() + "\n";
          return new Rendered(yaml, Fingerprints.sha256(yaml.getBytes(StandardCharsets.UTF_8)));
        }
      };

  @BeforeEach
  void open() throws Exception {
    db = Database.open(databaseUrl(dir), null, null);
    Clock clock = Clock.fixed(T0, ZoneOffset.UTC);
    desired =
        new DesiredStateEngine(
            db.jdbi(),
            clock,
            store,
            new BundleStore(db.jdbi(), clock),
            SigningKeys.open(dir.resolve("pki"), clock),
            catalog,
            gate,
            (id, nudge) -> {});
    status = new AppStatusService(db.jdbi(), clock, this::presence);
    rollouts = engine(clock);
  }

  abstract String databaseUrl(Path dataDir);

  private RolloutEngine engine(Clock clock) {
    return new RolloutEngine(
        db.jdbi(),
        clock,
        gate,
        catalog::apps,
        this::presence,
        new RolloutEngine.Git(() -> Map.copyOf(gitPolicies), GitOps::sameContent),
        desired::recompute,
        new AuditLog(db.jdbi(), clock));
  }

  private DeviceStatus presence(String id) {
    return offline.contains(id) ? DeviceStatus.OFFLINE : DeviceStatus.ONLINE;
  }

  @AfterEach
  void close() {
    desired.close();
    db.close();
  }

  // ------------------------------------------------------------------ scenarios

  @Test
  void aCanaryThenAWaveReleaseOnlyAfterThePreviousBatchIsReadyOnTheNewRevision() {
    fleet(10, Map.of());
    String first = start("v1", "");
    rollouts.tick(T0);
    assertThat(desiredRevisions()).hasSize(10).allSatisfy((d, r) -> assertThat(r).isEqualTo("v1"));
    reportAll("v1", AppState.Phase.READY);
    rollouts.tick(T0.plusSeconds(1));
    assertThat(view(first).state()).isEqualTo(RolloutEngine.State.SUCCEEDED);

    String id = start("v2", "canary: 1\nwaves: [100%]\nprogressDeadline: 1m\n");
    assertThat(desiredRevisions()).allSatisfy((d, r) -> assertThat(r).isEqualTo("v1"));
    rollouts.tick(T0.plusSeconds(2));
    String canary = devices.getFirst();
    assertThat(desiredRevisions()).containsEntry(canary, "v2");
    assertThat(desiredRevisions().values().stream().filter("v2"::equals).count()).isEqualTo(1);

    // Applied but not ready yet: the wave waits.
    report(canary, "v2", AppState.Phase.PROGRESSING);
    rollouts.tick(T0.plusSeconds(3));
    assertThat(desiredRevisions().values().stream().filter("v2"::equals).count()).isEqualTo(1);
    RolloutEngine.View waiting = view(id);
    assertThat(waiting.reason()).contains("0/1 ready").contains("1 updating");
    assertThat(waiting.batches().get(0).counts().updated()).isEqualTo(1);

    report(canary, "v2", AppState.Phase.READY);
    rollouts.tick(T0.plusSeconds(4));
    assertThat(view(id).batches().get(0).state()).isEqualTo(RolloutEngine.BatchState.SUCCEEDED);
    rollouts.tick(T0.plusSeconds(5));
    assertThat(desiredRevisions()).allSatisfy((d, r) -> assertThat(r).isEqualTo("v2"));
    reportAll("v2", AppState.Phase.READY);
    rollouts.tick(T0.plusSeconds(6));
    RolloutEngine.View done = view(id);
    assertThat(done.state()).isEqualTo(RolloutEngine.State.SUCCEEDED);
    assertThat(done.counts().ready()).isEqualTo(10);
    assertThat(done.events())
        .extracting(RolloutEngine.EventView::kind)
        .containsSubsequence(
            "CREATED",
            "BATCH_STARTED",
            "RELEASED",
            "BATCH_SUCCEEDED",
            "BATCH_STARTED",
            "RELEASED",
            "BATCH_SUCCEEDED",
            "SUCCEEDED");
  }

  @Test
  void aFailedCanaryPausesByDefaultAndAManualRollbackReturnsItToTheBundleItHadBefore() {
    fleet(4, Map.of());
    converge("v1");
    String v1Bundle = desiredBundle(devices.getFirst());
    String id = start("v2", "canary: 1\nwaves: [100%]\n");
    rollouts.tick(T0.plusSeconds(10));
    String canary = devices.getFirst();
    report(canary, "v2", AppState.Phase.FAILED, "ImagePullBackOff");
    rollouts.tick(T0.plusSeconds(11));
    RolloutEngine.View paused = view(id);
    assertThat(paused.state()).isEqualTo(RolloutEngine.State.PAUSED);
    assertThat(paused.reason()).contains("canary").contains("ImagePullBackOff").contains("resume");
    // Paused: nothing more is released, however often it ticks.
    rollouts.tick(T0.plusSeconds(12));
    assertThat(desiredRevisions().values().stream().filter("v2"::equals).count()).isEqualTo(1);

    rollouts.rollback(id, "alice");
    assertThat(desiredRevisions()).containsEntry(canary, "v1");
    assertThat(desiredBundle(canary)).isEqualTo(v1Bundle);
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.ROLLING_BACK);
    report(canary, "v1", AppState.Phase.READY);
    rollouts.tick(T0.plusSeconds(13));
    RolloutEngine.View rolledBack = view(id);
    assertThat(rolledBack.state()).isEqualTo(RolloutEngine.State.ROLLED_BACK);
    assertThat(rolledBack.reason()).contains("rolled back by alice");
    assertThatThrownBy(() -> rollouts.resume(id, "bob"))
        .isInstanceOf(ControllerException.class)
        .satisfies(
            e ->
                assertThat(((ControllerException) e).code())
                    .isEqualTo(ErrorCode.ROLLOUT_STATE_CONFLICT));
    // The operator's command is audited; the refused one is not.
    assertThat(new AuditLog(db.jdbi(), Clock.systemUTC()).recent(10))
        .filteredOn(e -> e.action().startsWith("rollout."))
        .extracting(AuditLog.Entry::actor, AuditLog.Entry::action, AuditLog.Entry::target)
        .containsExactly(tuple("alice", "rollout.rollback", id));
  }

  @Test
  void pauseResumeAndAbortAreAuditedWithWhoDidThem() {
    fleet(4, Map.of());
    converge("v1");
    String id = start("v2", "canary: 1\nwaves: [100%]\n");
    rollouts.pause(id, "alice");
    rollouts.resume(id, "bob");
    rollouts.abort(id, "carol");
    assertThat(new AuditLog(db.jdbi(), Clock.systemUTC()).recent(10))
        .filteredOn(e -> e.action().startsWith("rollout."))
        .extracting(AuditLog.Entry::actor, AuditLog.Entry::action, AuditLog.Entry::target)
        .containsExactlyInAnyOrder(
            tuple("alice", "rollout.pause", id),
            tuple("bob", "rollout.resume", id),
            tuple("carol", "rollout.abort", id));
  }

  @Test
  void aReleasedDeviceNotReadyByTheDeadlineFailsAndOnFailureRollbackUndoesTheBatch() {
    fleet(4, Map.of());
    converge("v1");
    String id =
        start("v2", "canary: 2\nwaves: [100%]\nprogressDeadline: 30s\nonFailure: rollback\n");
    rollouts.tick(T0.plusSeconds(10));
    List<String> canary = devices.subList(0, 2);
    canary.forEach(d -> report(d, "v2", AppState.Phase.PROGRESSING, "0/1 pods ready"));
    rollouts.tick(T0.plusSeconds(39));
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.PROGRESSING);
    rollouts.tick(T0.plusSeconds(40));
    RolloutEngine.View rolling = view(id);
    assertThat(rolling.state()).isEqualTo(RolloutEngine.State.ROLLING_BACK);
    assertThat(rolling.reason()).contains("not READY within 30s").contains("0/1 pods ready");
    assertThat(desiredRevisions()).allSatisfy((d, r) -> assertThat(r).isEqualTo("v1"));
    canary.forEach(d -> report(d, "v1", AppState.Phase.READY));
    rollouts.tick(T0.plusSeconds(41));
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.ROLLED_BACK);
    assertThat(view(id).batches().get(1).state()).isEqualTo(RolloutEngine.BatchState.PENDING);
  }

  @Test
  void offlineDevicesArePendingNeverFailedAndTheDeadlineDecidesWhetherToGoOn() {
    fleet(4, Map.of());
    converge("v1");
    String away = devices.getLast();
    offline.add(away);
    String id = start("v2", "canary: 1\nwaves: [100%]\nprogressDeadline: 1m\n");
    rollouts.tick(T0.plusSeconds(10));
    report(devices.getFirst(), "v2", AppState.Phase.READY);
    rollouts.tick(T0.plusSeconds(11));
    rollouts.tick(T0.plusSeconds(12));
    devices.subList(1, 3).forEach(d -> report(d, "v2", AppState.Phase.READY));
    rollouts.tick(T0.plusSeconds(13));
    RolloutEngine.View waiting = view(id);
    assertThat(waiting.state()).isEqualTo(RolloutEngine.State.PROGRESSING);
    assertThat(waiting.batches().get(1).counts().pendingOffline()).isEqualTo(1);
    assertThat(waiting.batches().get(1).counts().failed()).isZero();
    assertThat(waiting.devices())
        .filteredOn(d -> d.deviceId().equals(away))
        .singleElement()
        .satisfies(d -> assertThat(d.state()).isEqualTo(RolloutEngine.DeviceState.PENDING_OFFLINE));

    // Long after any device deadline it is still not failed; at the batch deadline it goes on.
    rollouts.tick(T0.plusSeconds(12 + 61));
    RolloutEngine.View done = view(id);
    assertThat(done.state()).isEqualTo(RolloutEngine.State.SUCCEEDED);
    assertThat(done.batches().get(1).reason()).contains("without 1 offline device");
    // It was released, so it updates when it returns.
    assertThat(desiredRevisions()).containsEntry(away, "v2");
  }

  @Test
  void withOfflineAtDeadlinePauseTheRolloutWaitsForAnOperator() {
    fleet(2, Map.of());
    converge("v1");
    offline.add(devices.getLast());
    String id = start("v2", "waves: [100%]\nprogressDeadline: 1m\nofflineAtDeadline: pause\n");
    rollouts.tick(T0.plusSeconds(10));
    report(devices.getFirst(), "v2", AppState.Phase.READY);
    rollouts.tick(T0.plusSeconds(71));
    RolloutEngine.View paused = view(id);
    assertThat(paused.state()).isEqualTo(RolloutEngine.State.PAUSED);
    assertThat(paused.reason()).contains("1 device(s) offline");
  }

  @Test
  void devicesOutsideTheirMaintenanceWindowWaitUntilItOpens() {
    fleet(2, Map.of("maintenance", "night"));
    fleet(1, Map.of());
    converge("v1");
    String id =
        start(
            "v2",
            "maintenance:\n  windows:\n    night: {cron: \"0 2 * * *\", duration: 1h}\n"
                + "progressDeadline: 5m\n");
    rollouts.tick(T0.plusSeconds(10));
    assertThat(desiredRevisions().values().stream().filter("v2"::equals).count()).isEqualTo(1);
    RolloutEngine.View waiting = view(id);
    assertThat(waiting.batches().get(0).counts().outsideWindow()).isEqualTo(2);
    assertThat(waiting.devices())
        .filteredOn(d -> d.state() == RolloutEngine.DeviceState.OUTSIDE_WINDOW)
        .hasSize(2)
        .allSatisfy(d -> assertThat(d.reason()).contains("night").contains("02:00"));
    report(devices.getLast(), "v2", AppState.Phase.READY);
    // Time outside the window is not a failure.
    rollouts.tick(T0.plus(Duration.ofMinutes(59)));
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.PROGRESSING);
    assertThat(desiredRevisions().values().stream().filter("v2"::equals).count()).isEqualTo(1);

    rollouts.tick(T0.plus(Duration.ofMinutes(61)));
    assertThat(desiredRevisions()).allSatisfy((d, r) -> assertThat(r).isEqualTo("v2"));
  }

  @Test
  void theDisruptionBudgetLimitsDevicesUpdatingAtOncePerSite() {
    fleet(3, Map.of("site", "berlin"));
    fleet(2, Map.of("site", "paris"));
    converge("v1");
    start("v2", "disruptionBudget: {tag: site, maxUnavailable: 1}\n");
    rollouts.tick(T0.plusSeconds(10));
    Map<String, String> after = desiredRevisions();
    assertThat(after.values().stream().filter("v2"::equals).count()).isEqualTo(2);
    for (int round = 0; round < 3; round++) {
      desiredRevisions().entrySet().stream()
          .filter(e -> e.getValue().equals("v2"))
          .forEach(e -> report(e.getKey(), "v2", AppState.Phase.READY));
      rollouts.tick(T0.plusSeconds(11 + round));
    }
    assertThat(desiredRevisions()).allSatisfy((d, r) -> assertThat(r).isEqualTo("v2"));
  }

  @Test
  void aSucceededBatchSoaksBeforeTheNextStartsAndFailuresDuringTheSoakStillCount() {
    fleet(3, Map.of());
    converge("v1");
    String id = start("v2", "canary: 1\nwaves: [100%]\nsoak: 5m\n");
    rollouts.tick(T0.plusSeconds(10));
    report(devices.getFirst(), "v2", AppState.Phase.READY);
    rollouts.tick(T0.plusSeconds(11));
    assertThat(view(id).batches().get(0).state()).isEqualTo(RolloutEngine.BatchState.SOAKING);
    rollouts.tick(T0.plusSeconds(11 + 299));
    assertThat(view(id).batch()).isZero();
    report(devices.getFirst(), "v2", AppState.Phase.FAILED, "crashed after 4 minutes");
    rollouts.tick(T0.plusSeconds(11 + 300));
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.PAUSED);
    assertThat(view(id).reason()).contains("crashed after 4 minutes");
  }

  @Test
  void aRestartedEngineResumesFromTheDatabaseWithoutReleasingAnyDeviceTwice() {
    fleet(6, Map.of());
    converge("v1");
    String id = start("v2", "canary: 2\nwaves: [2, 2]\n");
    rollouts.tick(T0.plusSeconds(10));
    devices.subList(0, 2).forEach(d -> report(d, "v2", AppState.Phase.READY));
    rollouts.tick(T0.plusSeconds(11));
    rollouts.tick(T0.plusSeconds(12));
    long releasesBefore = releases(view(id));

    // A new engine over the same database, as after a controller restart.
    rollouts = engine(Clock.fixed(T0.plusSeconds(20), ZoneOffset.UTC));
    rollouts.tick(T0.plusSeconds(20));
    assertThat(releases(view(id))).isEqualTo(releasesBefore);
    assertThat(view(id).batch()).isEqualTo(1);
    devices.subList(2, 4).forEach(d -> report(d, "v2", AppState.Phase.READY));
    rollouts.tick(T0.plusSeconds(21));
    rollouts.tick(T0.plusSeconds(22));
    devices.subList(4, 6).forEach(d -> report(d, "v2", AppState.Phase.READY));
    rollouts.tick(T0.plusSeconds(23));
    RolloutEngine.View done = view(id);
    assertThat(done.state()).isEqualTo(RolloutEngine.State.SUCCEEDED);
    assertThat(releases(done)).isEqualTo(6);
  }

  @Test
  void aDeviceThatJoinsTheTargetMidRolloutIsAddedToTheLastBatchAndGetsNothingBefore() {
    fleet(4, Map.of());
    converge("v1");
    String id = start("v2", "canary: 1\nwaves: [100%]\n");
    rollouts.tick(T0.plusSeconds(10));
    String late = device("late", Map.of("fleet", "a"));
    desired.recompute(late);
    assertThat(desiredRevisions()).doesNotContainKey(late);
    rollouts.devicesChanged();
    rollouts.tick(T0.plusSeconds(11));
    assertThat(view(id).devices())
        .filteredOn(d -> d.deviceId().equals(late))
        .singleElement()
        .satisfies(d -> assertThat(d.batch()).isEqualTo(1));
  }

  @Test
  void aGitCommitStartsARolloutOnlyForTheAppsWhoseContentItChanged() {
    fleet(3, Map.of());
    String c1 = "1".repeat(40);
    String c2 = "2".repeat(40);
    gitPolicies.put("fleet", "canary: 1\nwaves: [100%]\n");
    gitApps.add(gitApp("web", "sha256:aaaaaaaaaaaa", c1));
    gitApps.add(gitApp("db", "sha256:bbbbbbbbbbbb", c1));
    rollouts.tick(T0);
    assertThat(rollouts.list(Optional.of("web"), Optional.empty(), 10))
        .singleElement()
        .satisfies(r -> assertThat(r.createdBy()).isEqualTo("git commit 111111111111"));

    // The next commit changes db only.
    gitApps.set(1, gitApp("db", "sha256:cccccccccccc", c2));
    rollouts.tick(T0.plusSeconds(1));
    rollouts.tick(T0.plusSeconds(2));
    assertThat(rollouts.list(Optional.of("web"), Optional.empty(), 10))
        .singleElement()
        .satisfies(r -> assertThat(r.toRevision()).isEqualTo("sha256:aaaaaaaaaaaa"));
    assertThat(rollouts.list(Optional.of("db"), Optional.empty(), 10))
        .extracting(
            RolloutEngine.Summary::fromRevision,
            RolloutEngine.Summary::toRevision,
            RolloutEngine.Summary::createdBy)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "sha256:bbbbbbbbbbbb", "sha256:cccccccccccc", "git commit 222222222222"),
            org.assertj.core.groups.Tuple.tuple(
                null, "sha256:bbbbbbbbbbbb", "git commit 111111111111"));
  }

  @Test
  void aRolloutToACommitFromBeforeContentRevisionsIsFollowedAtOnceWhereTheContentIsTheSame() {
    fleet(4, Map.of());
    String old = "5".repeat(40);
    String head = "6".repeat(40);
    String other = "7".repeat(40);
    db.jdbi()
        .useHandle(
            h -> {
              h.execute(
                  "INSERT INTO git_sources (name, url, branch, path, interval_ms, auth, target,"
                      + " webhook_secret, head_sha, created_at, updated_at) VALUES ('fleet',"
                      + " 'file:///x', 'main', 'apps', 15000, 'none', '', 'sealed', ?, 0, 0)",
                  head);
              h.execute(
                  "INSERT INTO git_app_trees (tree_id, files, size, created_at) VALUES"
                      + " ('tree-a', '{}', 0, 0), ('tree-b', '{}', 0, 0)");
              // web and db at an old commit, recorded before content revisions; at the head web
              // has the same tree, db another.
              h.execute(
                  "INSERT INTO git_apps (source, sha, name, kind, tree_id) VALUES ('fleet', ?,"
                      + " 'web', 'MANIFESTS', 'tree-a'), ('fleet', ?, 'db', 'MANIFESTS', 'tree-a')",
                  old,
                  other);
              h.execute(
                  "INSERT INTO git_apps (source, sha, name, kind, tree_id, revision,"
                      + " revision_commit) VALUES ('fleet', ?, 'web', 'MANIFESTS', 'tree-a',"
                      + " 'sha256:aaaaaaaaaaaa', ?), ('fleet', ?, 'db', 'MANIFESTS', 'tree-b',"
                      + " 'sha256:bbbbbbbbbbbb', ?)",
                  head,
                  head,
                  head,
                  head);
            });
    String policy = "canary: 1\nwaves: [100%]\n";
    for (String[] app : new String[][] {{"web", old}, {"db", other}}) {
      rollouts.transaction(
          h ->
              rollouts.start(
                  h,
                  new RolloutEngine.Start(
                      "fleet/" + app[0],
                      app[0],
                      "fleet",
                      Optional.empty(),
                      app[1],
                      RolloutPolicy.parse(policy),
                      tags -> true,
                      "git")));
    }
    gitPolicies.put("fleet", policy);
    gitApps.add(gitApp("web", "sha256:aaaaaaaaaaaa", head));
    gitApps.add(gitApp("db", "sha256:bbbbbbbbbbbb", head));
    rollouts.tick(T0);

    assertThat(rollouts.list(Optional.of("web"), Optional.empty(), 1))
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.fromRevision()).isEqualTo(old);
              assertThat(r.toRevision()).isEqualTo("sha256:aaaaaaaaaaaa");
              assertThat(r.batches()).isEqualTo(1);
              assertThat(r.createdBy()).isEqualTo("git commit 666666666666 (content unchanged)");
            });
    assertThat(rollouts.list(Optional.of("db"), Optional.empty(), 1))
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.batches()).isEqualTo(2);
              assertThat(r.createdBy()).isEqualTo("git commit 666666666666");
            });
  }

  private static AppCatalog.App gitApp(String name, String revision, String commit) {
    return new AppCatalog.App(name, "fleet", revision, tags -> true, true, commit);
  }

  // ------------------------------------------------------------------ helpers

  private long releases(RolloutEngine.View v) {
    return v.events().stream()
        .filter(e -> e.kind().equals("RELEASED"))
        .mapToLong(e -> Long.parseLong(e.message().replaceFirst(" device.*", "")))
        .sum();
  }

  private void converge(String rev) {
    String id = start(rev, "");
    rollouts.tick(T0.plusSeconds(1));
    reportAll(rev, AppState.Phase.READY);
    rollouts.tick(T0.plusSeconds(2));
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.SUCCEEDED);
  }

  /** Starts a rollout and recomputes every device, as a catalog change would. */
  private String start(String rev, String policy) {
    revision.set(rev);
    String id = startOnly(rev, policy);
    devices.forEach(desired::recompute);
    return id;
  }

  private String startOnly(String rev, String policy) {
    return rollouts.transaction(
        h ->
            rollouts.start(
                h,
                new RolloutEngine.Start(
                    "catalog/" + APP,
                    APP,
                    "catalog",
                    Optional.empty(),
                    rev,
                    RolloutPolicy.parse(policy),
                    tags -> "a".equals(tags.get("fleet")),
                    "test")));
  }

  private RolloutEngine.View view(String id) {
    return rollouts.view(id, true);
  }

  private void reportAll(String rev, AppState.Phase phase) {
    devices.forEach(d -> report(d, rev, phase));
  }

  private void report(String device, String rev, AppState.Phase phase) {
    report(device, rev, phase, null);
  }

  private void report(String device, String rev, AppState.Phase phase, String reason) {
    status.report(
        device, new AgentMessage.AppReport(1, List.of(new AppState(APP, rev, phase, reason))));
  }

  private Map<String, String> desiredRevisions() {
    Map<String, String> out = new LinkedHashMap<>();
    db.jdbi()
        .useHandle(
            h ->
                h.createQuery(
                        "SELECT device_id, desired_revision FROM device_apps WHERE app = :a ORDER"
                            + " BY device_id")
                    .bind("a", APP)
                    .map((rs, c) -> Map.entry(rs.getString(1), rs.getString(2)))
                    .forEach(e -> out.put(e.getKey(), e.getValue())));
    return out;
  }

  private String desiredBundle(String device) {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery(
                        "SELECT desired_bundle FROM device_apps WHERE app = :a AND device_id = :d")
                    .bind("a", APP)
                    .bind("d", device)
                    .mapTo(String.class)
                    .one());
  }

  private void fleet(int n, Map<String, String> tags) {
    for (int i = 0; i < n; i++) {
      Map<String, String> t = new LinkedHashMap<>(tags);
      t.put("fleet", "a");
      devices.add(device(String.format("dev-%02d", devices.size()), t));
    }
  }

  private String device(String id, Map<String, String> tags) {
    TestDevices.insertActive(db.jdbi(), id, tags, T0);
    return id;
  }
}
