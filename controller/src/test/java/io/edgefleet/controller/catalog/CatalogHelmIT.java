package io.edgefleet.controller.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.gitops.GitOps;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.controller.render.RenderedApp;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Helm charts in the catalog, normalized, validated and rendered by real Helm 3 (helm-java). */
class CatalogHelmIT {
  static final String CHART =
      """
      # The point-of-sale chart.
      apiVersion: v2
      name: pos
      description: "Point of sale"
      version: 1.0.0
      appVersion: "1.16.0"
      """;
  static final String VALUES =
      """
      replicaCount: 1
      fail: false
      host: "${tag:site}.shops.example.com"
      image:
        repository: nginx
        tag: "1.27"
      """;
  static final String OVERRIDES =
      """
      - selector: site-size=large
        values: { replicaCount: 3 }
      """;
  static final String DEPLOYMENT =
      """
      {{- if .Values.fail }}{{ fail "told to fail" }}{{ end -}}
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: {{ .Release.Name }}
      spec:
        replicas: {{ .Values.replicaCount }}
        template:
          spec:
            containers:
              - name: pos
                image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
                env:
                  - name: HOST
                    value: {{ .Values.host | quote }}
      """;

  /** Longer than the 100 bytes of a plain tar name: Helm's archive carries it in a pax header. */
  static final String LONG_TEMPLATE =
      "templates/" + "configuration-of-the-point-of-sale-terminal-".repeat(3) + "map.yaml";

  @TempDir Path tmp;
  Database db;
  GitOps gitops;
  Catalog catalog;
  Path chart;

  @BeforeEach
  void setUp() throws Exception {
    Path data = Files.createDirectories(tmp.resolve("data"));
    db = Database.open(Database.sqliteUrl(data), null, null);
    AuditLog audit = new AuditLog(db.jdbi(), Clock.systemUTC());
    gitops =
        new GitOps(
            db.jdbi(),
            Clock.systemUTC(),
            audit,
            data.resolve("gitops"),
            new SecretBox(data.resolve("secret.key")),
            name -> {});
    catalog = new Catalog(db.jdbi(), Clock.systemUTC(), audit, gitops.rendering());
    chart = tmp.resolve("pos");
    write("Chart.yaml", CHART);
    write("values.yaml", VALUES);
    write("edgefleet-overrides.yaml", OVERRIDES);
    write(".helmignore", "*.bak\n");
    write("notes.bak", "ignored by .helmignore, as helm package does");
    write("templates/deployment.yaml", DEPLOYMENT);
    write(
        LONG_TEMPLATE,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n");
  }

  @AfterEach
  void tearDown() {
    gitops.close();
    db.close();
  }

  @Test
  void aChartDirectoryAndItsHelmPackageArchiveHaveTheSameDigest() throws Exception {
    Catalog.PushResult fromDirectory = push("1.0.0", Tars.ofDirectory(chart, ""));
    byte[] packaged = helmPackage(chart);
    Catalog.PushResult fromArchive = push("1.0.0", packaged);
    Catalog.PushResult asNewVersion = push("1.0.1", packaged);

    assertThat(fromDirectory.created()).isTrue();
    assertThat(fromDirectory.kind()).isEqualTo("chart");
    assertThat(fromArchive.created()).isFalse();
    assertThat(fromArchive.digest()).isEqualTo(fromDirectory.digest());
    assertThat(asNewVersion.created()).isTrue();
    assertThat(asNewVersion.digest()).isEqualTo(fromDirectory.digest());

    Catalog.VersionDetail detail = catalog.detail("pos", "1.0.0");
    assertThat(detail.paths())
        .containsExactly(
            ".helmignore",
            "Chart.yaml",
            "edgefleet-overrides.yaml",
            LONG_TEMPLATE,
            "templates/deployment.yaml",
            "values.yaml");
    assertThat(detail.values()).isEqualTo(VALUES);
    assertThat(detail.files()).isEqualTo(6);
  }

  @Test
  void theSameChartWithOtherContentUnderTheSameVersionIsRefused() {
    push("1.0.0", Tars.ofDirectory(chart, ""));
    write("values.yaml", VALUES.replace("replicaCount: 1", "replicaCount: 2"));

    assertThatThrownBy(() -> push("1.0.0", Tars.ofDirectory(chart, "pos/")))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("pos@1.0.0 already exists with different content")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.APP_VERSION_EXISTS);
  }

