package io.edgefleet.controller.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tls.Pem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControllerPkiTest {
  @TempDir Path dir;

  @Test
  void firstOpenCreatesKeyMaterialWithPrivateKeysOnlyReadableByTheOwner() throws Exception {
    ControllerPki pki =
        ControllerPki.open(dir, List.of("localhost", "127.0.0.1"), Clock.systemUTC());
    for (String secret : List.of("ca.key", "server.key", "signing.key")) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(secret))))
          .as(secret)
          .isEqualTo("rw-------");
    }
    assertThat(pki.caCertificate().getBasicConstraints()).isEqualTo(0);
    pki.serverCertificate().verify(pki.caCertificate().getPublicKey());
    assertThat(pki.signingKeys().ring().current().publicKey().getAlgorithm())
        .isIn("Ed25519", "EdDSA");
    assertThat(pki.caFingerprint()).matches("sha256:[0-9a-f]{64}");
  }

  @Test
  void laterOpensReuseTheSameKeys() {
    ControllerPki first = ControllerPki.open(dir, List.of("localhost"), Clock.systemUTC());
    ControllerPki second = ControllerPki.open(dir, List.of("localhost"), Clock.systemUTC());
    assertThat(second.caFingerprint()).isEqualTo(first.caFingerprint());
    assertThat(second.serverCertificate()).isEqualTo(first.serverCertificate());
    assertThat(second.signingKeys().ring().current())
        .isEqualTo(first.signingKeys().ring().current());
  }

  @Test
  void serverCertificateIsReissuedWhenNamesChangeButTheCaStays() throws Exception {
    ControllerPki first = ControllerPki.open(dir, List.of("localhost"), Clock.systemUTC());
    ControllerPki second =
        ControllerPki.open(
            dir, List.of("localhost", "edge.example.org", "10.1.2.3"), Clock.systemUTC());
    assertThat(second.caFingerprint()).isEqualTo(first.caFingerprint());
    assertThat(second.serverCertificate()).isNotEqualTo(first.serverCertificate());
    assertThat(second.serverCertificate().getSubjectAlternativeNames())
        .extracting(san -> String.valueOf(san.get(1)))
        .contains("edge.example.org", "10.1.2.3");
  }

  @Test
  void validCsrYieldsADeviceCertificateSignedByTheCa() throws Exception {
    ControllerPki pki = ControllerPki.open(dir, List.of("localhost"), Clock.systemUTC());
    KeyPair device = ecKey();
    ControllerPki.ValidCsr csr = ControllerPki.validateCsr(csr(device));
    assertThat(csr.publicKey()).isEqualTo(device.getPublic());
    X509Certificate cert = pki.issueDevice("dev-abc", csr.publicKey());
    cert.verify(pki.caCertificate().getPublicKey());
    assertThat(ControllerPki.deviceIdOf(cert)).isEqualTo("dev-abc");
    assertThat(cert.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.2");
  }

  @Test
  void boringSslSignsAndChecksWhereItLoadsAndTheJdkStaysAtHand() throws Exception {
    // This platform (Linux x86-64) has Conscrypt's native library: the PKI uses it.
    assertThat(SignatureProvider.nativeProvider()).isPresent();
    assertThat(SignatureProvider.load("jdk")).as("EDGEFLEET_CRYPTO=jdk").isEmpty();
    // Certificates it signs verify with the JDK (as devices and the TLS stack check them).
    ControllerPki pki = ControllerPki.open(dir, List.of("localhost"), Clock.systemUTC());
    X509Certificate cert =
        pki.issueDevice("dev-1", ControllerPki.validateCsr(csr(ecKey())).publicKey());
    cert.verify(pki.caCertificate().getPublicKey(), "SunEC");
    // A CSR signed by another key than the one it carries is refused.
    KeyPair one = ecKey();
    KeyPair other = ecKey();
    String forged =
        Pem.encode(
            "CERTIFICATE REQUEST",
            new JcaPKCS10CertificationRequestBuilder(
                    new X500Principal("CN=device"), one.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(other.getPrivate()))
                .getEncoded());
    assertThatThrownBy(() -> ControllerPki.validateCsr(forged))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("does not verify");
  }

  @Test
  void garbageCsrsAreRefusedWithInvalidCsr() throws Exception {
    for (String bad :
        List.of(
            "",
            "hello",
            "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGFzbjE=\n-----END CERTIFICATE REQUEST-----\n",
            Pem.encode("CERTIFICATE", new byte[] {1, 2, 3}))) {
      assertThatThrownBy(() -> ControllerPki.validateCsr(bad))
          .isInstanceOf(ControllerException.class)
          .extracting(e -> ((ControllerException) e).code())
          .isEqualTo(ErrorCode.INVALID_CSR);
    }
  }

  @Test
  void rsaKeysAreRefused() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    KeyPair rsa = g.generateKeyPair();
    var builder =
        new JcaPKCS10CertificationRequestBuilder(new X500Principal("CN=x"), rsa.getPublic());
    String pem =
        Pem.encode(
            "CERTIFICATE REQUEST",
            builder
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(rsa.getPrivate()))
                .getEncoded());
    assertThatThrownBy(() -> ControllerPki.validateCsr(pem))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("EC P-256");
  }

  static KeyPair ecKey() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  static String csr(KeyPair key) throws Exception {
    var builder =
        new JcaPKCS10CertificationRequestBuilder(new X500Principal("CN=agent"), key.getPublic());
    return Pem.encode(
        "CERTIFICATE REQUEST",
        builder
            .build(new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate()))
            .getEncoded());
  }
}
