package io.edgefleet.controller.gitops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.render.AppKind;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.controller.render.RenderedApp;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.store.Database;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Helm charts in a git source, rendered by real Helm 3 (helm-java). */
class HelmIT {
  static final String CHART =
      """
      apiVersion: v2
      name: web
      version: 0.1.0
      """;
  static final String VALUES =
      """
      replicaCount: 1
      site: "${tag:site}"
      host: "${tag:site}.shops.example.com"
      image:
        repository: nginx
        tag: "1.27"
      """;
  static final String OVERRIDES =
      """
      - selector: site-size=large
        values: { replicaCount: 3 }
      - selector: site-size in (large),region=eu
        values: { image: { tag: "1.27-eu" } }
      """;
  static final String DEPLOYMENT =
      """
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: {{ .Release.Name }}
        labels:
          site: {{ .Values.site | quote }}
      spec:
        replicas: {{ .Values.replicaCount }}
        template:
          spec:
            containers:
              - name: web
                image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
                env:
                  - name: HOST
                    value: {{ .Values.host | quote }}
      """;
  static final String CONFIGMAP =
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: {{ .Release.Name }}-config
        namespace: {{ .Release.Namespace }}
      data:
        release: {{ .Release.Name | quote }}
      ---
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: shared
        namespace: infra
      """;

  static final String CRD =
      """
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata:
        name: gadgets.example.com
      spec:
        group: example.com
        scope: Namespaced
        names: {kind: Gadget, plural: gadgets}
      """;

  @TempDir Path tmp;
  Database db;
  GitOps gitops;
  Upstream up;

  @BeforeEach
  void setUp() throws Exception {
    Path data = Files.createDirectories(tmp.resolve("data"));
    db = Database.open(Database.sqliteUrl(data), null, null);
    gitops =
        new GitOps(
            db.jdbi(),
            Clock.systemUTC(),
            new AuditLog(db.jdbi(), Clock.systemUTC()),
            data.resolve("gitops"),
            new SecretBox(data.resolve("secret.key")),
            name -> {});
    up = Upstream.create(tmp.resolve("upstream"));
    up.write("apps/web/Chart.yaml", CHART)
        .write("apps/web/values.yaml", VALUES)
        .write("apps/web/edgefleet-overrides.yaml", OVERRIDES)
        .write("apps/web/templates/deployment.yaml", DEPLOYMENT)
        .write("apps/web/templates/configmap.yaml", CONFIGMAP)
        .write("apps/web/templates/NOTES.txt", "Thanks for installing {{ .Release.Name }}.")
        .write("apps/web/crds/gadgets.yaml", CRD);
  }

  @AfterEach
  void tearDown() {
    gitops.close();
    db.close();
    up.close();
  }

  private AppDefinition web() {
    return gitops.apps().stream().filter(a -> a.name().equals("web")).findFirst().orElseThrow();
  }

  @Test
  void chartIsRenderedWithValuesOverridesBySelectorAndDeviceTags() {
    up.commit("chart");
    gitops.add(new AddSource("fleet", up.fileUrl(), null, null, null, null, null, ""), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();
    AppDefinition web = web();
    assertThat(web.kind()).isEqualTo(AppKind.HELM);

    RenderedApp large =
        gitops.render(web, Map.of("site", "s1", "site-size", "large", "region", "eu"), null);
    assertThat(large.yaml())
        .startsWith(
            "---\napiVersion: \"v1\"\nkind: \"Namespace\"\nmetadata:\n  name: \"infra\"\n"
                + "---\napiVersion: \"v1\"\nkind: \"Namespace\"\nmetadata:\n  name: \"web\"\n")
        .contains("replicas: 3")
        .contains("site: \"s1\"")
        .contains("value: \"s1.shops.example.com\"")
        .contains("image: \"nginx:1.27-eu\"")
        .contains("  name: \"web\"\n  namespace: \"web\"\n")
        .contains("  name: \"web-config\"\n  namespace: \"web\"\n")
        .contains("  name: \"shared\"\n  namespace: \"infra\"\n")
        .contains(
            "kind: \"CustomResourceDefinition\"\nmetadata:\n  name: \"gadgets.example.com\"\nspec:")
        .doesNotContain("Thanks for installing")
        .doesNotContain("${tag:");
    assertThat(large.digest()).isEqualTo(RenderedApp.of(large.yaml()).digest());

    RenderedApp small = gitops.render(web, Map.of("site", "s2", "site-size", "small"), null);
    assertThat(small.yaml())
        .contains("replicas: 1")
        .contains("site: \"s2\"")
        .contains("image: \"nginx:1.27\"");

    assertThatThrownBy(() -> gitops.render(web, Map.of("site-size", "large"), null))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("fleet/web@" + web.revision())
        .hasMessageContaining("(commit " + web.commit().substring(0, 12) + ")")
        .hasMessageContaining("the device has no tag 'site'");
  }

  @Test
  void rendersAreCachedByChartAndEffectiveValues() {
    up.commit("chart");
    gitops.add(new AddSource("fleet", up.fileUrl(), null, null, null, null, null, ""), "alice");
    gitops.pollNow("fleet");
    AppDefinition web = web();

    RenderedApp first = gitops.render(web, Map.of("site", "s1", "site-size", "large"), null);
    long helm = gitops.stats().helmRenders();

    // Same effective values (unrelated tags differ): no Helm call, byte-identical output.
    RenderedApp again = gitops.render(web, Map.of("site", "s1", "site-size", "large"), null);
    RenderedApp sameValues =
        gitops.render(web, Map.of("site", "s1", "site-size", "large", "rack", "r7"), null);
    assertThat(gitops.stats().helmRenders()).isEqualTo(helm);
    assertThat(again).isEqualTo(first);
    assertThat(sameValues).isEqualTo(first);

    gitops.render(web, Map.of("site", "s9", "site-size", "large"), null);
    assertThat(gitops.stats().helmRenders()).isEqualTo(helm + 1);
    assertThat(gitops.stats().renderCacheHits()).isGreaterThanOrEqualTo(2);
  }

  @Test
  void outputIsDeterministicAcrossEngines() throws Exception {
    up.commit("chart");
    gitops.add(new AddSource("fleet", up.fileUrl(), null, null, null, null, null, ""), "alice");
    gitops.pollNow("fleet");
    Map<String, String> tags = Map.of("site", "s1", "site-size", "large");
    RenderedApp one = gitops.render(web(), tags, null);

    gitops.close();
    Path data = tmp.resolve("data");
    gitops =
        new GitOps(
            db.jdbi(),
            Clock.systemUTC(),
            new AuditLog(db.jdbi(), Clock.systemUTC()),
            data.resolve("gitops"),
            new SecretBox(data.resolve("secret.key")),
            name -> {});
    RenderedApp two = gitops.render(web(), tags, null);

    assertThat(two.yaml()).isEqualTo(one.yaml());
    assertThat(two.digest()).isEqualTo(one.digest());
  }

  @Test
  void aCommitIsNeitherAppliedNorRefusedWhileHelmCannotRun() {
    gitops.close();
    Path data = tmp.resolve("data");
    // A JVM that cannot start stands for any reason Helm's process cannot run.
    gitops =
        new GitOps(
            db.jdbi(),
            Clock.systemUTC(),
            new AuditLog(db.jdbi(), Clock.systemUTC()),
            data.resolve("gitops"),
            new SecretBox(data.resolve("secret.key")),
            GitOps.Settings.defaults(),
            List.of("-XX:+NoSuchOptionForThisTest"),
            name -> {},
            source -> Map.of());
    String sha = up.commit("chart");
    gitops.add(new AddSource("fleet", up.fileUrl(), null, null, null, null, null, ""), "alice");

    assertThat(gitops.pollNow("fleet")).isFalse();
    SourceView v = gitops.get("fleet");
    assertThat(v.lastCommit()).isNull();
    assertThat(v.lastError())
        .startsWith("cannot validate the new commit: the Helm process exited while starting")
        .doesNotContain("was refused");

    gitops.close();
    gitops =
        new GitOps(
            db.jdbi(),
            Clock.systemUTC(),
            new AuditLog(db.jdbi(), Clock.systemUTC()),
            data.resolve("gitops"),
            new SecretBox(data.resolve("secret.key")),
            name -> {});
    // The same commit is validated again once Helm runs, and applied.
    assertThat(gitops.pollNow("fleet")).isTrue();
    assertThat(gitops.get("fleet").lastCommit().sha()).isEqualTo(sha);
    assertThat(gitops.get("fleet").lastError()).isNull();
  }

  @Test
  void valueChangesShowInTheDiffAndBrokenChartsAreRefused() {
    String first = up.commit("chart");
    gitops.add(new AddSource("fleet", up.fileUrl(), null, null, null, null, null, ""), "alice");
    gitops.pollNow("fleet");
    assertThat(gitops.commit("fleet", first).apps().get(0).added())
        .containsExactly(
            "v1 Namespace infra",
            "v1 Namespace web",
            "apiextensions.k8s.io/v1 CustomResourceDefinition gadgets.example.com",
            "v1 ConfigMap web/web-config",
            "v1 ConfigMap infra/shared",
            "apps/v1 Deployment web/web");

    String before = web().revision();
    String scaled =
        up.write("apps/web/values.yaml", VALUES.replace("replicaCount: 1", "replicaCount: 2"))
            .commit("scale");
    assertThat(gitops.pollNow("fleet")).isTrue();
    assertThat(web().revision()).isNotEqualTo(before).matches("sha256:[0-9a-f]{12}");
    assertThat(web().commit()).isEqualTo(scaled);

    assertThat(gitops.commit("fleet", scaled).apps())
        .usingRecursiveFieldByFieldElementComparatorIgnoringFields("diff")
        .containsExactly(
            new CommitView.AppChange(
                "web",
                CommitView.Change.CHANGED,
                web().revision(),
                List.of(),
                List.of("apps/v1 Deployment web/web"),
                List.of()));

    String broken =
        up.write("apps/web/templates/broken.yaml", "kind: {{ .Values.image.tag | nosuchfunc }}\n")
            .commit("broken template");
    assertThat(gitops.pollNow("fleet")).isFalse();
    SourceView v = gitops.get("fleet");
    assertThat(v.lastCommit().sha()).isEqualTo(scaled);
    assertThat(v.lastError())
        .contains("commit " + broken.substring(0, 12) + " was refused")
        .contains("helm template failed")
        .contains("nosuchfunc");

    String missingDeps =
        up.delete("apps/web/templates/broken.yaml")
            .write(
                "apps/web/Chart.yaml",
                CHART
                    + """
                    dependencies:
                      - name: redis
                        version: 19.0.0
                        repository: https://charts.example.com
                    """)
            .commit("needs redis");
    assertThat(gitops.pollNow("fleet")).isFalse();
    assertThat(gitops.get("fleet").lastError())
        .contains("commit " + missingDeps.substring(0, 12) + " was refused")
        .contains("redis");
    assertThat(web().sha()).isEqualTo(scaled);

    // Fixed by a commit that also adds another app: the chart is back at the content it had, so
    // at the revision and provenance it had; the other app does not change them.
    String revision = web().revision();
    up.delete("apps/web/Chart.yaml")
        .write("apps/web/Chart.yaml", CHART)
        .write("apps/notes/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: n\n")
        .commit("fixed, with notes");
    assertThat(gitops.pollNow("fleet")).isTrue();
    assertThat(web().revision()).isEqualTo(revision);
    assertThat(web().commit()).isEqualTo(scaled);
  }

  static final String NEW_CHART =
      """
      apiVersion: v2
      name: alertmanager
      version: 1.13.0
      kubeVersion: ">=1.25.0-0"
      """;
  static final String CAPABILITIES =
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: {{ .Release.Name }}-capabilities
      data:
        kube: {{ .Capabilities.KubeVersion.Version | quote }}
        site: {{ .Values.site | quote }}
      """;

