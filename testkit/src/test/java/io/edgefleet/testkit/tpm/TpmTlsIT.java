package io.edgefleet.testkit.tpm;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.device.enrollment.Enrollment;
import io.edgefleet.device.tpm.TpmDevice;
import io.edgefleet.device.tpm.TpmPrivateKey;
import io.edgefleet.device.tpm.TpmProvider;
import io.edgefleet.device.tpm.TpmTemplates;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import io.edgefleet.testkit.Swtpm;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A device key in a real TPM signs a CSR and a mutual-TLS handshake through the JDK's HTTP client,
 * against a JDK TLS server that requires a client certificate.
 */
class TpmTlsIT {
  private static Swtpm swtpm;
  private static TpmDevice tpm;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    tpm = TpmDevice.open(swtpm.endpoint().toString());
    TpmProvider.install();
  }

  @AfterAll
  static void stop() {
    if (tpm != null) {
      tpm.close();
    }
    if (swtpm != null) {
      swtpm.close();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
  void theTpmKeySignsTheCsrAndTheClientHandshake(String protocol, @TempDir Path dir)
      throws Exception {
    byte[] salt = new byte[TpmTemplates.SALT_BYTES];
    new SecureRandom().nextBytes(salt);
    ECPublicKey pub = (ECPublicKey) tpm.devicePublic(salt).toPublicKey();
    KeyPair device = new KeyPair(pub, new TpmPrivateKey(tpm, salt, pub));
    assertThat(device.getPrivate().getEncoded()).isNull();

    // The CSR is signed in the TPM and checked as the controller checks it.
    ControllerPki pki =
        ControllerPki.open(
            dir.resolve("pki"), List.of("localhost", "127.0.0.1"), Clock.systemUTC());
    ControllerPki.ValidCsr csr = ControllerPki.validateCsr(Enrollment.csr(device));
    assertThat(csr.publicKey()).isEqualTo(pub);
    X509Certificate cert = pki.issueDevice("dev-tpm", csr.publicKey());

    try (SSLServerSocket server = server(pki, protocol)) {
      CompletableFuture<Certificate[]> peer =
          CompletableFuture.supplyAsync(
              () -> {
                try (SSLSocket s = (SSLSocket) server.accept()) {
                  s.startHandshake();
                  Certificate[] chain = s.getSession().getPeerCertificates();
                  s.getInputStream().read(new byte[4096]);
                  OutputStream out = s.getOutputStream();
                  out.write(
                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                          .getBytes(StandardCharsets.US_ASCII));
                  out.flush();
                  return chain;
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      SSLContext client =
          TlsContexts.mutual(
              device.getPrivate(),
              new X509Certificate[] {cert, pki.caCertificate()},
              new PinnedCaTrustManager(pki.caFingerprint(), pki.caCertificate()));
      try (HttpClient http = HttpClient.newBuilder().sslContext(client).build()) {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(
                        URI.create("https://localhost:" + server.getLocalPort() + "/"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("ok");
      }
      Certificate[] chain = peer.get(30, TimeUnit.SECONDS);
      assertThat(chain[0]).isEqualTo(cert);
    }
  }

  private static SSLServerSocket server(ControllerPki pki, String protocol) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry(
        "server",
        pki.serverKey(),
        "x".toCharArray(),
        new X509Certificate[] {pki.serverCertificate(), pki.caCertificate()});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
    kmf.init(ks, "x".toCharArray());
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", pki.caCertificate());
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
    SSLServerSocket s =
        (SSLServerSocket)
            ctx.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getLoopbackAddress());
    s.setNeedClientAuth(true);
    s.setEnabledProtocols(new String[] {protocol});
    return s;
  }
}