  @Test
  void aChartThatFailsToRenderIsRefusedWithHelmsMessageAndNothingIsStored() {
    write("values.yaml", VALUES.replace("fail: false", "fail: true"));

    assertThatThrownBy(() -> push("1.0.0", Tars.ofDirectory(chart, "")))
        .isInstanceOf(ControllerException.class)
        .hasMessageStartingWith(
            "pos@1.0.0 was not stored: it does not render: helm template failed")
        .hasMessageContaining("told to fail")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);

    write("values.yaml", VALUES);
    write("Chart.yaml", CHART.replace("version: 1.0.0", "version: one"));
    assertThatThrownBy(() -> push("1.0.0", Tars.ofDirectory(chart, "")))
        .hasMessageContaining("chart.metadata.version \"one\" is invalid")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);

    assertThat(catalog.list()).isEmpty();
    assertThatThrownBy(() -> catalog.version("pos", "1.0.0"))
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void aRefusedPushLeavesNoChartFilesOnDisk() throws Exception {
    // Compresses to a few KB: a push is small, what it unpacks to is not.
    write("files/blob.txt", "0".repeat(4 << 20));
    write("values.yaml", VALUES.replace("fail: false", "fail: true"));
    assertThatThrownBy(() -> push("1.0.0", Tars.ofDirectory(chart, "")))
        .hasMessageContaining("told to fail");

    write("values.yaml", VALUES);
    write("Chart.yaml", CHART.replace("version: 1.0.0", "version: one"));
    assertThatThrownBy(() -> push("1.0.0", Tars.ofDirectory(chart, "")))
        .hasMessageContaining("chart.metadata.version \"one\" is invalid");

    Path work = tmp.resolve("data").resolve("gitops");
    assertThat(entriesBelow(work.resolve("charts"))).isEmpty();
    assertThat(entriesBelow(work.resolve("tmp"))).isEmpty();
  }

  @Test
  void renderingForADeviceSubstitutesItsTagsAndAppliesOverridesThenValues() {
    push("1.0.0", Tars.ofDirectory(chart, ""));
    Map<String, String> large = Map.of("site", "store-17", "site-size", "large");

    RenderedApp forLarge = catalog.render("pos", "1.0.0", Map.of(), large, null);
    RenderedApp withValues =
        catalog.render(
            "pos",
            "1.0.0",
            Map.of("replicaCount", 5, "image", Map.of("tag", "${tag:site}-build")),
            large,
            null);

    assertThat(forLarge.yaml())
        .contains("replicas: 3")
        .contains("value: \"store-17.shops.example.com\"")
        .contains("image: \"nginx:1.27\"")
        .contains("  name: \"pos\"\n  namespace: \"pos\"\n");
    assertThat(withValues.yaml())
        .contains("replicas: 5")
        .contains("image: \"nginx:store-17-build\"");
    assertThatThrownBy(() -> catalog.render("pos", "1.0.0", Map.of(), Map.of("region", "eu"), null))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining(
            "app pos@1.0.0: values use ${tag:site} but the device has no tag 'site'");

    Catalog.Preview preview =
        catalog.preview("pos", "1.0.0", "dev-1", Optional.of(large), null, Map.of());
    assertThat(preview.yaml()).isEqualTo(forLarge.yaml());
    assertThat(preview.digest()).isEqualTo(forLarge.digest());
    assertThat(catalog.preview("pos", "1.0.0", null, Optional.empty(), null, Map.of()).yaml())
        .contains("replicas: 1")
        .contains("value: \"tag-site.shops.example.com\"");
    assertThatThrownBy(
            () -> catalog.preview("pos", "1.0.0", "dev-2", Optional.of(Map.of()), null, Map.of()))
        .hasMessageStartingWith(
            "pos@1.0.0 for device dev-2 cannot be rendered: values use ${tag:site}")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);
  }

  @Test
  void devicesWithTheSameRelevantTagsShareOneHelmRun() {
    push("1.0.0", Tars.ofDirectory(chart, ""));
    long before = gitops.stats().helmRenders();

    RenderedApp a =
        catalog.render("pos", "1.0.0", Map.of(), Map.of("site", "s1", "site-size", "large"), null);
    RenderedApp b =
        catalog.render(
            "pos",
            "1.0.0",
            Map.of(),
            Map.of("site", "s1", "site-size", "large", "rack", "7"),
            null);
    RenderedApp c =
        catalog.render("pos", "1.0.0", Map.of(), Map.of("site", "s2", "site-size", "large"), null);

    assertThat(b).isEqualTo(a);
    assertThat(c.digest()).isNotEqualTo(a.digest());
    assertThat(gitops.stats().helmRenders() - before).isEqualTo(2);
  }

  @Test
  void valuesAreValidatedWithPlaceholderTags() {
    push("1.0.0", Tars.ofDirectory(chart, ""));

    catalog.validateValues("pos", "1.0.0", Map.of("replicaCount", 4, "host", "${tag:site}.x"));
    assertThatThrownBy(() -> catalog.validateValues("pos", "1.0.0", Map.of("fail", true)))
        .hasMessageStartingWith("pos@1.0.0 does not render with these values: helm template failed")
        .hasMessageContaining("told to fail")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);
    assertThatThrownBy(
            () -> catalog.validateValues("pos", "1.0.0", Map.of("host", "${tag:Bad Key}")))
        .hasMessageContaining("values use '${tag:Bad Key}'")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);
  }

  @Test
  void aChartForNewerClustersIsStoredAndRendersForEachDevicesVersion() throws Exception {
    write("Chart.yaml", CHART + "kubeVersion: \">=1.25.0-0\"\n");
    write(
        "templates/kube.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kube\n"
            + "data:\n  version: {{ .Capabilities.KubeVersion.Version | quote }}\n");

    // Helm's default (v1.20.0) does not meet the constraint; the push and the values check do not
    // ask it to.
    assertThat(push("2.0.0", Tars.ofDirectory(chart, "")).created()).isTrue();
    catalog.validateValues("pos", "2.0.0", Map.of("replicaCount", 2));

    Map<String, String> tags = Map.of("site", "s1", "site-size", "large");
    assertThat(catalog.render("pos", "2.0.0", Map.of(), tags, "v1.28.3").yaml())
        .contains("version: \"v1.28.3\"");
    assertThatThrownBy(() -> catalog.render("pos", "2.0.0", Map.of(), tags, "v1.21.3"))
        .isInstanceOf(RenderException.class)
        .hasMessage(
            "app pos@2.0.0: chart pos requires Kubernetes >=1.25.0-0; this device's cluster runs"
                + " v1.21.3: upgrade the cluster or deploy an older chart version");
  }

  private Catalog.PushResult push(String version, byte[] tgz) {
    return catalog.push(
        "pos",
        new Catalog.PushRequest(
            version, "chart", "point of sale", Base64.getEncoder().encodeToString(tgz)),
        "alice");
  }

  private void write(String path, String content) {
    try {
      Path p = chart.resolve(path);
      Files.createDirectories(p.getParent());
      Files.writeString(p, content, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static java.util.List<Path> entriesBelow(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return java.util.List.of();
    }
    try (Stream<Path> all = Files.walk(dir)) {
      return all.filter(p -> !p.equals(dir)).toList();
    }
  }

  /** What `helm package DIR` writes. */
  private byte[] helmPackage(Path dir) throws IOException {
    System.setProperty("com.marcnuri.jkube-helm.skipRemoteJar", "true");
    Path out = Files.createDirectories(tmp.resolve("packaged"));
    new Helm(dir).packageIt().withDestination(out).call();
    try (Stream<Path> files = Files.list(out)) {
      return Files.readAllBytes(
          files.filter(p -> p.toString().endsWith(".tgz")).findFirst().orElseThrow());
    }
  }
}
