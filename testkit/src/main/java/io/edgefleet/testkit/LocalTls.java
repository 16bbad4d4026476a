package io.edgefleet.testkit;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throwaway CA and a server certificate it signs for {@code 127.0.0.1} and {@code localhost}, as
 * PEM files, for test servers that speak TLS (a registry, an S3 service).
 *
 * @param ca the CA certificate
 * @param cert the server certificate
 * @param key the server's private key (PKCS #8)
 * @param keyStore the server's key and certificate chain as a PKCS #12 file, password {@link
 *     #KEY_STORE_PASSWORD}
 * @param trust a client context that trusts the CA only
 */
public record LocalTls(Path ca, Path cert, Path key, Path keyStore, SSLContext trust) {
  /** The password of {@link #keyStore}. */
  public static final String KEY_STORE_PASSWORD = "edgefleet-test";

  /**
   * Makes the CA and the certificate as {@code <prefix>-ca.pem}, {@code .pem}, {@code .key} and
   * {@code .p12}.
   */
  public static LocalTls issue(Path dir, String prefix, String caName) throws IOException {
    Path caPem = dir.resolve(prefix + "-ca.pem");
    Path certPem = dir.resolve(prefix + ".pem");
    Path keyPem = dir.resolve(prefix + ".key");
    Path p12 = dir.resolve(prefix + ".p12");
    try {
      KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
      gen.initialize(256);
      KeyPair caKey = gen.generateKeyPair();
      KeyPair serverKey = gen.generateKeyPair();
      Instant now = Instant.now();
      X500Principal issuer = new X500Principal("CN=" + caName);
      X509Certificate ca =
          new JcaX509CertificateConverter()
              .getCertificate(
                  new JcaX509v3CertificateBuilder(
                          issuer,
                          BigInteger.ONE,
                          Date.from(now.minusSeconds(60)),
                          Date.from(now.plus(Duration.ofDays(1))),
                          issuer,
                          caKey.getPublic())
                      .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                      .build(
                          new JcaContentSignerBuilder("SHA256withECDSA")
                              .build(caKey.getPrivate())));
      X509Certificate server =
          new JcaX509CertificateConverter()
              .getCertificate(
                  new JcaX509v3CertificateBuilder(
                          issuer,
                          BigInteger.TWO,
                          Date.from(now.minusSeconds(60)),
                          Date.from(now.plus(Duration.ofDays(1))),
                          new X500Principal("CN=127.0.0.1"),
                          serverKey.getPublic())
                      .addExtension(
                          Extension.subjectAlternativeName,
                          false,
                          new GeneralNames(
                              new GeneralName[] {
                                new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                                new GeneralName(GeneralName.dNSName, "localhost")
                              }))
                      .build(
                          new JcaContentSignerBuilder("SHA256withECDSA")
                              .build(caKey.getPrivate())));
      Files.writeString(caPem, pem("CERTIFICATE", ca.getEncoded()));
      Files.writeString(certPem, pem("CERTIFICATE", server.getEncoded()));
      Files.writeString(keyPem, pem("PRIVATE KEY", serverKey.getPrivate().getEncoded()));
      KeyStore server12 = KeyStore.getInstance("PKCS12");
      server12.load(null, null);
      server12.setKeyEntry(
          "server",
          serverKey.getPrivate(),
          KEY_STORE_PASSWORD.toCharArray(),
          new java.security.cert.Certificate[] {server, ca});
      try (var out = Files.newOutputStream(p12)) {
        server12.store(out, KEY_STORE_PASSWORD.toCharArray());
      }
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      store.setCertificateEntry(
          "ca",
          CertificateFactory.getInstance("X.509")
              .generateCertificate(new ByteArrayInputStream(ca.getEncoded())));
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return new LocalTls(caPem, certPem, keyPem, p12, ctx);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot make test certificates", e);
    }
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }
}
