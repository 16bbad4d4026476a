package io.edgefleet.bench.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Provider;
import java.security.Security;
import java.security.cert.CertificateException;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Conscrypt fits the controller's Jetty listener as decision 0043 says: the provider registered
 * last, {@code SslContextFactory.setProvider("Conscrypt")}, the device chain checked with
 * Conscrypt's signatures through PKIX's {@code sigProvider}, and tickets turned on per engine in
 * {@code customize}. Over a real socket: a device with its certificate gets an answer, the server
 * saw its certificate, and a second connection resumes.
 */
class ConscryptJettyTest {
  @TempDir static Path dir;
  static TlsMaterial material;
  static Server server;
  static SslContextFactory.Server ssl;
  static int port;
  static final AtomicReference<String> serverSawCertificate = new AtomicReference<>("");

  @BeforeAll
  static void start() throws Exception {
    material = TlsMaterial.create(dir, 1);
    Provider conscrypt = org.conscrypt.Conscrypt.newProvider();
    if (Security.getProvider(conscrypt.getName()) == null) {
      Security.addProvider(conscrypt);
    }
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry(
        "server",
        material.serverKey(),
        "pw".toCharArray(),
        new X509Certificate[] {material.serverCert(), material.ca()});
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    ts.setCertificateEntry("edgefleet-ca", material.ca());
    ssl =
        new SslContextFactory.Server() {
          @Override
          protected TrustManager[] getTrustManagers(
              KeyStore trustStore, java.util.Collection<? extends java.security.cert.CRL> crls)
              throws Exception {
            PKIXBuilderParameters p = new PKIXBuilderParameters(trustStore, new X509CertSelector());
            p.setRevocationEnabled(false);
            p.setSigProvider("Conscrypt");
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(new CertPathTrustManagerParameters(p));
            return tmf.getTrustManagers();
          }

          @Override
          public void customize(SSLEngine engine) {
            super.customize(engine);
            org.conscrypt.Conscrypt.setUseSessionTickets(engine, true);
          }
        };
    ssl.setProvider("Conscrypt");
    ssl.setKeyStore(ks);
    ssl.setKeyStorePassword("pw");
    ssl.setTrustStore(ts);
    ssl.setWantClientAuth(true);
    ssl.setIncludeProtocols("TLSv1.3");
    ssl.setSniRequired(false);
    HttpConfiguration http = new HttpConfiguration();
    SecureRequestCustomizer secure = new SecureRequestCustomizer();
    secure.setSniHostCheck(false);
    http.addCustomizer(secure);
    server = new Server();
    ServerConnector connector =
        new ServerConnector(
            server, new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(http));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    server.setHandler(
        new Handler.Abstract() {
          @Override
          public boolean handle(Request request, Response response, Callback callback) {
            var data =
                (org.eclipse.jetty.io.EndPoint.SslSessionData)
                    request.getAttribute(org.eclipse.jetty.io.EndPoint.SslSessionData.ATTRIBUTE);
            X509Certificate[] peer = data == null ? null : data.peerCertificates();
            serverSawCertificate.set(
                peer == null || peer.length == 0
                    ? ""
                    : peer[0].getSubjectX500Principal().getName());
            response.setStatus(200);
            response.write(
                true, java.nio.ByteBuffer.wrap("ok".getBytes(StandardCharsets.US_ASCII)), callback);
            return true;
          }
        });
    server.start();
    port = connector.getLocalPort();
  }

  @AfterAll
  static void stop() throws Exception {
    server.stop();
  }

  @Test
  void jettyServesADeviceWithConscryptAndResumesItsSession() throws Exception {
    assertThat(ssl.getSslContext().getProvider().getName()).isEqualTo("Conscrypt");
    AtomicInteger serverChainChecks = new AtomicInteger();
    SSLContext client = deviceClient(serverChainChecks);

    assertThat(get(client)).startsWith("HTTP/1.1 200");
    assertThat(serverSawCertificate.get()).contains("CN=dev-0");
    assertThat(serverChainChecks.get()).isEqualTo(1);

    assertThat(get(client)).startsWith("HTTP/1.1 200");
    assertThat(serverSawCertificate.get())
        .as("a resumed session keeps the device's certificate")
        .contains("CN=dev-0");
    assertThat(serverChainChecks.get()).as("the second connection resumed").isEqualTo(1);
  }

  private static String get(SSLContext client) throws Exception {
    try (SSLSocket s = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(
          "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  private static SSLContext deviceClient(AtomicInteger checks) throws Exception {
    X509ExtendedTrustManager pkix =
        (X509ExtendedTrustManager)
            material.trustManagerFactory(Optional.empty()).getTrustManagers()[0];
    X509ExtendedTrustManager counting =
        new X509ExtendedTrustManager() {
          @Override
          public void checkServerTrusted(X509Certificate[] c, String a, Socket s)
              throws CertificateException {
            checks.incrementAndGet();
            pkix.checkServerTrusted(c, a, s);
          }

          @Override
          public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e)
              throws CertificateException {
            checks.incrementAndGet();
            pkix.checkServerTrusted(c, a, e);
          }

          @Override
          public void checkServerTrusted(X509Certificate[] c, String a)
              throws CertificateException {
            checks.incrementAndGet();
            pkix.checkServerTrusted(c, a);
          }

          @Override
          public void checkClientTrusted(X509Certificate[] c, String a, Socket s) {
            throw new UnsupportedOperationException();
          }

          @Override
          public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e) {
            throw new UnsupportedOperationException();
          }

          @Override
          public void checkClientTrusted(X509Certificate[] c, String a) {
            throw new UnsupportedOperationException();
          }

          @Override
          public X509Certificate[] getAcceptedIssuers() {
            return pkix.getAcceptedIssuers();
          }
        };
    SSLContext ctx = SSLContext.getInstance("TLSv1.3", "SunJSSE");
    ctx.init(
        material.deviceKeyManagers(material.devices().get(0)), new TrustManager[] {counting}, null);
    return ctx;
  }
}
