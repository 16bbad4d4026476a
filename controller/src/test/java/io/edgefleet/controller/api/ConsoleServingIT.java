package io.edgefleet.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.controller.store.Database;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.zip.GZIPInputStream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web console served by the real HTTPS listener, from a test bundle under its own classpath
 * prefix: the page for every console route, assets with and without gzip, the headers browsers act
 * on, and no way out of the bundle.
 */
class ConsoleServingIT {
  static final String PREFIX = "io/edgefleet/console-test/";
  static final String SCRIPT = "/assets/app-3f2a91.js";
  static final String STYLE = "/assets/app-77b0c1.css";

  @TempDir Path dir;
  Database db;
  HttpApi api;
  HttpClient client;
  final List<String> routes = new CopyOnWriteArrayList<>();

  void start(ConsoleAssets console) throws Exception {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    ControllerPki pki =
        ControllerPki.open(dir.resolve("pki"), List.of("127.0.0.1"), Clock.systemUTC());
    Router router = new Router();
    router.get("/api/v1/ping", Router.Access.OPEN, c -> Reply.ok(Map.of("pong", true)));
    api =
        new HttpApi(
            "127.0.0.1",
            0,
            pki,
            router,
            new AdminTokens(db.jdbi(), Clock.systemUTC()),
            new DeviceSockets() {
              @Override
              public Admission admit(java.security.cert.X509Certificate[] peer) {
                throw new IllegalStateException("no devices here");
              }

              @Override
              public FrameHandler endpoint(String deviceId) {
                throw new IllegalStateException("no devices here");
              }
            },
            HttpLimits.defaults(),
            console,
            (method, route, status, nanos) -> routes.add(method + " " + route + " " + status),
            reason -> {});
    api.start();
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", pki.caCertificate());
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);
    client = HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(10)).build();
  }

  @AfterEach
  void stop() {
    if (api != null) {
      api.close();
    }
    if (client != null) {
      client.close();
    }
    if (db != null) {
      db.close();
    }
  }

  HttpResponse<byte[]> send(String method, String rawPath, String... headers) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + api.port() + rawPath))
            .method(method, HttpRequest.BodyPublishers.noBody());
    if (headers.length > 0) {
      b.headers(headers);
    }
    return client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  static String text(HttpResponse<byte[]> r) {
    return new String(r.body(), StandardCharsets.UTF_8);
  }

  @Test
  void theIndexAnswersTheRootAndEveryConsoleRouteWithTheConsolePolicy() throws Exception {
    start(ConsoleAssets.load(getClass().getClassLoader(), PREFIX));
    for (String path :
        List.of(
            "/",
            "/devices",
            "/devices/3f2a",
            "/rollouts/12",
            "/apps",
            "/alerts",
            "/audit",
            "/signin")) {
      HttpResponse<byte[]> r = send("GET", path);
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      assertThat(text(r)).as(path).contains("edgefleet test console");
      assertThat(r.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
      assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-cache");
      assertThat(r.headers().firstValue("Content-Security-Policy"))
          .hasValue(ConsoleAssets.CONTENT_SECURITY_POLICY);
      assertThat(r.headers().firstValue("X-Frame-Options")).hasValue("DENY");
      assertThat(r.headers().firstValue("Strict-Transport-Security")).isPresent();
    }
    assertThat(routes).contains("GET / 200").allMatch(r -> r.equals("GET / 200"));

    HttpResponse<byte[]> api = send("GET", "/api/v1/ping");
    assertThat(text(api)).contains("pong");
    assertThat(api.headers().firstValue("Content-Security-Policy"))
        .hasValue("default-src 'none'; frame-ancestors 'none'");
    assertThat(send("GET", "/devicesx").statusCode()).isEqualTo(404);
    assertThat(send("POST", "/devices").statusCode()).isEqualTo(404);
  }

  @Test
  void assetsAreImmutableAndCompressedOnlyForClientsThatAcceptGzip() throws Exception {
    start(ConsoleAssets.load(getClass().getClassLoader(), PREFIX));
    HttpResponse<byte[]> plain = send("GET", SCRIPT);
    assertThat(plain.statusCode()).isEqualTo(200);
    assertThat(text(plain)).isEqualTo("console.log(\"edgefleet test console\");\n");
    assertThat(plain.headers().firstValue("Content-Type"))
        .hasValue("text/javascript; charset=utf-8");
    assertThat(plain.headers().firstValue("Cache-Control"))
        .hasValue("public, max-age=31536000, immutable");
    assertThat(plain.headers().firstValue("Content-Encoding")).isEmpty();
    assertThat(plain.headers().firstValue("Vary")).hasValue("Accept-Encoding");

    HttpResponse<byte[]> gz = send("GET", SCRIPT, "Accept-Encoding", "br, gzip;q=0.8");
    assertThat(gz.headers().firstValue("Content-Encoding")).hasValue("gzip");
    assertThat(gz.body()).isNotEqualTo(plain.body());
    try (GZIPInputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(gz.body()))) {
      assertThat(in.readAllBytes()).isEqualTo(plain.body());
    }
    HttpResponse<byte[]> refused = send("GET", SCRIPT, "Accept-Encoding", "gzip;q=0");
    assertThat(refused.headers().firstValue("Content-Encoding")).isEmpty();

    HttpResponse<byte[]> css = send("GET", STYLE, "Accept-Encoding", "gzip");
    assertThat(css.headers().firstValue("Content-Type")).hasValue("text/css; charset=utf-8");
    assertThat(css.headers().firstValue("Content-Encoding")).as("no .gz was built").isEmpty();
    assertThat(text(css)).contains("margin");

    HttpResponse<byte[]> head = send("HEAD", SCRIPT);
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    assertThat(head.headers().firstValueAsLong("Content-Length")).hasValue(plain.body().length);

    String etag = plain.headers().firstValue("ETag").orElseThrow();
    assertThat(send("GET", SCRIPT, "If-None-Match", etag).statusCode()).isEqualTo(304);
    assertThat(routes).contains("GET /assets/{file} 200", "HEAD /assets/{file} 200");

    HttpResponse<byte[]> unknown = send("GET", "/assets/nothing-1.js");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(text(unknown)).contains("ROUTE_NOT_FOUND");
  }

  @Test
  void noPathLeavesTheBundle() throws Exception {
    start(ConsoleAssets.load(getClass().getClassLoader(), PREFIX));
    for (String path :
        List.of(
            "/assets/..%2Findex.html",
            "/assets/%2e%2e/%2e%2e/secret.txt",
            "/assets/..%2F..%2Fsecret.txt",
            "/assets/app-3f2a91.js.gz",
            "/assets/.hidden",
            "/assets/%61pp-3f2a91.js",
            "/assets/",
            "/assets/sub/app-3f2a91.js")) {
      HttpResponse<byte[]> r = send("GET", path);
      assertThat(r.statusCode()).as(path).isIn(400, 404);
      assertThat(text(r)).as(path).doesNotContain("not for the web").doesNotContain("console.log");
    }
  }

  @Test
  void withoutABuiltConsoleTheRootSaysHowToBuildIt() throws Exception {
    ConsoleAssets none = ConsoleAssets.load(getClass().getClassLoader(), "io/edgefleet/nothing/");
    assertThat(none.built()).isFalse();
    start(none);
    HttpResponse<byte[]> r = send("GET", "/");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");
    assertThat(text(r)).contains("not part of this build").contains("console.skip");
    assertThat(send("GET", "/devices").statusCode()).isEqualTo(200);
    assertThat(send("GET", SCRIPT).statusCode()).isEqualTo(404);
  }
}
