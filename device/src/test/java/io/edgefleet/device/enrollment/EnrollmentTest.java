package io.edgefleet.device.enrollment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.junit.jupiter.api.Test;

/** The device's half of enrollment: what it asks with, and what it takes as an answer. */
class EnrollmentTest {
  final KeyPair device = ec();
  final KeyPair caKey = ec();
  final X509Certificate ca = certificate("CN=ca", caKey, caKey);
  final String pinned = Fingerprints.of(ca);

  @Test
  void theRequestCarriesACsrSignedWithTheDeviceKey() throws Exception {
    EnrollmentRequest req = Enrollment.request("efo_1", facts(), device);
    assertThat(req.token()).isEqualTo("efo_1");
    assertThat(req.serial()).isEqualTo("sn-1");
    byte[] der =
        java.util.Base64.getMimeDecoder()
            .decode(
                req.csrPem()
                    .replace("-----BEGIN CERTIFICATE REQUEST-----", "")
                    .replace("-----END CERTIFICATE REQUEST-----", ""));
    PKCS10CertificationRequest csr = new PKCS10CertificationRequest(der);
    assertThat(csr.getSubjectPublicKeyInfo().getEncoded())
        .isEqualTo(device.getPublic().getEncoded());
    assertThat(csr.getSubject()).hasToString("CN=edgefleet-agent");
    assertThat(csr.getAttributes()).isEmpty();
    assertThat(csr.getSignatureAlgorithm().getAlgorithm().getId()).isEqualTo("1.2.840.10045.4.3.2");
    assertThat(
            csr.isSignatureValid(
                new org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder()
                    .build(device.getPublic())))
        .isTrue();
  }

  @Test
  void anApprovedAnswerIsTakenOnlyForThisKeyFromThePinnedCa() {
    X509Certificate issued = certificate("CN=dev-1", device, caKey);
    assertThat(Enrollment.verify(approved(issued, ca), pinned, device).certificate())
        .isEqualTo(issued);

    KeyPair otherCaKey = ec();
    X509Certificate otherCa = certificate("CN=other", otherCaKey, otherCaKey);
    assertThatThrownBy(
            () ->
                Enrollment.verify(
                    approved(certificate("CN=dev-1", device, otherCaKey), otherCa), pinned, device))
        .isInstanceOf(Enrollment.Failure.class)
        .satisfies(
            e ->
                assertThat(((Enrollment.Failure) e).kind())
                    .isEqualTo(Enrollment.Failure.Kind.CA_FINGERPRINT_MISMATCH));

    X509Certificate forAnotherKey = certificate("CN=dev-1", ec(), caKey);
    assertThatThrownBy(() -> Enrollment.verify(approved(forAnotherKey, ca), pinned, device))
        .hasMessage("the issued certificate is not for this device's key")
        .satisfies(
            e ->
                assertThat(((Enrollment.Failure) e).kind())
                    .isEqualTo(Enrollment.Failure.Kind.PROTOCOL));

    X509Certificate notSignedByTheCa = certificate("CN=dev-1", device, ec());
    assertThatThrownBy(() -> Enrollment.verify(approved(notSignedByTheCa, ca), pinned, device))
        .hasMessageStartingWith("the issued certificate is invalid");
  }

  @Test
  void anUnreadableAnswerIsAProtocolFailure() {
    assertThatThrownBy(() -> Enrollment.answer("<html>".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(Enrollment.Failure.class)
        .hasMessageStartingWith("the controller sent an unreadable enrollment answer");
  }

  private static EnrollmentResponse approved(X509Certificate cert, X509Certificate ca) {
    return new EnrollmentResponse(
        EnrollmentResponse.Status.APPROVED,
        "dev-1",
        null,
        null,
        Pem.certificate(cert),
        Pem.certificate(ca),
        null,
        null,
        null);
  }

  private static DeviceFacts facts() {
    return new DeviceFacts(
        "host", "sn-1", List.of(), "amd64", 2, 1L << 30, 1L << 30, "linux", "k", "v", false, false);
  }

  /**
   * A certificate for {@code subjectKey} signed with {@code issuer}'s key, in the name of "CN=ca".
   */
  private static X509Certificate certificate(String subject, KeyPair subjectKey, KeyPair issuer) {
    try {
      Instant now = Instant.now();
      var builder =
          new JcaX509v3CertificateBuilder(
              new X500Name(subject.equals("CN=other") ? subject : "CN=ca"),
              BigInteger.valueOf(now.toEpochMilli()),
              Date.from(now.minus(1, ChronoUnit.HOURS)),
              Date.from(now.plus(1, ChronoUnit.DAYS)),
              new X500Name(subject),
              subjectKey.getPublic());
      return new JcaX509CertificateConverter()
          .getCertificate(
              builder.build(
                  new JcaContentSignerBuilder("SHA256withECDSA").build(issuer.getPrivate())));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static KeyPair ec() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
