package io.edgefleet.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.edgefleet.protocol.tls.Fingerprints;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A stand-in for the controller's REST API on a loopback HTTPS port with its own CA: answers canned
 * JSON per {@code METHOD path} and records the requests it received.
 */
final class FakeController implements AutoCloseable {
  record Request(String method, String uri, String authorization, String body) {}

  record Answer(int status, String body) {}

  private final HttpsServer server;
  private final String caFingerprint;
  private final Map<String, Answer> answers = new ConcurrentHashMap<>();
  private final List<Request> requests = java.util.Collections.synchronizedList(new ArrayList<>());

  FakeController() throws Exception {
    KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
    gen.initialize(256);
    KeyPair caKeys = gen.generateKeyPair();
    KeyPair serverKeys = gen.generateKeyPair();
    X509Certificate ca =
        sign(
            new JcaX509v3CertificateBuilder(
                    new X500Name("CN=test ca"),
                    BigInteger.ONE,
                    from(),
                    until(),
                    new X500Name("CN=test ca"),
                    caKeys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .addExtension(
                    Extension.keyUsage,
                    true,
                    new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign)),
            caKeys.getPrivate());
    X509Certificate leaf =
        sign(
            new JcaX509v3CertificateBuilder(
                    new X500Name("CN=test ca"),
                    BigInteger.TWO,
                    from(),
                    until(),
                    new X500Name("CN=127.0.0.1"),
                    serverKeys.getPublic())
                .addExtension(
                    Extension.subjectAlternativeName,
                    false,
                    new GeneralNames(new GeneralName(GeneralName.iPAddress, "127.0.0.1"))),
            caKeys.getPrivate());
    caFingerprint = Fingerprints.of(ca);

    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    char[] pass = "test".toCharArray();
    ks.setKeyEntry("server", serverKeys.getPrivate(), pass, new X509Certificate[] {leaf, ca});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, pass);
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(kmf.getKeyManagers(), null, null);

    server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(tls));
    server.createContext("/", this::handle);
    server.start();
  }

  String url() {
    return "https://127.0.0.1:" + server.getAddress().getPort();
  }

  String caFingerprint() {
    return caFingerprint;
  }

  /** Answers {@code method uri} (with its query string) with this status and JSON body. */
  FakeController answer(String method, String uri, int status, String body) {
    answers.put(method + " " + uri, new Answer(status, body));
    return this;
  }

  List<Request> requests() {
    return List.copyOf(requests);
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange;
        InputStream in = exchange.getRequestBody()) {
      String uri = exchange.getRequestURI().getRawPath();
      if (exchange.getRequestURI().getRawQuery() != null) {
        uri += "?" + exchange.getRequestURI().getRawQuery();
      }
      String method = exchange.getRequestMethod();
      requests.add(
          new Request(
              method,
              uri,
              exchange.getRequestHeaders().getFirst("Authorization"),
              new String(in.readAllBytes(), StandardCharsets.UTF_8)));
      Answer answer =
          answers.getOrDefault(
              method + " " + uri,
              new Answer(
                  404, "{\"code\":\"ROUTE_NOT_FOUND\",\"message\":\"no route " + uri + "\"}"));
      byte[] body = answer.body().getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(answer.status(), body.length == 0 ? -1 : body.length);
      if (body.length > 0) {
        exchange.getResponseBody().write(body);
      }
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
      throws Exception {
    return new JcaX509CertificateConverter()
        .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
  }

  private static Date from() {
    return Date.from(Instant.now().minus(Duration.ofHours(1)));
  }

  private static Date until() {
    return Date.from(Instant.now().plus(Duration.ofDays(1)));
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