  private List<String> chartsOnDisk() throws java.io.IOException {
    try (var dirs = Files.list(tmp.resolve("data/gitops/charts"))) {
      return dirs.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private AppDefinition app(String name) {
    return gitops.apps().stream().filter(a -> a.name().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void aChartRendersForTheKubernetesVersionOfEachDeviceOnceForEachVersion() throws Exception {
    up.write("apps/alerts/Chart.yaml", NEW_CHART)
        .write("apps/alerts/values.yaml", "site: \"${tag:site}\"\n")
        .write("apps/alerts/templates/capabilities.yaml", CAPABILITIES);
    String sha = up.commit("a chart for newer clusters");
    gitops.add(new AddSource("fleet", up.fileUrl(), null, null, null, null, null, ""), "alice");

    // Helm's own default (v1.20.0) does not meet the chart's constraint: the commit is still
    // taken, since each device's cluster is checked when rendering for it.
    assertThat(gitops.pollNow("fleet")).isTrue();
    assertThat(gitops.get("fleet").lastCommit().sha()).isEqualTo(sha);
    assertThat(gitops.get("fleet").lastError()).isNull();
    AppDefinition alerts = app("alerts");

    long helm = gitops.stats().helmRenders();
    RenderedApp onNew = gitops.render(alerts, Map.of("site", "s1"), "v1.28.3");
    assertThat(onNew.yaml()).contains("kube: \"v1.28.3\"").contains("site: \"s1\"");
    assertThat(gitops.stats().helmRenders()).isEqualTo(helm + 1);

    // Another device with the same relevant tags on the same version shares that Helm run.
    assertThat(gitops.render(alerts, Map.of("site", "s1", "rack", "r2"), "v1.28.3"))
        .isEqualTo(onNew);
    assertThat(gitops.stats().helmRenders()).isEqualTo(helm + 1);

    // Another version is another Helm run, whose capabilities say so. Helm leaves out build
    // metadata (+k3s1), so the same version without it shares the run.
    RenderedApp k3s = gitops.render(alerts, Map.of("site", "s1"), "v1.30.6+k3s1");
    assertThat(k3s.yaml()).contains("kube: \"v1.30.6\"");
    assertThat(gitops.stats().helmRenders()).isEqualTo(helm + 2);
    assertThat(gitops.render(alerts, Map.of("site", "s1"), "1.30.6")).isEqualTo(k3s);
    assertThat(gitops.stats().helmRenders()).isEqualTo(helm + 2);

    List<String> chartsOnDisk = chartsOnDisk();
    assertThatThrownBy(() -> gitops.render(alerts, Map.of("site", "s1"), "v1.21.3"))
        .isInstanceOf(RenderException.class)
        .hasMessage(
            "app fleet/alerts@"
                + alerts.revision()
                + " (commit "
                + sha.substring(0, 12)
                + "): chart alertmanager requires Kubernetes >=1.25.0-0; this device's cluster"
                + " runs v1.21.3: upgrade the cluster or deploy an older chart version");
    // The chart is fine, the cluster is not: its files stay on disk for the other versions.
    assertThat(chartsOnDisk()).isEqualTo(chartsOnDisk);
    // The refusal is remembered per version too: the next device on v1.21.3 costs no Helm run.
    long afterRefusal = gitops.stats().helmRenders();
    assertThatThrownBy(() -> gitops.render(alerts, Map.of("site", "s1"), "v1.21.3"))
        .hasMessageContaining("this device's cluster runs v1.21.3");
    assertThat(gitops.stats().helmRenders()).isEqualTo(afterRefusal);

    // A device that reports no version renders as before, for Helm's default.
    assertThatThrownBy(() -> gitops.render(alerts, Map.of("site", "s1"), null))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining(
            "chart alertmanager requires Kubernetes >=1.25.0-0; this device reports no Kubernetes"
                + " version, so it is rendered for Helm's default v1.20.0");
  }

  @Test
  void aDeviceWithoutAVersionGetsHelmsDefaultCapabilities() {
    up.write("apps/web/templates/capabilities.yaml", CAPABILITIES).commit("chart");
    gitops.add(new AddSource("fleet", up.fileUrl(), null, null, null, null, null, ""), "alice");
    assertThat(gitops.pollNow("fleet")).isTrue();

    assertThat(gitops.render(web(), Map.of("site", "s1"), null).yaml())
        .contains("kube: \"v1.20.0\"");
    assertThat(gitops.render(web(), Map.of("site", "s1"), "v1.29.0").yaml())
        .contains("kube: \"v1.29.0\"");
  }
}
