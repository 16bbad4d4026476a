package io.edgefleet.controllerdist;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** Asks a controller's {@code /healthz}, trusting only the CA in its data directory. */
final class Healthz {
  private Healthz() {}

  /** The status of {@code GET https://127.0.0.1:PORT/healthz}; the CA checks the server. */
  static int status(Path caCrt, int port) throws Exception {
    HttpClient http =
        HttpClient.newBuilder()
            .sslContext(trusting(caCrt))
            .connectTimeout(Duration.ofSeconds(2))
            .build();
    try (http) {
      return http.send(
              HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/healthz"))
                  .timeout(Duration.ofSeconds(5))
                  .build(),
              HttpResponse.BodyHandlers.discarding())
          .statusCode();
    }
  }

  /** The status, or -1 while the controller is not up yet (no CA, no listener). */
  static int statusOrNone(Path caCrt, int port) {
    try {
      return Files.isRegularFile(caCrt) && Files.size(caCrt) > 0 ? status(caCrt, port) : -1;
    } catch (IOException e) {
      return -1;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static SSLContext trusting(Path caCrt) throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    try (InputStream in = Files.newInputStream(caCrt)) {
      trust.setCertificateEntry(
          "ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }
}
