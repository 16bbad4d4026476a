package io.edgefleet.controller.gitops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.render.AppKind;
import io.edgefleet.controller.render.ContentRevision;
import io.edgefleet.controller.render.RenderedApp;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.groups.Tuple;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.ResetCommand;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine against real git repositories over {@code file://}, on the database given by the
 * subclass (SQLite in {@link GitOpsTest}, PostgreSQL in {@link GitOpsPostgresIT}).
 */
abstract class GitOpsContract {
  static final String CONFIG =
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: web-config
      data:
        greeting: hello
      """;
  static final String DEPLOYMENT =
      """
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
      spec:
        replicas: 1
      """;
  static final String SERVICE =
      """
      apiVersion: v1
      kind: Service
      metadata:
        name: web
      spec:
        ports: [{port: 80}]
      """;

  @TempDir Path tmp;
  Database db;
  AuditLog audit;
  GitOps gitops;
  Upstream up;
  final List<String> changes = new ArrayList<>();

  abstract String databaseUrl(Path dataDir);

  GitOps.Settings settings() {
    return new GitOps.Settings(2, 1 << 20, 1 << 20, Duration.ofSeconds(20), Duration.ofMillis(100));
  }

  /** What devices report per commit, as app status would count it; tests fill it. */
  private final Map<String, AppStatusService.CommitDevices> counts = new HashMap<>();

  @BeforeEach
  void setUp() throws Exception {
    Path data = Files.createDirectories(tmp.resolve("data"));
    db = Database.open(databaseUrl(data), null, null);
    audit = new AuditLog(db.jdbi(), Clock.systemUTC());
    gitops =
        new GitOps(
            db.jdbi(),
            Clock.systemUTC(),
            audit,
            data.resolve("gitops"),
            new SecretBox(data.resolve("secret.key")),
            settings(),
            name -> {
              synchronized (changes) {
                changes.add(name);
              }
            },
            source -> Map.copyOf(counts));
    up = Upstream.create(tmp.resolve("upstream"));
  }

  @AfterEach
  void tearDown() {
    gitops.close();
    db.close();
    up.close();
  }

  AddSource source(String name, String url) {
    return new AddSource(name, url, null, null, null, null, null, "site-size=large");
  }

  @Test
  void withoutABranchTheSourceFollowsTheRemotesDefaultBranch() {
    try (Upstream legacy = Upstream.create(tmp.resolve("legacy"), "master")) {
      String first = legacy.write("apps/web/a.yaml", CONFIG).commit("first");
      // Another branch at another commit: only HEAD says which one is the default.
      try (Git g = Git.open(legacy.dir().toFile())) {
        g.branchCreate().setName("main").call();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      String second = legacy.write("apps/web/b.yaml", SERVICE).commit("second on master");

      gitops.add(source("legacy", legacy.fileUrl()), "alice");
      assertThat(gitops.pollNow("legacy")).isTrue();

      SourceView v = gitops.get("legacy");
      assertThat(v.lastError()).isNull();
      assertThat(v.branch()).isEqualTo("master");
      assertThat(v.lastCommit().sha()).isEqualTo(second).isNotEqualTo(first);
      assertThat(gitops.list()).extracting(SourceView::branch).containsExactly("master");

      // The resolved branch is kept: a later push to master is picked up.
      String third = legacy.write("apps/web/c.yaml", DEPLOYMENT).commit("third");
      assertThat(gitops.pollNow("legacy")).isTrue();
      assertThat(gitops.get("legacy").lastCommit().sha()).isEqualTo(third);
    }
  }

  @Test
  void aSourceWithoutABranchOnAnEmptyRemoteSaysSoAndResolvesOnceOneIsPushed() {
    gitops.add(source("empty", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("empty")).isFalse();
    assertThat(gitops.get("empty").lastError()).contains("has no branches yet");
    assertThat(gitops.get("empty").branch()).isNull();

    up.write("apps/web/a.yaml", CONFIG).commit("first");
    assertThat(gitops.pollNow("empty")).isTrue();
    assertThat(gitops.get("empty").branch()).isEqualTo("main");
  }

  @Test
  void addingASourceAndPollingPicksUpTheHead() {
    String sha = up.write("apps/web/a.yaml", CONFIG).write("README.md", "hi").commit("first");

    SourceView added = gitops.add(source("fleet", up.fileUrl()), "alice");
    // No branch given: the remote's default branch, resolved when the source was added.
    assertThat(added.branch()).isEqualTo("main");
    assertThat(added.path()).isEqualTo("apps");
    assertThat(added.interval()).isEqualTo("15s");
    assertThat(added.auth()).isEqualTo("none");
    assertThat(added.target()).isEqualTo("site-size=large");
    assertThat(added.webhookSecret()).startsWith("efw_");
    assertThat(added.webhookUrlPath()).isEqualTo("/api/v1/hooks/git/fleet");
    assertThat(added.lastCommit()).isNull();

    assertThat(gitops.pollNow("fleet")).isTrue();

    SourceView v = gitops.get("fleet");
    assertThat(v.branch()).isEqualTo("main");
    assertThat(v.lastCommit().sha()).isEqualTo(sha);
    assertThat(v.lastCommit().author()).isEqualTo("Ada Lovelace <ada@example.com>");
    assertThat(v.lastCommit().message()).isEqualTo("first");
    assertThat(v.lastPolledAt()).isNotNull();
    assertThat(v.lastError()).isNull();
    assertThat(v.apps()).containsExactly("web");
    assertThat(v.webhookSecret()).isEqualTo(added.webhookSecret());
    AppDefinition web = gitops.apps().getFirst();
    // Plain manifests render alike for every device: the revision is the start of that bundle's
    // digest, the commit its provenance.
    String digest = gitops.render(web, Map.of(), null).digest();
    assertThat(gitops.apps())
        .containsExactly(
            new AppDefinition(
                "fleet",
                "web",
                sha,
                "sha256:" + digest.substring(7, 19),
                sha,
                AppKind.MANIFESTS,
                Selector.parse("site-size=large")));
    assertThat(v.revisions())
        .containsExactly(new SourceView.AppRevision("web", web.revision(), sha));
    assertThat(changes).containsExactly("fleet");
    assertThat(audit.recent(10))
        .anySatisfy(
            e -> {
              assertThat(e.action()).isEqualTo("git-source.add");
              assertThat(e.actor()).isEqualTo("alice");
              assertThat(e.target()).isEqualTo("fleet");
              assertThat(e.detail()).contains(up.fileUrl()).contains("site-size=large");
            });
  }

  @Test
  void aNewCommitIsRecordedWithAuthorMessageAndPerAppDiff() {
    up.write("apps/web/config.yaml", CONFIG)
        .write("apps/web/deploy.yaml", DEPLOYMENT)
        .write("apps/db/config.yaml", CONFIG.replace("web-config", "db-config"))
        .commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();

    String second =
        up.write("apps/web/deploy.yaml", DEPLOYMENT.replace("replicas: 1", "replicas: 2"))
            .write("apps/web/service.yaml", SERVICE)
            .delete("apps/db")
            .write("apps/api/config.yaml", CONFIG.replace("web-config", "api-config"))
            .commit("Scale web, add api\n\nAnd drop db.", "Grace Hopper", "grace@example.com");
    assertThat(gitops.pollNow("fleet")).isTrue();

    CommitView c = gitops.commit("fleet", second.substring(0, 10));
    assertThat(c.sha()).isEqualTo(second);
    assertThat(c.author()).isEqualTo("Grace Hopper <grace@example.com>");
    assertThat(c.message()).isEqualTo("Scale web, add api\n\nAnd drop db.");
    assertThat(c.committedAt()).isEqualTo("2026-01-02T03:04:05Z");
    assertThat(c.status()).isEqualTo(CommitView.Status.APPLIED);
    assertThat(c.error()).isNull();
    Map<String, String> revisions = new HashMap<>();
    gitops.apps().forEach(a -> revisions.put(a.name(), a.revision()));
    assertThat(c.apps())
        .usingRecursiveFieldByFieldElementComparatorIgnoringFields("diff")
        .containsExactly(
            new CommitView.AppChange(
                "api",
                CommitView.Change.ADDED,
                revisions.get("api"),
                List.of("v1 Namespace api", "v1 ConfigMap api/api-config"),
                List.of(),
                List.of()),
            new CommitView.AppChange(
                "db",
                CommitView.Change.REMOVED,
                null,
                List.of(),
                List.of(),
                List.of("v1 Namespace db", "v1 ConfigMap db/db-config")),
            new CommitView.AppChange(
                "web",
                CommitView.Change.CHANGED,
                revisions.get("web"),
                List.of("v1 Service web/web"),
                List.of("apps/v1 Deployment web/web"),
                List.of()));
    List<CommitView> history = gitops.history("fleet", 10);
    assertThat(history).extracting(CommitView::sha).containsExactly(second, history.get(1).sha());
    assertThat(history.get(1).apps())
        .extracting(CommitView.AppChange::app, CommitView.AppChange::change)
        .containsExactly(
            Tuple.tuple("db", CommitView.Change.ADDED),
            Tuple.tuple("web", CommitView.Change.ADDED));
    assertThat(gitops.apps()).extracting(AppDefinition::name).containsExactly("api", "web");
    assertThat(gitops.apps()).extracting(AppDefinition::sha).containsOnly(second);
    assertThat(gitops.apps()).extracting(AppDefinition::commit).containsOnly(second);
    assertThat(revisions.values())
        .doesNotHaveDuplicates()
        .allMatch(ContentRevision::isContentRevision);
  }

  @Test
  void aCommitThatChangesOneAppLeavesTheRevisionAndProvenanceOfTheOthers() {
    String first =
        up.write("apps/web/config.yaml", CONFIG)
            .write("apps/db/config.yaml", CONFIG.replace("web-config", "db-config"))
            .commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();
    Map<String, AppDefinition> before = byName(gitops.apps());

    // web changes; db gets a README and a comment, which change its files but not its objects.
    String second =
        up.write("apps/web/config.yaml", CONFIG.replace("hello", "bonjour"))
            .write("apps/db/README.md", "the database settings")
            .write(
                "apps/db/config.yaml", "# settings\n" + CONFIG.replace("web-config", "db-config"))
            .commit("web says bonjour");
    assertThat(gitops.pollNow("fleet")).isTrue();
    Map<String, AppDefinition> after = byName(gitops.apps());

    assertThat(after.get("db").sha()).isEqualTo(second);
    assertThat(after.get("db").revision()).isEqualTo(before.get("db").revision());
    assertThat(after.get("db").commit()).isEqualTo(first);
    assertThat(after.get("web").revision())
        .isNotEqualTo(before.get("web").revision())
        .matches("sha256:[0-9a-f]{12}");
    assertThat(after.get("web").commit()).isEqualTo(second);
    assertThat(gitops.commit("fleet", second).apps())
        .usingRecursiveFieldByFieldElementComparatorIgnoringFields("diff")
        .containsExactly(
            new CommitView.AppChange(
                "db",
                CommitView.Change.CHANGED,
                before.get("db").revision(),
                List.of(),
                List.of(),
                List.of()),
            new CommitView.AppChange(
                "web",
                CommitView.Change.CHANGED,
                after.get("web").revision(),
                List.of(),
                List.of("v1 ConfigMap web/web-config"),
                List.of()));
    assertThat(gitops.get("fleet").revisions())
        .containsExactly(
            new SourceView.AppRevision("db", before.get("db").revision(), first),
            new SourceView.AppRevision("web", after.get("web").revision(), second));

    // Back to the first content: the first revision again, brought by the newest commit.
    String third = up.write("apps/web/config.yaml", CONFIG).commit("web says hello again");
    assertThat(gitops.pollNow("fleet")).isTrue();
    AppDefinition web = byName(gitops.apps()).get("web");
    assertThat(web.revision()).isEqualTo(before.get("web").revision());
    assertThat(web.commit()).isEqualTo(third);
  }

  @Test
  void appsRecordedBeforeContentRevisionsGetTheirsOnceFromTheStoredFiles() {
    String sha = up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();
    String revision = gitops.apps().getFirst().revision();
    // As a controller of the previous version left it.
    db.jdbi()
        .useHandle(h -> h.execute("UPDATE git_apps SET revision = NULL, revision_commit = NULL"));

    assertThat(gitops.apps())
        .singleElement()
        .satisfies(
            a -> {
              assertThat(a.revision()).isEqualTo(revision);
              assertThat(a.commit()).isEqualTo(sha);
            });
    String stored =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery("SELECT revision || ' ' || revision_commit FROM git_apps")
                        .mapTo(String.class)
                        .one());
    assertThat(stored).isEqualTo(revision + " " + sha);

    // The next commit compares against it: another app's commit leaves it as it was.
    up.write("apps/api/a.yaml", CONFIG.replace("web-config", "api-config")).commit("add api");
    db.jdbi()
        .useHandle(h -> h.execute("UPDATE git_apps SET revision = NULL, revision_commit = NULL"));
    assertThat(gitops.pollNow("fleet")).isTrue();
    assertThat(byName(gitops.apps()).get("web"))
        .satisfies(
            a -> {
              assertThat(a.revision()).isEqualTo(revision);
              assertThat(a.commit()).isEqualTo(sha);
            });
  }

  private static Map<String, AppDefinition> byName(List<AppDefinition> apps) {
    Map<String, AppDefinition> out = new HashMap<>();
    apps.forEach(a -> out.put(a.name(), a));
    return out;
  }

  @Test
  void anUnchangedHeadIsNotFetched() {
    up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();
    GitOps.Stats before = gitops.stats();

    assertThat(gitops.pollNow("fleet")).isFalse();
    assertThat(gitops.pollNow("fleet")).isFalse();

    GitOps.Stats after = gitops.stats();
    assertThat(after.lsRemotes()).isEqualTo(before.lsRemotes() + 2);
    assertThat(after.fetches()).isEqualTo(before.fetches());
    assertThat(gitops.history("fleet", 10)).hasSize(1);
    assertThat(changes).containsExactly("fleet");
  }

  @Test
  void badYamlIsRefusedAndThePreviousHeadStays() {
    String good = up.write("apps/web/a.yaml", CONFIG).commit("good");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();

    String bad = up.write("apps/web/a.yaml", "apiVersion: v1\nkind: [oops\n").commit("bad");
    assertThat(gitops.pollNow("fleet")).isFalse();

    SourceView v = gitops.get("fleet");
    assertThat(v.lastCommit().sha()).isEqualTo(good);
    assertThat(v.lastError())
        .contains("commit " + bad.substring(0, 12) + " was refused")
        .contains(good.substring(0, 12) + " stays in effect")
        .contains("app 'web'")
        .contains("a.yaml");
    assertThat(gitops.apps()).extracting(AppDefinition::sha).containsExactly(good);
    CommitView refused = gitops.history("fleet", 1).get(0);
    assertThat(refused.sha()).isEqualTo(bad);
    assertThat(refused.status()).isEqualTo(CommitView.Status.FAILED);
    assertThat(refused.error()).contains("a.yaml");
    assertThat(refused.apps()).isEmpty();

    // The refused head is not fetched again, and its error stays visible.
    long fetches = gitops.stats().fetches();
    assertThat(gitops.pollNow("fleet")).isFalse();
    assertThat(gitops.stats().fetches()).isEqualTo(fetches);
    assertThat(gitops.get("fleet").lastError()).contains("was refused");

    String fixed = up.write("apps/web/a.yaml", CONFIG.replace("hello", "fixed")).commit("fix");
    assertThat(gitops.pollNow("fleet")).isTrue();
    v = gitops.get("fleet");
    assertThat(v.lastCommit().sha()).isEqualTo(fixed);
    assertThat(v.lastError()).isNull();
    // The diff of the fix is against the last good commit, not the refused one.
    assertThat(gitops.commit("fleet", fixed).apps())
        .usingRecursiveFieldByFieldElementComparatorIgnoringFields("diff")
        .containsExactly(
            new CommitView.AppChange(
                "web",
                CommitView.Change.CHANGED,
                gitops.apps().getFirst().revision(),
                List.of(),
                List.of("v1 ConfigMap web/web-config"),
                List.of()));
    assertThat(changes).containsExactly("fleet", "fleet");
  }

  @Test
  void syncSaysWhatBecameOfTheNewestCommit() {
    String good = up.write("apps/web/a.yaml", CONFIG).commit("good");
    gitops.add(source("fleet", up.fileUrl()), "alice");

    SyncResult first = gitops.sync("fleet");
    assertThat(first.changed()).isTrue();
    assertThat(first.newest().sha()).isEqualTo(good);
    assertThat(first.newest().status()).isEqualTo(CommitView.Status.APPLIED);

    String bad = up.write("apps/web/a.yaml", "apiVersion: v1\nkind: [oops\n").commit("bad");
    SyncResult refused = gitops.sync("fleet");
    assertThat(refused.changed()).isFalse();
    assertThat(refused.newest().sha()).isEqualTo(bad);
    assertThat(refused.newest().status()).isEqualTo(CommitView.Status.FAILED);
    assertThat(refused.newest().error()).contains("app 'web'").contains("a.yaml");
    assertThat(refused.source().lastCommit().sha()).isEqualTo(good);

    // Nothing new since: the newest commit is still the refused one, and it says so again.
    SyncResult again = gitops.sync("fleet");
    assertThat(again.changed()).isFalse();
    assertThat(again.newest().sha()).isEqualTo(bad);
    assertThat(again.newest().status()).isEqualTo(CommitView.Status.FAILED);
  }

  @Test
  void historySaysWhereEachCommitStandsByWhatDevicesReport() {
    String first = up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();
    // In effect, and no device should run it (yet).
    assertThat(gitops.history("fleet", 1).get(0).state()).isEqualTo(CommitView.State.APPLIED);
    assertThat(gitops.history("fleet", 1).get(0).devices())
        .isEqualTo(new CommitView.Devices(0, 0, 0, 0));

    counts.put(first, new AppStatusService.CommitDevices(3, 2, 1, 0));
    assertThat(gitops.commit("fleet", first).state()).isEqualTo(CommitView.State.ROLLING_OUT);
    counts.put(first, new AppStatusService.CommitDevices(3, 3, 3, 0));
    assertThat(gitops.commit("fleet", first).state()).isEqualTo(CommitView.State.READY);

    String second = up.write("apps/web/a.yaml", CONFIG.replace("hello", "bye")).commit("second");
    assertThat(gitops.pollNow("fleet")).isTrue();
    // Every device failed the new commit: it is not shown as applied.
    counts.remove(first);
    counts.put(second, new AppStatusService.CommitDevices(3, 3, 0, 3));
    String bad = up.write("apps/web/a.yaml", "kind: [oops\n").commit("bad");
    assertThat(gitops.pollNow("fleet")).isFalse();

    List<CommitView> history = gitops.history("fleet", 10);
    assertThat(history)
        .extracting(CommitView::sha, CommitView::state)
        .containsExactly(
            Tuple.tuple(bad, CommitView.State.REFUSED),
            Tuple.tuple(second, CommitView.State.FAILED),
            Tuple.tuple(first, CommitView.State.SUPERSEDED));
    assertThat(history.get(0).devices()).isNull();
    assertThat(history.get(1).devices()).isEqualTo(new CommitView.Devices(3, 3, 0, 3));
    assertThat(history.get(1).status()).isEqualTo(CommitView.Status.APPLIED);
  }

  @Test
  void aCommitKeepsTheContentDiffOfEachChangedResource() {
    up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();
    String second =
        up.write("apps/web/a.yaml", CONFIG.replace("hello", "bonjour"))
            .write("apps/web/svc.yaml", SERVICE)
            .commit("second");
    assertThat(gitops.pollNow("fleet")).isTrue();

    String diff = gitops.commit("fleet", second).apps().get(0).diff();
    assertThat(diff)
        .contains("--- /dev/null\n+++ b/v1 Service web/web\n@@ ")
        .contains("+kind: \"Service\"\n")
        .contains("--- a/v1 ConfigMap web/web-config\n+++ b/v1 ConfigMap web/web-config\n@@ ")
        .contains(" data:\n-  greeting: \"hello\"\n+  greeting: \"bonjour\"\n");
  }

  @Test
  void oneBrokenAppDoesNotHoldBackTheOthers() {
    String first =
        up.write("apps/web/a.yaml", CONFIG)
            .write("apps/db/a.yaml", CONFIG.replace("web-config", "db-config"))
            .commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();
    Map<String, AppDefinition> before = byName(gitops.apps());

    // web changes fine; db breaks; kiosk is new and broken from the start.
    String second =
        up.write("apps/web/a.yaml", CONFIG.replace("hello", "bonjour"))
            .write("apps/db/a.yaml", "apiVersion: v1\nkind: [oops\n")
            .write("apps/kiosk/a.yaml", "kind: ConfigMap\n")
            .commit("second");
    assertThat(gitops.pollNow("fleet")).isTrue();

    Map<String, AppDefinition> after = byName(gitops.apps());
    assertThat(after).containsOnlyKeys("db", "web");
    assertThat(after.get("web").revision()).isNotEqualTo(before.get("web").revision());
    assertThat(after.get("web").commit()).isEqualTo(second);
    assertThat(after.get("db").revision()).isEqualTo(before.get("db").revision());
    assertThat(after.get("db").commit()).isEqualTo(first);
    // The kept app still renders what it had.
    assertThat(gitops.render(after.get("db"), Map.of(), null).yaml()).contains("db-config");

    CommitView c = gitops.commit("fleet", second);
    assertThat(c.status()).isEqualTo(CommitView.Status.APPLIED);
    assertThat(c.error())
        .contains("was applied without 2 apps")
        .contains("app 'db' was refused (it stays at " + before.get("db").revision())
        .contains("app 'kiosk' was refused (it is not deployed)");
    Map<String, CommitView.AppChange> changes = new HashMap<>();
    c.apps().forEach(a -> changes.put(a.app(), a));
    assertThat(changes.get("web").change()).isEqualTo(CommitView.Change.CHANGED);
    assertThat(changes.get("db").change()).isEqualTo(CommitView.Change.REFUSED);
    assertThat(changes.get("db").revision()).isEqualTo(before.get("db").revision());
    assertThat(changes.get("db").error()).contains("a.yaml");
    assertThat(changes.get("kiosk").change()).isEqualTo(CommitView.Change.REFUSED);
    assertThat(changes.get("kiosk").revision()).isNull();
    SourceView v = gitops.get("fleet");
    assertThat(v.lastCommit().sha()).isEqualTo(second);
    assertThat(v.lastError()).contains("app 'db' was refused");
    assertThat(v.revisions())
        .extracting(SourceView.AppRevision::app, SourceView.AppRevision::revision)
        .containsExactly(
            Tuple.tuple("db", before.get("db").revision()),
            Tuple.tuple("kiosk", null),
            Tuple.tuple("web", after.get("web").revision()));
    assertThat(v.revisions().get(0).error()).contains("a.yaml");
    assertThat(v.revisions().get(2).error()).isNull();
    assertThat(audit.recent(10))
        .filteredOn(e -> e.action().equals("git-app.refused"))
        .extracting(AuditLog.Entry::target)
        .containsExactlyInAnyOrder("fleet/db", "fleet/kiosk");

    // Fixed in the next commit: both delivered.
    String fixed =
        up.write("apps/db/a.yaml", CONFIG.replace("web-config", "db-config").replace("hello", "hi"))
            .write("apps/kiosk/a.yaml", CONFIG.replace("web-config", "kiosk-config"))
            .commit("fix");
    assertThat(gitops.pollNow("fleet")).isTrue();
    Map<String, AppDefinition> fixedApps = byName(gitops.apps());
    assertThat(fixedApps).containsOnlyKeys("db", "kiosk", "web");
    assertThat(fixedApps.get("db").commit()).isEqualTo(fixed);
    assertThat(fixedApps.get("db").revision()).isNotEqualTo(before.get("db").revision());
    assertThat(fixedApps.get("kiosk").commit()).isEqualTo(fixed);
    assertThat(fixedApps.get("web").commit()).isEqualTo(second);
    assertThat(gitops.get("fleet").lastError()).isNull();
    assertThat(gitops.get("fleet").revisions())
        .extracting(SourceView.AppRevision::error)
        .containsOnlyNulls();
  }

  @Test
  void contentProblemsAreRefusedWithTheReason() {
    up.write("apps/Web_App/a.yaml", CONFIG).commit("bad name");
    gitops.add(source("names", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("names")).isFalse();
    assertThat(gitops.get("names").lastError())
        .contains("no commit is in effect yet")
        .contains("'Web_App' is not a valid application name");

    gitops.add(
        new AddSource("nopath", up.fileUrl(), null, "deploy/", null, null, null, ""), "alice");
    assertThat(gitops.pollNow("nopath")).isFalse();
    assertThat(gitops.get("nopath").lastError())
        .contains("the directory 'deploy' does not exist in this commit");
    assertThat(gitops.apps()).isEmpty();
  }

  @Test
  void theRepositoryRootCanHoldTheApps() {
    up.write("web/a.yaml", CONFIG).write(".github/workflows/ci.yaml", "on: push").commit("root");
    gitops.add(new AddSource("root", up.fileUrl(), null, ".", null, null, null, ""), "alice");
    assertThat(gitops.pollNow("root")).isTrue();
    assertThat(gitops.get("root").apps()).containsExactly("web");
    assertThat(gitops.get("root").path()).isEqualTo(".");
  }

  @Test
  void unreachableRemotesAndMissingBranchesAreRefusedWhenAdded() {
    assertThatThrownBy(
            () -> gitops.add(source("gone", "file://" + tmp.resolve("nowhere")), "alice"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.GIT_REMOTE_UNREACHABLE);
              assertThat(e.getMessage())
                  .contains("git source 'gone' was not added")
                  .contains("cannot list branches of")
                  .contains("--force");
            });
    up.write("apps/web/a.yaml", CONFIG).commit("first");
    AddSource release =
        new AddSource("branch", up.fileUrl(), "release", null, null, null, null, "");
    assertThatThrownBy(() -> gitops.add(release, "alice"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.GIT_REMOTE_UNREACHABLE);
              assertThat(e.getMessage())
                  .contains("branch 'release' does not exist")
                  .contains("[main]");
            });
    // Nothing was stored, nothing audited, and the name is still free.
    assertThat(gitops.list()).isEmpty();
    assertThat(audit.recent(10).toString()).doesNotContain("git-source.add");
    assertThat(gitops.check(source("branch", up.fileUrl())).branch()).isEqualTo("main");
  }

  @Test
  void aCheckSaysWhatTheSourceWouldFollowAndChangesNothing() {
    String sha = up.write("apps/web/a.yaml", CONFIG).commit("first");
    GitOps.SourceCheck c = gitops.check(source("fleet", up.fileUrl()));
    assertThat(c.branch()).isEqualTo("main");
    assertThat(c.commit()).isEqualTo(sha);
    assertThat(gitops.list()).isEmpty();
    // Added with the check, the source follows the branch resolved then.
    assertThat(gitops.add(source("fleet", up.fileUrl()), "alice").branch()).isEqualTo("main");
  }

  @Test
  void forcedSourcesWithUnreachableRemotesAndMissingBranchesAreReportedOnEachPoll() {
    gitops.add(source("gone", "file://" + tmp.resolve("nowhere")).forced(), "alice");
    assertThat(gitops.pollNow("gone")).isFalse();
    assertThat(gitops.get("gone").lastError()).contains("cannot list branches of");
    assertThat(gitops.get("gone").lastPolledAt()).isNull();

    up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.add(
        new AddSource("branch", up.fileUrl(), "release", null, null, null, null, "").forced(),
        "alice");
    assertThat(gitops.pollNow("branch")).isFalse();
    assertThat(gitops.get("branch").lastError())
        .contains("branch 'release' does not exist")
        .contains("[main]");
    assertThat(gitops.history("branch", 10)).isEmpty();
  }

  @Test
  void aForcePushBackToAnOlderCommitIsRecordedAgain() throws Exception {
    String first = up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    gitops.pollNow("fleet");
    String revision = gitops.apps().getFirst().revision();
    String second = up.write("apps/web/b.yaml", SERVICE).commit("second");
    assertThat(gitops.pollNow("fleet")).isTrue();
    try (Git g = Git.open(up.dir().toFile())) {
      g.reset().setMode(ResetCommand.ResetType.HARD).setRef(first).call();
    }
    assertThat(gitops.pollNow("fleet")).isTrue();
    assertThat(gitops.history("fleet", 10))
        .extracting(CommitView::sha)
        .containsExactly(first, second, first);
    assertThat(gitops.commit("fleet", first).apps().get(0).removed())
        .containsExactly("v1 Service web/web");
    assertThat(gitops.apps())
        .extracting(AppDefinition::sha, AppDefinition::revision, AppDefinition::commit)
        .containsExactly(Tuple.tuple(first, revision, first));
  }

  @Test
  void webhookWithAValidGithubSignatureTriggersAFetch() {
    String sha = up.write("apps/web/a.yaml", CONFIG).commit("first");
    SourceView s = gitops.add(source("fleet", up.fileUrl()), "alice");
    byte[] body =
        ("{\"ref\":\"refs/heads/main\",\"after\":\"" + sha + "\"}")
            .getBytes(StandardCharsets.UTF_8);
    String signature = "sha256=" + Webhooks.hmacSha256Hex(s.webhookSecret(), body);

    WebhookResult r =
        gitops.webhook(
            "fleet", Map.of("x-github-event", "push", "x-hub-signature-256", signature), body);

    assertThat(r.triggered()).isTrue();
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(gitops.get("fleet").lastCommit()).isNotNull());
    assertThat(gitops.get("fleet").lastCommit().sha()).isEqualTo(sha);
  }

  @Test
  void webhookWithAWrongSignatureIsRefusedAndFetchesNothing() {
    up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    byte[] body = "{\"ref\":\"refs/heads/main\"}".getBytes(StandardCharsets.UTF_8);
    String forged = "sha256=" + Webhooks.hmacSha256Hex("guessed", body);

    assertThatThrownBy(() -> gitops.webhook("fleet", Map.of("x-hub-signature-256", forged), body))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED));
    assertThatThrownBy(() -> gitops.webhook("fleet", Map.of(), body))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED));
    assertThat(gitops.stats().lsRemotes()).isZero();
  }

  @Test
  void anUnknownSourceAnswersExactlyLikeAWrongSecret() {
    gitops.add(source("fleet", up.fileUrl()), "alice");
    byte[] body = "{\"ref\":\"refs/heads/main\"}".getBytes(StandardCharsets.UTF_8);
    for (String header : List.of("x-hub-signature-256", "x-gitlab-token")) {
      String value =
          header.equals("x-gitlab-token") ? "x" : "sha256=" + Webhooks.hmacSha256Hex("x", body);
      ControllerException known =
          refusal(() -> gitops.webhook("fleet", Map.of(header, value), body));
      ControllerException unknown =
          refusal(() -> gitops.webhook("nope", Map.of(header, value), body));
      assertThat(unknown.code()).isEqualTo(known.code()).isEqualTo(ErrorCode.UNAUTHENTICATED);
      assertThat(unknown.getMessage().replace("nope", "fleet")).isEqualTo(known.getMessage());
      assertThat(known.getMessage())
          .contains("edgefleet repos get fleet")
          .doesNotContain("git get");
    }
  }

  @Test
  void aReplayedDeliveryIsRefusedAndFetchesNothingMore() {
    String sha = up.write("apps/web/a.yaml", CONFIG).commit("first");
    SourceView s = gitops.add(source("fleet", up.fileUrl()), "alice");
    byte[] body =
        ("{\"ref\":\"refs/heads/main\",\"after\":\"" + sha + "\"}")
            .getBytes(StandardCharsets.UTF_8);
    Map<String, String> signed =
        Map.of("x-hub-signature-256", "sha256=" + Webhooks.hmacSha256Hex(s.webhookSecret(), body));
    assertThat(gitops.webhook("fleet", signed, body).triggered()).isTrue();
    ControllerException replay = refusal(() -> gitops.webhook("fleet", signed, body));
    assertThat(replay.code()).isEqualTo(ErrorCode.CONFLICT);
    assertThat(replay.getMessage()).contains("already received").contains("repos sync fleet");

    // A new delivery id does not make the same signed body new.
    Map<String, String> relabelled = new HashMap<>(signed);
    relabelled.put("x-github-delivery", "another-id");
    assertThat(refusal(() -> gitops.webhook("fleet", relabelled, body)).code())
        .isEqualTo(ErrorCode.CONFLICT);

    // A payload that says it was pushed long ago is refused too.
    byte[] old =
        ("{\"ref\":\"refs/heads/main\",\"repository\":{\"pushed_at\":1000}}")
            .getBytes(StandardCharsets.UTF_8);
    Map<String, String> oldSigned =
        Map.of("x-hub-signature-256", "sha256=" + Webhooks.hmacSha256Hex(s.webhookSecret(), old));
    assertThat(refusal(() -> gitops.webhook("fleet", oldSigned, old)).getMessage())
        .contains("older than 24 h");
  }

  private static ControllerException refusal(Runnable call) {
    try {
      call.run();
    } catch (ControllerException e) {
      return e;
    }
    throw new AssertionError("expected the call to be refused");
  }

  @Test
  void webhookWithTheGitlabTokenTriggersAFetch() {
    String sha = up.write("apps/web/a.yaml", CONFIG).commit("first");
    SourceView s = gitops.add(source("fleet", up.fileUrl()), "alice");
    byte[] body =
        "{\"object_kind\":\"push\",\"ref\":\"refs/heads/main\"}".getBytes(StandardCharsets.UTF_8);

    WebhookResult r =
        gitops.webhook(
            "fleet",
            Map.of("x-gitlab-event", "Push Hook", "x-gitlab-token", s.webhookSecret()),
            body);

    assertThat(r)
        .isEqualTo(new WebhookResult("fleet", true, "fetch queued for push to refs/heads/main"));
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(head("fleet")).isEqualTo(sha));
  }

  @Test
  void aWebhookForASourceWhoseDefaultBranchIsNotKnownYetFetches() {
    SourceView s = gitops.add(source("fleet", up.fileUrl()), "alice");
    byte[] body = "{\"ref\":\"refs/heads/trunk\"}".getBytes(StandardCharsets.UTF_8);
    assertThat(gitops.webhook("fleet", Map.of("x-gitlab-token", s.webhookSecret()), body))
        .isEqualTo(new WebhookResult("fleet", true, "fetch queued for push to refs/heads/trunk"));
  }

  @Test
  void webhookPingsAndOtherBranchesDoNotFetch() {
    SourceView s =
        gitops.add(
            new AddSource("fleet", up.fileUrl(), "main", null, null, null, null, "").forced(),
            "alice");
    byte[] other = "{\"ref\":\"refs/heads/dev\"}".getBytes(StandardCharsets.UTF_8);
    Map<String, String> gitlab = Map.of("x-gitlab-token", s.webhookSecret());
    assertThat(gitops.webhook("fleet", gitlab, other))
        .isEqualTo(
            new WebhookResult(
                "fleet",
                false,
                "push to refs/heads/dev ignored; the source follows refs/heads/main"));
    Map<String, String> ping = new HashMap<>(gitlab);
    ping.put("x-github-event", "ping");
    assertThat(gitops.webhook("fleet", ping, "{}".getBytes()).triggered()).isFalse();
    assertThat(gitops.stats().lsRemotes()).isZero();
  }

  @Test
  void credentialsAreSealedAtRestAndNeverShown() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    String body =
        Base64.getMimeEncoder(64, "\n".getBytes())
            .encodeToString(g.generateKeyPair().getPrivate().getEncoded());
    String pem = "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n";
    SourceView ssh =
        gitops.add(
            new AddSource(
                    "private",
                    "ssh://git@127.0.0.1:1/fleet.git",
                    null,
                    null,
                    "1m",
                    pem,
                    null,
                    "env=prod")
                .forced(),
            "alice");
    SourceView token =
        gitops.add(
            new AddSource(
                    "tokened",
                    "https://git.example.com/fleet.git",
                    null,
                    null,
                    null,
                    null,
                    "glpat-SuperSecret123",
                    "")
                .forced(),
            "alice");

    assertThat(ssh.auth()).isEqualTo("ssh");
    assertThat(token.auth()).isEqualTo("token");
    String firstLine = body.substring(0, 40);
    Map<String, String> columns = new HashMap<>();
    db.jdbi()
        .useHandle(
            h ->
                h.createQuery("SELECT name, credential, webhook_secret FROM git_sources")
                    .map(
                        (rs, ctx) -> {
                          columns.put(rs.getString("name"), rs.getString("credential"));
                          columns.put(
                              rs.getString("name") + ".webhook", rs.getString("webhook_secret"));
                          return null;
                        })
                    .list());
    assertThat(columns.get("private"))
        .startsWith("v1.")
        .doesNotContain("PRIVATE KEY")
        .doesNotContain(firstLine);
    assertThat(columns.get("tokened")).startsWith("v1.").doesNotContain("SuperSecret");
    assertThat(columns.get("tokened.webhook")).doesNotContain(token.webhookSecret());
    String json = Json.write(gitops.list());
    assertThat(json)
        .doesNotContain("SuperSecret")
        .doesNotContain(firstLine)
        .doesNotContain("PRIVATE");
    assertThat(audit.recent(10).toString()).doesNotContain("SuperSecret").doesNotContain(firstLine);
  }

  @Test
  void invalidRequestsAreRefusedWithWhatToDo() {
    String pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assertInvalid(source("Bad_Name", up.fileUrl()), "name 'Bad_Name' is invalid");
    assertInvalid(source("ok", "ftp://host/repo"), "unsupported scheme");
    assertInvalid(source("ok", ""), "url is required");
    assertInvalid(source("ok", "https://user:pw@host/repo"), "must not contain a password");
    assertInvalid(
        new AddSource("ok", "https://h/r", null, null, "50ms", null, null, ""),
        "interval must be at least");
    assertInvalid(
        new AddSource("ok", "https://h/r", null, null, "soon", null, null, ""),
        "interval: 'soon' is not a duration");
    assertInvalid(
        new AddSource("ok", "https://h/r", null, "../etc", null, null, null, ""),
        "path '../etc' is invalid");
    assertInvalid(
        new AddSource("ok", "https://h/r", "bad..branch", null, null, null, null, ""),
        "not a valid git branch name");
    assertInvalid(
        new AddSource("ok", "https://h/r", null, null, null, null, null, "site in x"),
        "target: invalid selector 'site in x'");
    assertInvalid(
        new AddSource("ok", "https://h/r", null, null, null, null, null, null),
        "target is required");
    assertInvalid(
        new AddSource("ok", "ssh://git@h/r", null, null, null, pem, "tok", ""),
        "either sshKey or token");
    assertInvalid(
        new AddSource("ok", "git@host:org/repo.git", null, null, null, null, null, ""),
        "ssh URLs need sshKey");
    assertInvalid(
        new AddSource("ok", "git@host:org/repo.git", null, null, null, pem, null, ""),
        "sshKey cannot be read");
    assertInvalid(
        new AddSource("ok", "https://h/r", null, null, null, pem, null, ""),
        "sshKey only works with ssh URLs");
    assertInvalid(
        new AddSource("ok", "http://git.example.com/r", null, null, null, null, "tok", ""),
        "use an https:// URL");
    assertInvalid(
        new AddSource("ok", "git://h/r", null, null, null, null, "tok", ""),
        "token only works with https://");
    gitops.add(
        new AddSource("ok", "http://127.0.0.1:1/r", null, null, null, null, "tok", "").forced(),
        "alice");
    assertThatThrownBy(() -> gitops.add(source("ok", up.fileUrl()), "bob"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT);
              assertThat(e.getMessage()).contains("remove it first");
            });
  }

  @Test
  void removingASourceForgetsEverythingAndIsAudited() {
    up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    gitops.pollNow("fleet");
    assertThat(gitops.apps()).hasSize(1);

    gitops.remove("fleet", "bob");

    assertThat(gitops.apps()).isEmpty();
    assertThat(gitops.list()).isEmpty();
    assertThat(changes).containsExactly("fleet", "fleet");
    assertThat(audit.recent(1).get(0).action()).isEqualTo("git-source.remove");
    assertThat(audit.recent(1).get(0).actor()).isEqualTo("bob");
    for (Runnable call :
        List.<Runnable>of(
            () -> gitops.get("fleet"),
            () -> gitops.remove("fleet", "bob"),
            () -> gitops.history("fleet", 5),
            () -> gitops.pollNow("fleet"))) {
      assertThatThrownBy(call::run)
          .isInstanceOfSatisfying(
              ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    }
    Long trees =
        db.jdbi()
            .withHandle(
                h -> h.createQuery("SELECT COUNT(*) FROM git_app_trees").mapTo(Long.class).one());
    assertThat(trees).isZero();
    // The name can be used again, starting afresh.
    gitops.add(source("fleet", up.fileUrl()), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();
  }

  @Test
  void renderedManifestsAreNamespacedAndDeterministic() {
    up.write("apps/web/a.yaml", CONFIG).write("apps/web/b.yaml", DEPLOYMENT).commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    gitops.pollNow("fleet");
    AppDefinition web = gitops.apps().get(0);

    RenderedApp one = gitops.render(web, Map.of("site", "a"), null);
    RenderedApp two = gitops.render(web, Map.of("site", "b"), null);

    assertThat(two).isEqualTo(one);
    assertThat(one.yaml())
        .startsWith("---\napiVersion: \"v1\"\nkind: \"Namespace\"\nmetadata:\n  name: \"web\"\n")
        .contains("  name: \"web-config\"\n  namespace: \"web\"\n");
    assertThatThrownBy(
            () ->
                gitops.render(
                    new AppDefinition(
                        "fleet",
                        "web",
                        "0".repeat(40),
                        web.revision(),
                        web.commit(),
                        web.kind(),
                        web.target()),
                    Map.of(),
                    null))
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
  }

  @Test
  void commitLookupNeedsAnUnambiguousHexPrefix() {
    String sha = up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.add(source("fleet", up.fileUrl()), "alice");
    gitops.pollNow("fleet");
    assertThat(gitops.commit("fleet", sha.substring(0, 4).toUpperCase()).sha()).isEqualTo(sha);
    assertThatThrownBy(() -> gitops.commit("fleet", "xyz"))
        .hasMessageContaining("at least 4 hexadecimal digits");
    String other = sha.charAt(0) == 'a' ? "bbbbbbb" : "aaaaaaa";
    assertThatThrownBy(() -> gitops.commit("fleet", other))
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
  }

  @Test
  void startedPollersPickUpNewCommitsByThemselves() {
    String first = up.write("apps/web/a.yaml", CONFIG).commit("first");
    gitops.start();
    gitops.add(new AddSource("fleet", up.fileUrl(), null, null, "200ms", null, null, ""), "alice");
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(head("fleet")).isEqualTo(first));

    String second = up.write("apps/web/b.yaml", SERVICE).commit("second");

    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(head("fleet")).isEqualTo(second));
    assertThat(gitops.history("fleet", 10)).hasSize(2);
  }

  /** The SHA in effect for a source, or null before the first applied commit. */
  String head(String name) {
    SourceView.Commit c = gitops.get(name).lastCommit();
    return c == null ? null : c.sha();
  }

  private void assertInvalid(AddSource req, String message) {
    assertThatThrownBy(() -> gitops.add(req, "alice"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED);
              assertThat(e.getMessage()).contains(message);
            });
  }
}
