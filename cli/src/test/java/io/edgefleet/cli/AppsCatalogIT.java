package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.Helm;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The catalog verbs ({@code apps push/list/versions/show}) against a real controller of their own,
 * with real Helm rendering and a device enrolled with tags.
 */
class AppsCatalogIT {
  private static final Pattern DIGEST = Pattern.compile("Digest: +(sha256:[0-9a-f]{64})");
  private static final String NL = System.lineSeparator();
  private static final String CHART =
      """
      # Point of sale
      apiVersion: v2
      name: pos
      version: 1.0.0
      appVersion: "2.4"
      """;
  private static final String VALUES =
      """
      replicaCount: 1
      host: "${tag:site}.shops.example.com"
      """;
  private static final String DEPLOYMENT =
      """
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
                image: nginx
                env:
                  - name: HOST
                    value: {{ .Values.host | quote }}
      """;

  @TempDir static Path dir;
  private static Controller controller;

  @BeforeAll
  static void startController() {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller")).withListen("127.0.0.1", 0),
            Clock.systemUTC());
  }

  @AfterAll
  static void stopController() {
    if (controller != null) {
      controller.close();
    }
  }

  @Test
  void pushAChartFromItsDirectoryAndFromItsHelmPackageListShowAndRenderForADevice()
      throws Exception {
    Path chart = dir.resolve("charts/pos");
    write(chart, "Chart.yaml", CHART);
    write(chart, "values.yaml", VALUES);
    write(chart, "templates/deployment.yaml", DEPLOYMENT);

    Cli.Result first =
        run(
            "apps",
            "push",
            "pos",
            "--version",
            "1.0.0",
            "--chart",
            chart.toString(),
            "--description",
            "Point of sale");
    Cli.Result fromArchive =
        run(
            "apps",
            "push",
            "pos",
            "--version",
            "1.0.0",
            "--chart-archive",
            helmPackage(chart).toString());

    assertThat(first.err()).isEmpty();
    assertThat(first.exitCode()).isZero();
    assertThat(first.out())
        .startsWith("pushed pos@1.0.0 (new version)" + NL)
        .containsPattern("Kind: +chart")
        .containsPattern("Files: +3");
    assertThat(fromArchive.exitCode()).as(fromArchive.err()).isZero();
    assertThat(fromArchive.out())
        .startsWith("pos@1.0.0 already exists with the same content; nothing changed" + NL);
    assertThat(digest(fromArchive.out())).isEqualTo(digest(first.out()));

    write(chart, "values.yaml", VALUES.replace("replicaCount: 1", "replicaCount: 2"));
    Cli.Result changed =
        run("apps", "push", "pos", "--version", "1.0.0", "--chart", chart.toString());
    Cli.Result newVersion =
        run("apps", "push", "pos", "--version", "1.1.0", "--chart", chart.toString(), "-o", "json");

    assertThat(changed.exitCode()).isEqualTo(1);
    assertThat(changed.err())
        .startsWith(
            "error: pos@1.0.0 already exists with different content (digest " + digest(first.out()))
        .endsWith("push it as a new version (APP_VERSION_EXISTS)" + NL);
    assertThat(newVersion.exitCode()).as(newVersion.err()).isZero();
    JsonNode pushed = json(newVersion.out());
    assertThat(pushed.path("created").asBoolean()).isTrue();
    assertThat(pushed.path("digest").asText()).isNotEqualTo(digest(first.out()));
    assertThat(newVersion.err()).isEqualTo("pushed pos@1.1.0 (new version)" + NL);

    Cli.Result list = run("apps", "list");
    Cli.Result versions = run("apps", "versions", "pos");
    JsonNode versionsJson = json(run("apps", "versions", "pos", "-o", "json").out()).path("items");

    assertThat(list.out()).containsPattern("(?m)^pos +1\\.1\\.0 +2 +chart +Point of sale$");
    assertThat(versions.out().lines().toList().get(0)).startsWith("VERSION  KIND   DIGEST");
    assertThat(versions.out().lines().skip(1).map(l -> l.split(" +")[0]))
        .containsExactly("1.1.0", "1.0.0");
    assertThat(versionsJson.get(1).path("digest").asText()).isEqualTo(digest(first.out()));

    String device = enroll(Map.of("site", "store-17"));
    Cli.Result show = run("apps", "show", "pos@1.0.0");
    Cli.Result rendered =
        run("apps", "show", "pos@1.0.0", "--device", device, "--set", "replicaCount=4");
    Cli.Result renderedJson = run("apps", "show", "pos@1.0.0", "--device", device, "-o", "json");
    Cli.Result missingTag = run("apps", "show", "pos@1.0.0", "--tag", "region=eu");

    assertThat(show.out())
        .containsPattern("Version: +1.0.0")
        .contains("Paths:" + NL + "  Chart.yaml" + NL)
        .contains("Default values (values.yaml):" + NL + "  replicaCount: 1" + NL);
    assertThat(rendered.exitCode()).as(rendered.err()).isZero();
    assertThat(rendered.out())
        .contains("# rendered for device " + device + " with tags site=store-17, sha256:")
        .contains("replicas: 4")
        .contains("value: \"store-17.shops.example.com\"");
    JsonNode preview = json(renderedJson.out()).path("preview");
    assertThat(preview.path("device").asText()).isEqualTo(device);
    assertThat(preview.path("yaml").asText()).contains("replicas: 1");
    assertThat(missingTag.exitCode()).isEqualTo(1);
    assertThat(missingTag.err())
        .contains("values use ${tag:site} but the device has no tag 'site'")
        .endsWith("(CATALOG_CONTENT_INVALID)" + NL);
  }

  @Test
  void manifestsArePushedAsTheyAreAndTakeNoValues() throws Exception {
    Path manifests = dir.resolve("manifests/web");
    write(
        manifests,
        "config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: b\n");

    Cli.Result pushed =
        run("apps", "push", "web", "--version", "2024.06", "--manifests", manifests.toString());
    Cli.Result show = run("apps", "show", "web@2024.06", "--tag", "site=x");
    Cli.Result withValues = run("apps", "show", "web@2024.06", "--set", "replicas=2");

    assertThat(pushed.exitCode()).as(pushed.err()).isZero();
    assertThat(pushed.out()).containsPattern("Kind: +manifests");
    assertThat(show.out()).contains("kind: \"ConfigMap\"").contains("namespace: \"web\"");
    assertThat(withValues.exitCode()).isEqualTo(1);
    assertThat(withValues.err())
        .contains("values apply to Helm charts only")
        .endsWith("(CATALOG_CONTENT_INVALID)" + NL);
  }

  @Test
  void badInputIsRefusedBeforeAnyCall() throws Exception {
    Path notAChart = dir.resolve("not-a-chart");
    write(notAChart, "a.yaml", "x: 1\n");

    Cli.Result noVersion = run("apps", "show", "pos");
    Cli.Result noChartYaml =
        run("apps", "push", "pos", "--version", "1.0.0", "--chart", notAChart.toString());
    Cli.Result twoSources =
        run(
            "apps",
            "push",
            "pos",
            "--version",
            "1.0.0",
            "--chart",
            notAChart.toString(),
            "--manifests",
            notAChart.toString());
    Cli.Result badSet = run("apps", "show", "pos@1.0.0", "--set", "novalue");
    Cli.Result unknown = run("apps", "versions", "nope");

    assertThat(noVersion.exitCode()).isEqualTo(2);
    assertThat(noVersion.err()).contains("'pos' is not NAME@VERSION");
    assertThat(noChartYaml.exitCode()).isEqualTo(2);
    assertThat(noChartYaml.err()).contains("is not a Helm chart: it has no Chart.yaml");
    assertThat(twoSources.exitCode()).isEqualTo(2);
    assertThat(badSet.exitCode()).isEqualTo(2);
    assertThat(badSet.err()).contains("'novalue' is not KEY=VALUE");
    assertThat(unknown.exitCode()).isEqualTo(1);
    assertThat(unknown.err()).contains("app 'nope' is not in the catalog").contains("(NOT_FOUND)");
  }

  // --- helpers ------------------------------------------------------------------------------

  private static Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }

  private static String enroll(Map<String, String> tags) {
    String token =
        controller
            .onboarding()
            .create(new OnboardingTokens.CreateRequest(null, tags, null, null, false), "test")
            .token();
    return new EnrollingDevice("till-1", "SN-CATALOG-1")
        .enroll(controller.url(), controller.pki().caFingerprint(), token)
        .response()
        .deviceId();
  }

  /** What `helm package DIR` writes. */
  private static Path helmPackage(Path chart) throws IOException {
    System.setProperty("com.marcnuri.jkube-helm.skipRemoteJar", "true");
    Path out = Files.createDirectories(dir.resolve("packaged"));
    new Helm(chart).packageIt().withDestination(out).call();
    try (Stream<Path> files = Files.list(out)) {
      return files.filter(p -> p.toString().endsWith(".tgz")).findFirst().orElseThrow();
    }
  }

  private static String digest(String out) {
    Matcher m = DIGEST.matcher(out);
    assertThat(m.find()).as("digest in%n%s", out).isTrue();
    return m.group(1);
  }

  private static void write(Path root, String path, String content) throws IOException {
    Path p = root.resolve(path);
    Files.createDirectories(p.getParent());
    Files.writeString(p, content);
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + text, e);
    }
  }
}
