package io.edgefleet.bench.tls;

import io.edgefleet.controller.pki.ControllerPki;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * The controller's real key material, made by its own {@link ControllerPki}: an EC P-256 CA, the
 * P-256 server certificate it issues to itself, and P-256 device certificates issued from device
 * keys, as enrollment does.
 */
record TlsMaterial(
    X509Certificate ca, PrivateKey serverKey, X509Certificate serverCert, List<Device> devices) {
  static final String SERVER_NAME = "controller.bench.test";
  private static final char[] PASSWORD = "bench".toCharArray();

  /** One device's key and the certificate the controller issued for it. */
  record Device(String id, PrivateKey key, X509Certificate cert) {}

  static TlsMaterial create(Path dir, int devices) throws Exception {
    ControllerPki pki = ControllerPki.open(dir, List.of(SERVER_NAME), Clock.systemUTC());
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    List<Device> list = new ArrayList<>();
    for (int i = 0; i < devices; i++) {
      KeyPair k = g.generateKeyPair();
      String id = "dev-" + i;
      list.add(new Device(id, k.getPrivate(), pki.issueDevice(id, k.getPublic())));
    }
    return new TlsMaterial(pki.caCertificate(), pki.serverKey(), pki.serverCertificate(), list);
  }

  /** The server's key managers, with the chain the controller sends (server certificate, CA). */
  KeyManager[] serverKeyManagers() throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("server", serverKey, PASSWORD, new X509Certificate[] {serverCert, ca});
    return keyManagers(ks);
  }

  KeyManager[] deviceKeyManagers(Device d) {
    return new KeyManager[] {new FixedKeyManager(d.key(), new X509Certificate[] {d.cert()})};
  }

  /** The JDK's PKIX trust managers over the controller's CA (as Jetty builds them). */
  TrustManager[] trustManagers() throws Exception {
    return trustManagerFactory(Optional.empty()).getTrustManagers();
  }

  /**
   * The JDK's PKIX trust manager factory over the controller's CA; given a provider name, the
   * certificate signatures are checked with that provider's {@code Signature} (PKIX's {@code
   * sigProvider}) instead of the first registered one.
   */
  TrustManagerFactory trustManagerFactory(Optional<String> sigProvider) throws Exception {
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    ts.setCertificateEntry("edgefleet-ca", ca);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX", "SunJSSE");
    if (sigProvider.isEmpty()) {
      tmf.init(ts);
    } else {
      PKIXBuilderParameters p = new PKIXBuilderParameters(ts, new X509CertSelector());
      p.setRevocationEnabled(false);
      p.setSigProvider(sigProvider.get());
      tmf.init(new CertPathTrustManagerParameters(p));
    }
    return tmf;
  }

  private static KeyManager[] keyManagers(KeyStore ks) throws Exception {
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509", "SunJSSE");
    kmf.init(ks, PASSWORD);
    return kmf.getKeyManagers();
  }
}
