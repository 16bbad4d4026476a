package io.edgefleet.controller.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Socket;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RememberingTrustManagerTest {
  @TempDir Path dir;
  ControllerPki pki;
  Counting real;
  Instant now = Instant.now();
  final Clock clock =
      new Clock() {
        @Override
        public java.time.ZoneId getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
          return this;
        }

        @Override
        public Instant instant() {
          return now;
        }
      };

  @BeforeEach
  void setUp() throws Exception {
    pki = ControllerPki.open(dir.resolve("pki"), List.of("localhost"), Clock.systemUTC());
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setCertificateEntry("ca", pki.caCertificate());
    TrustManagerFactory f = TrustManagerFactory.getInstance("PKIX");
    f.init(ks);
    real = new Counting((X509ExtendedTrustManager) f.getTrustManagers()[0]);
  }

  X509Certificate[] device(ControllerPki issuer) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return new X509Certificate[] {
      issuer.issueDevice("dev-" + System.nanoTime(), g.generateKeyPair().getPublic())
    };
  }

  @Test
  void aChainAcceptedOnceIsNotVerifiedAgain() throws Exception {
    RememberingTrustManager tm = new RememberingTrustManager(real, clock, 100);
    X509Certificate[] a = device(pki);
    X509Certificate[] b = device(pki);
    tm.checkClientTrusted(a, "EC", (SSLEngine) null);
    tm.checkClientTrusted(a, "EC", (SSLEngine) null);
    tm.checkClientTrusted(a, "EC", (Socket) null);
    tm.checkClientTrusted(b, "EC", (SSLEngine) null);
    assertThat(real.calls).as("one verification per distinct chain").isEqualTo(2);
    tm.checkClientTrusted(a, "UNKNOWN", (SSLEngine) null);
    assertThat(real.calls).as("another authentication type is checked in full").isEqualTo(3);
  }

  @Test
  void aChainFromAnotherCaIsRefusedEveryTime() throws Exception {
    RememberingTrustManager tm = new RememberingTrustManager(real, clock, 100);
    ControllerPki other =
        ControllerPki.open(dir.resolve("other"), List.of("localhost"), Clock.systemUTC());
    X509Certificate[] forged = device(other);
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(() -> tm.checkClientTrusted(forged, "EC", (SSLEngine) null))
          .isInstanceOf(CertificateException.class);
    }
    assertThat(real.calls).isEqualTo(3);
    assertThat(tm.remembered()).isZero();
  }

  @Test
  void aRememberedCertificateThatExpiredIsRefused() throws Exception {
    RememberingTrustManager tm = new RememberingTrustManager(real, clock, 100);
    X509Certificate[] a = device(pki);
    tm.checkClientTrusted(a, "EC", (SSLEngine) null);
    now = a[0].getNotAfter().toInstant().plus(Duration.ofMinutes(1));
    assertThatThrownBy(() -> tm.checkClientTrusted(a, "EC", (SSLEngine) null))
        .isInstanceOf(java.security.cert.CertificateExpiredException.class);
  }

  @Test
  void memoryIsBounded() throws Exception {
    RememberingTrustManager tm = new RememberingTrustManager(real, clock, 3);
    for (int i = 0; i < 7; i++) {
      tm.checkClientTrusted(device(pki), "EC", (SSLEngine) null);
      assertThat(tm.remembered()).isLessThanOrEqualTo(3);
    }
  }

  /** The JDK's trust manager, counting the chains it checks. */
  static final class Counting extends X509ExtendedTrustManager {
    final X509ExtendedTrustManager d;
    int calls;

    Counting(X509ExtendedTrustManager d) {
      this.d = d;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String a, Socket s)
        throws CertificateException {
      calls++;
      d.checkClientTrusted(c, a, s);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e)
        throws CertificateException {
      calls++;
      d.checkClientTrusted(c, a, e);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String a) throws CertificateException {
      calls++;
      d.checkClientTrusted(c, a);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String a, Socket s)
        throws CertificateException {
      d.checkServerTrusted(c, a, s);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e)
        throws CertificateException {
      d.checkServerTrusted(c, a, e);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String a) throws CertificateException {
      d.checkServerTrusted(c, a);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return d.getAcceptedIssuers();
    }
  }
}
