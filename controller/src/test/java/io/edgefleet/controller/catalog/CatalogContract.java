package io.edgefleet.controller.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.gitops.GitOps;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.controller.render.RenderedApp;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The catalog with plain-manifest apps (no Helm) on the database the subclass gives: SQLite in
 * {@link CatalogTest}, PostgreSQL in {@link CatalogPostgresIT}.
 */
abstract class CatalogContract {
  static final String CONFIG =
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: pos-config
      data:
        greeting: hello
      """;
  static final String DEPLOYMENT =
      """
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: pos
      spec:
        replicas: 1
      """;

  @TempDir Path tmp;
  Database db;
  AuditLog audit;
  GitOps gitops;
  Catalog catalog;
  final TestClock clock = new TestClock();

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void setUp() throws Exception {
    Path data = Files.createDirectories(tmp.resolve("data"));
    db = Database.open(databaseUrl(data), null, null);
    audit = new AuditLog(db.jdbi(), clock);
    gitops =
        new GitOps(
            db.jdbi(),
            clock,
            audit,
            data.resolve("gitops"),
            new SecretBox(data.resolve("key")),
            name -> {});
    catalog = new Catalog(db.jdbi(), clock, audit, gitops.rendering());
  }

  @AfterEach
  void tearDown() {
    gitops.close();
    db.close();
  }

  static Catalog.PushRequest manifests(String version, Map<String, String> files) {
    return new Catalog.PushRequest(
        version, "manifests", null, Base64.getEncoder().encodeToString(Tars.of(files)));
  }

  static Map<String, String> files(String... pathsAndContents) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < pathsAndContents.length; i += 2) {
      m.put(pathsAndContents[i], pathsAndContents[i + 1]);
    }
    return m;
  }

  @Test
  void pushStoresAnImmutableContentAddressedVersionAndAuditsIt() {
    Catalog.PushResult r =
        catalog.push(
            "pos",
            new Catalog.PushRequest(
                "1.0.0",
                "manifests",
                "point of sale",
                Base64.getEncoder()
                    .encodeToString(
                        Tars.of(
                            files("config.yaml", CONFIG, "deploy/deployment.yaml", DEPLOYMENT)))),
            "alice");

    assertThat(r.created()).isTrue();
    assertThat(r.name()).isEqualTo("pos");
    assertThat(r.version()).isEqualTo("1.0.0");
    assertThat(r.kind()).isEqualTo("manifests");
    assertThat(r.files()).isEqualTo(2);
    assertThat(r.size()).isEqualTo(CONFIG.length() + DEPLOYMENT.length());
    assertThat(r.createdBy()).isEqualTo("alice");
    assertThat(r.createdAt()).isEqualTo(clock.instant());
    assertThat(r.digest())
        .isEqualTo(
            Archives.digest(
                Archives.readTarGz(
                    Tars.of(files("deploy/deployment.yaml", DEPLOYMENT, "config.yaml", CONFIG)))));

    Catalog.Version v = catalog.version("pos", "1.0.0");
    assertThat(v)
        .isEqualTo(
            new Catalog.Version(
                "pos",
                "1.0.0",
                "manifests",
                r.digest(),
                r.size(),
                "point of sale",
                clock.instant()));
    Catalog.VersionDetail detail = catalog.detail("pos", "1.0.0");
    assertThat(detail.paths()).containsExactly("config.yaml", "deploy/deployment.yaml");
    assertThat(detail.values()).isNull();

    List<AuditLog.Entry> entries = audit.recent(10);
    assertThat(entries).hasSize(1);
    assertThat(entries.get(0).action()).isEqualTo("catalog-version.push");
    assertThat(entries.get(0).target()).isEqualTo("pos@1.0.0");
    assertThat(entries.get(0).actor()).isEqualTo("alice");
    assertThat(entries.get(0).detail()).contains(r.digest()).contains("\"kind\":\"manifests\"");
  }

  @Test
  void pushingTheSameContentAgainChangesNothing() {
    Catalog.PushResult first =
        catalog.push(
            "pos", manifests("1.0.0", files("a.yaml", CONFIG, "b.yaml", DEPLOYMENT)), "alice");
    clock.advance(60_000);

    // Other order, a top-level directory and ./ prefixes: the same files.
    Catalog.PushResult again =
        catalog.push(
            "pos",
            manifests("1.0.0", files("./pos/b.yaml", DEPLOYMENT, "./pos/a.yaml", CONFIG)),
            "bob");

    assertThat(again.created()).isFalse();
    assertThat(again.digest()).isEqualTo(first.digest());
    assertThat(again.createdAt()).isEqualTo(first.createdAt());
    assertThat(again.createdBy()).isEqualTo("alice");
    assertThat(audit.recent(10)).hasSize(1);
    assertThat(catalog.app("pos").updatedAt()).isEqualTo(first.createdAt());
  }

  @Test
  void otherContentUnderAnExistingVersionIsRefused() {
    Catalog.PushResult first =
        catalog.push("pos", manifests("1.0.0", files("a.yaml", CONFIG)), "alice");

    assertThatThrownBy(
            () ->
                catalog.push(
                    "pos",
                    manifests("1.0.0", files("a.yaml", CONFIG.replace("hello", "hi"))),
                    "bob"))
        .isInstanceOf(ControllerException.class)
        .hasMessageStartingWith(
            "pos@1.0.0 already exists with different content (digest " + first.digest())
        .hasMessageContaining("versions are immutable: push it as a new version")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.APP_VERSION_EXISTS);
    assertThat(catalog.version("pos", "1.0.0").digest()).isEqualTo(first.digest());
    assertThat(audit.recent(10)).hasSize(1);
  }

  @Test
  void theSameContentMayBeSeveralVersionsAndAppsSharingOneStoredCopy() {
    Catalog.PushResult a =
        catalog.push("pos", manifests("1.0.0", files("a.yaml", CONFIG)), "alice");
    Catalog.PushResult b =
        catalog.push("pos", manifests("1.0.1", files("a.yaml", CONFIG)), "alice");
    Catalog.PushResult c =
        catalog.push("kiosk", manifests("1.0.0", files("a.yaml", CONFIG)), "alice");

    assertThat(List.of(a.created(), b.created(), c.created())).containsOnly(true);
    assertThat(b.digest()).isEqualTo(a.digest()).isEqualTo(c.digest());
    assertThat(contents()).isEqualTo(1);
  }

  @Test
  void badArchivesAreRefusedAndNothingIsStored() {
    String symlink =
        Base64.getEncoder()
            .encodeToString(
                Tars.create().file("a.yaml", CONFIG).symlink("b.yaml", "/etc/passwd").tgz());
    assertRefused(
        new Catalog.PushRequest("1.0.0", "manifests", null, symlink),
        ErrorCode.CATALOG_CONTENT_INVALID,
        "'b.yaml' is a symbolic link");
    assertRefused(
        manifests("1.0.0", files("../a.yaml", CONFIG)),
        ErrorCode.CATALOG_CONTENT_INVALID,
        "leaves the archive");
    assertRefused(
        manifests("1.0.0", files("/abs/a.yaml", CONFIG)),
        ErrorCode.CATALOG_CONTENT_INVALID,
        "absolute path");
    assertRefused(
        manifests("1.0.0", files("README.md", "hi")),
        ErrorCode.CATALOG_CONTENT_INVALID,
        "manifests need *.yaml, *.yml or *.json files; the archive has README.md");
    assertRefused(
        manifests("1.0.0", files("a.yaml", "kind: ConfigMap\nmetadata: {name: x}\n")),
        ErrorCode.CATALOG_CONTENT_INVALID,
        "a.yaml document 1 has no apiVersion");
    assertRefused(
        manifests("1.0.0", files("a.yaml", "# nothing\n")),
        ErrorCode.CATALOG_CONTENT_INVALID,
        "contains no Kubernetes objects");
    assertRefused(
        manifests("1.0.0", files("Chart.yaml", "name: x\n", "a.yaml", CONFIG)),
        ErrorCode.CATALOG_CONTENT_INVALID,
        "push it as kind chart");
    assertRefused(
        new Catalog.PushRequest(
            "1.0.0",
            "chart",
            null,
            Base64.getEncoder().encodeToString(Tars.of(files("a.yaml", CONFIG)))),
        ErrorCode.CATALOG_CONTENT_INVALID,
        "a chart needs Chart.yaml at its root; the archive has a.yaml");
    assertRefused(
        new Catalog.PushRequest("1.0.0", "manifests", null, "not base64 !"),
        ErrorCode.VALIDATION_FAILED,
        "archive is not valid base64");
    assertRefused(
        new Catalog.PushRequest("1.0.0", "manifests", null, "aGVsbG8="),
        ErrorCode.CATALOG_CONTENT_INVALID,
        "not gzip-compressed");
    assertRefused(
        manifests("1.0/0", files("a.yaml", CONFIG)),
        ErrorCode.VALIDATION_FAILED,
        "version '1.0/0'");
    assertRefused(
        new Catalog.PushRequest("1.0.0", "helm", null, "aGVsbG8="),
        ErrorCode.VALIDATION_FAILED,
        "kind must be 'chart' or 'manifests'");
    assertThatThrownBy(
            () -> catalog.push("Bad_Name", manifests("1.0.0", files("a.yaml", CONFIG)), "a"))
        .hasMessageContaining("app name 'Bad_Name' is invalid");

    assertThat(catalog.list()).isEmpty();
    assertThat(audit.recent(10)).isEmpty();
    assertThat(contents()).isZero();
  }

  @Test
  void manifestsRenderLikeGitAppsAndRefuseValues() {
    catalog.push("pos", manifests("1.0.0", files("a.yaml", CONFIG)), "alice");

    RenderedApp r = catalog.render("pos", "1.0.0", Map.of(), Map.of("site", "s1"), null);

    assertThat(r.yaml())
        .startsWith("---\napiVersion: \"v1\"\nkind: \"Namespace\"\nmetadata:\n  name: \"pos\"\n")
        .contains("  name: \"pos-config\"\n  namespace: \"pos\"\n");
    assertThat(r).isEqualTo(RenderedApp.of(r.yaml()));
    assertThatThrownBy(() -> catalog.render("pos", "1.0.0", Map.of("replicas", 2), Map.of(), null))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("app pos@1.0.0: values apply to Helm charts only");
    assertThatThrownBy(() -> catalog.validateValues("pos", "1.0.0", Map.of("replicas", 2)))
        .hasMessage("values apply to Helm charts only; pos@1.0.0 is plain Kubernetes YAML")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);
    catalog.validateValues("pos", "1.0.0", Map.of());
    assertThatThrownBy(
            () -> catalog.preview("pos", "1.0.0", null, Optional.empty(), null, Map.of("a", 1)))
        .hasMessageContaining("values apply to Helm charts only")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);
  }

  @Test
  void unknownAppsAndVersionsAreNotFoundWithWhatExists() {
    catalog.push("pos", manifests("1.1.0", files("a.yaml", CONFIG)), "alice");
    clock.advance(1000);
    catalog.push("pos", manifests("1.0.0", files("b.yaml", CONFIG)), "alice");

    assertThatThrownBy(() -> catalog.version("pos", "2.0.0"))
        .hasMessage("no version 2.0.0 of app 'pos'; pushed versions: 1.0.0, 1.1.0")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
    assertThatThrownBy(() -> catalog.render("kiosk", "1.0.0", Map.of(), Map.of(), null))
        .hasMessageStartingWith("app 'kiosk' is not in the catalog")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
    assertThatThrownBy(() -> catalog.app("kiosk"))
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void listAndVersionsShowTheNewestFirst() {
    for (String v : List.of("1.2.0", "1.10.0", "1.2.0-rc.1", "0.9.0")) {
      catalog.push("pos", manifests(v, files("a.yaml", CONFIG.replace("hello", v))), "alice");
      clock.advance(1000);
    }
    for (String v : List.of("edge", "stable", "2024.06")) {
      catalog.push(
          "kiosk",
          new Catalog.PushRequest(
              v,
              "manifests",
              "kiosk " + v,
              Base64.getEncoder()
                  .encodeToString(Tars.of(files("a.yaml", CONFIG.replace("hello", v))))),
          "bob");
      clock.advance(1000);
    }

    assertThat(catalog.app("pos").versions())
        .extracting(Catalog.VersionView::version)
        .containsExactly("1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.0");
    assertThat(catalog.app("kiosk").versions())
        .extracting(Catalog.VersionView::version)
        .containsExactly("2024.06", "stable", "edge");
    assertThat(catalog.list())
        .containsExactly(
            new Catalog.AppSummary(
                "kiosk",
                "kiosk 2024.06",
                "2024.06",
                3,
                "manifests",
                Instant.ofEpochMilli(clock.millis() - 1000)),
            new Catalog.AppSummary(
                "pos",
                null,
                "1.10.0",
                4,
                "manifests",
                Instant.ofEpochMilli(clock.millis() - 4000)));
  }

  private int contents() {
    return db.jdbi()
        .withHandle(
            h -> h.createQuery("SELECT COUNT(*) FROM catalog_contents").mapTo(Integer.class).one());
  }

  /** A clock tests move by hand. */
  static final class TestClock extends Clock {
    private final AtomicLong millis = new AtomicLong(1_750_000_000_000L);

    void advance(long ms) {
      millis.addAndGet(ms);
    }

    @Override
    public long millis() {
      return millis.get();
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis());
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  private void assertRefused(Catalog.PushRequest req, ErrorCode code, String message) {
    assertThatThrownBy(() -> catalog.push("pos", req, "alice"))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining(message)
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(code);
  }
}
