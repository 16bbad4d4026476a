package io.edgefleet.controller.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.protocol.tls.Pem;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import org.jdbi.v3.core.statement.SqlLogger;
import org.jdbi.v3.core.statement.SqlStatements;
import org.jdbi.v3.core.statement.StatementContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} of a real controller, scraped over real TLS the way the scrape configuration in
 * docs/guide/monitoring.md tells Prometheus to, and parsed strictly; and the cost of a scrape,
 * which must not grow with the number of devices.
 */
class MetricsEndpointIT {
  @TempDir static Path dir;
  static Controller controller;

  @BeforeAll
  static void start() {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller"))
                .withListen("127.0.0.1", 0)
                .withMetricsTagKeys(List.of("site")),
            Clock.systemUTC());
    Instant at = Instant.now().minusSeconds(60);
    for (int i = 0; i < 6; i++) {
      TestDevices.insertActive(
          controller.database().jdbi(), "dev-m" + i, Map.of("site", i < 4 ? "s1" : "s2"), at);
    }
  }

  @AfterAll
  static void stop() {
    if (controller != null) {
      controller.close();
    }
  }

  /** The YAML blocks of the monitoring guide, each parsed. */
  static List<JsonNode> yamlBlocks() throws Exception {
    Path doc = Path.of("..", "docs", "guide", "monitoring.md").toAbsolutePath().normalize();
    String text = Files.readString(doc);
    Matcher m = Pattern.compile("```yaml\\n(.*?)```", Pattern.DOTALL).matcher(text);
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    List<JsonNode> blocks = new ArrayList<>();
    while (m.find()) {
      blocks.add(yaml.readTree(m.group(1)));
    }
    return blocks;
  }

  @Test
  void theDocumentedScrapeConfigurationScrapesTheControllerOverVerifiedTls() throws Exception {
    List<JsonNode> blocks = yamlBlocks();
    assertThat(blocks).hasSizeGreaterThanOrEqualTo(2);
    JsonNode job =
        blocks.stream()
            .filter(b -> b.has("scrape_configs"))
            .findFirst()
            .orElseThrow()
            .path("scrape_configs")
            .get(0);
    assertThat(job.path("job_name").asText()).isNotBlank();
    assertThat(job.path("scheme").asText()).isEqualTo("https");
    String type = job.path("authorization").path("type").asText("Bearer");
    assertThat(job.path("authorization").path("credentials_file").asText()).isNotBlank();
    assertThat(job.path("tls_config").path("ca_file").asText()).isNotBlank();
    String target = job.path("static_configs").get(0).path("targets").get(0).asText();
    assertThat(target).endsWith(":" + ControllerConfig.DEFAULT_PORT);
    // The alerting rules example is valid Prometheus rule structure.
    JsonNode groups =
        blocks.stream().filter(b -> b.has("groups")).findFirst().orElseThrow().path("groups");
    assertThat(groups.get(0).path("rules").get(0).path("expr").asText()).contains("edgefleet_");

    // What the operator installs: the admin token and the controller's CA, as files.
    Path credentials = dir.resolve("edgefleet-token");
    Files.writeString(credentials, controller.adminToken().orElseThrow() + "\n");
    Path caFile = dir.resolve("edgefleet-ca.crt");
    Files.writeString(caFile, Pem.certificate(controller.pki().caCertificate()));

    // A request that counts under its route template, not its path.
    HttpClient prometheus = client(caFile);
    HttpResponse<String> notFound =
        prometheus.send(
            request(URI.create("https://localhost:" + controller.port() + "/api/v1/devices/nope"))
                .header("Authorization", "Bearer " + controller.adminToken().orElseThrow())
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(notFound.statusCode()).isEqualTo(404);

    // Prometheus: scheme, a name in the certificate, metrics_path; credentials read from the file.
    URI uri =
        URI.create(
            job.path("scheme").asText()
                + "://localhost:"
                + controller.port()
                + job.path("metrics_path").asText("/metrics"));
    HttpResponse<String> r =
        prometheus.send(
            request(uri)
                .header("Authorization", type + " " + Files.readString(credentials).trim())
                .build(),
            HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElse(""))
        .startsWith("text/plain")
        .contains("version=0.0.4");

    // Kept for people (and other parsers) to look at.
    Files.writeString(Path.of("target", "metrics-sample.txt"), r.body());
    Map<String, PrometheusText.Family> families = PrometheusText.parse(r.body());
    PrometheusText.Family devices = families.get("edgefleet_devices");
    assertThat(devices.value("edgefleet_devices", Map.of("status", "NEVER_SEEN"))).contains(6.0);
    assertThat(devices.value("edgefleet_devices", Map.of("status", "ONLINE"))).contains(0.0);
    PrometheusText.Family bySite = families.get("edgefleet_devices_by_tags");
    assertThat(
            bySite.value(
                "edgefleet_devices_by_tags", Map.of("status", "NEVER_SEEN", "tag_site", "s1")))
        .contains(4.0);
    assertThat(
            bySite.value(
                "edgefleet_devices_by_tags", Map.of("status", "NEVER_SEEN", "tag_site", "s2")))
        .contains(2.0);
    assertThat(
            families
                .get("edgefleet_http_requests_total")
                .value(
                    "edgefleet_http_requests_total",
                    Map.of("method", "GET", "route", "/api/v1/devices/{id}", "status", "404")))
        .contains(1.0);
    // Families without samples (no apps deployed, no alerts firing) are not written at all.
    assertThat(families)
        .containsKeys(
            "edgefleet_rollouts",
            "edgefleet_agents_connected",
            "edgefleet_http_request_duration_seconds",
            "jvm_memory_used_bytes",
            "jvm_threads_current");
    assertThat(families.get("edgefleet_fleet_source_up").samples())
        .extracting(PrometheusText.Sample::value)
        .containsOnly(1.0);
  }

  @Test
  void withoutTheTokenOrTheCaThereIsNoScrape() throws Exception {
    Path caFile = dir.resolve("ca-only.crt");
    Files.writeString(caFile, Pem.certificate(controller.pki().caCertificate()));
    URI uri = URI.create("https://localhost:" + controller.port() + "/metrics");
    HttpResponse<String> anonymous =
        client(caFile).send(request(uri).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(anonymous.statusCode()).isEqualTo(401);
    assertThat(anonymous.body()).contains("UNAUTHENTICATED");
    HttpResponse<String> wrong =
        client(caFile)
            .send(
                request(uri).header("Authorization", "Bearer efa_wrong").build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(wrong.statusCode()).isEqualTo(401);
    // The JDK's default trust store does not know the controller's CA.
    try (HttpClient jdk = HttpClient.newHttpClient()) {
      assertThatThrownBy(() -> jdk.send(request(uri).build(), HttpResponse.BodyHandlers.ofString()))
          .satisfies(
              e -> {
                boolean handshake = false;
                for (Throwable t = e; t != null; t = t.getCause()) {
                  handshake |= t instanceof SSLHandshakeException;
                }
                assertThat(handshake).as("TLS refused: %s", e).isTrue();
              });
    }
  }

  @Test
  void aScrapeRunsTheSameStatementsWhateverTheNumberOfDevices() {
    Thread me = Thread.currentThread();
    AtomicInteger statements = new AtomicInteger();
    controller
        .database()
        .jdbi()
        .getConfig(SqlStatements.class)
        .setSqlLogger(
            new SqlLogger() {
              @Override
              public void logAfterExecution(StatementContext context) {
                if (Thread.currentThread() == me) {
                  statements.incrementAndGet();
                }
              }
            });
    try {
      controller.metrics().scrape();
      int few = statements.getAndSet(0);
      Instant at = Instant.now();
      for (int i = 0; i < 1000; i++) {
        TestDevices.insertActive(
            controller.database().jdbi(), "dev-bulk" + i, Map.of("site", "s" + (i % 40)), at);
      }
      statements.set(0);
      String text = new String(controller.metrics().scrape(), StandardCharsets.UTF_8);
      assertThat(statements.get()).isEqualTo(few).isLessThanOrEqualTo(10);
      assertThat(
              PrometheusText.parse(text)
                  .get("edgefleet_devices")
                  .value("edgefleet_devices", Map.of("status", "NEVER_SEEN")))
          .hasValueSatisfying(v -> assertThat(v).isGreaterThanOrEqualTo(1006));
    } finally {
      controller
          .database()
          .jdbi()
          .getConfig(SqlStatements.class)
          .setSqlLogger(SqlLogger.NOP_SQL_LOGGER);
    }
  }

  private static HttpRequest.Builder request(URI uri) {
    return HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).GET();
  }

  /** Trusts exactly the CA in the file and checks the host name, as Prometheus' ca_file does. */
  private static HttpClient client(Path caFile) throws Exception {
    X509Certificate ca;
    try (InputStream in = Files.newInputStream(caFile)) {
      ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", ca);
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);
    return HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(10)).build();
  }
}
