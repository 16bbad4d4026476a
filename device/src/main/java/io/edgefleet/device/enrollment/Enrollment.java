package io.edgefleet.device.enrollment;

import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.Der;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import javax.security.auth.x500.X500Principal;

/**
 * The device's half of enrollment, whatever carries it: the request (the bootstrap token, the
 * device's facts and a CSR proving its key) and the checks of the answer (a certificate issued for
 * this key, by the CA whose fingerprint the bootstrap file pinned).
 */
public final class Enrollment {
  private static final String ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";

  private Enrollment() {}

  /** The issued certificate and the CA that issued it, both checked. */
  public record Certificates(X509Certificate certificate, X509Certificate ca) {}

  /** The answer cannot be used; {@link #kind()} says why. */
  public static final class Failure extends RuntimeException {
    /** Why an answer was not taken. */
    public enum Kind {
      /** The CA is not the one the bootstrap file pinned. */
      CA_FINGERPRINT_MISMATCH,
      /** Unreadable, or not a certificate for this device's key from that CA. */
      PROTOCOL
    }

    private final Kind kind;

    Failure(Kind kind, String message, Throwable cause) {
      super(message, cause);
      this.kind = kind;
    }

    public Kind kind() {
      return kind;
    }
  }

  /** The request for a device with {@code key}, showing the bootstrap file's {@code token}. */
  public static EnrollmentRequest request(String token, DeviceFacts facts, KeyPair key) {
    return request(token, facts, key, null);
  }

  /**
   * The request for a device with {@code key} that asks to be called {@code name} (null: its host
   * name).
   */
  public static EnrollmentRequest request(
      String token, DeviceFacts facts, KeyPair key, String name) {
    return request(token, facts, key, name, null);
  }

  /**
   * The request for a device whose key lives in a TPM: {@code tpm} proves the TPM (null for a
   * software key).
   */
  public static EnrollmentRequest request(
      String token, DeviceFacts facts, KeyPair key, String name, TpmEnrollment tpm) {
    return new EnrollmentRequest(token, facts.serial(), csr(key), facts, name, tpm);
  }

  /** A CSR for the device's key, signed with it. */
  public static String csr(KeyPair key) {
    return Pem.encode("CERTIFICATE REQUEST", csrDer(key));
  }

  /**
   * The PKCS#10 request (RFC 2986) for {@code key}, subject {@code CN=edgefleet-agent}, no
   * attributes, signed with ECDSA over SHA-256 by whichever provider holds the key (the JDK's, or
   * the TPM's for a key that lives there).
   */
  static byte[] csrDer(KeyPair key) {
    try {
      byte[] info =
          Der.sequence(
              Der.integer(0),
              new X500Principal("CN=edgefleet-agent").getEncoded(),
              key.getPublic().getEncoded(),
              Der.tagged(0));
      Signature signer = Signature.getInstance("SHA256withECDSA");
      signer.initSign(key.getPrivate());
      signer.update(info);
      return Der.sequence(info, Der.sequence(Der.oid(ECDSA_WITH_SHA256)), Der.bits(signer.sign()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot build a CSR: " + e.getMessage(), e);
    }
  }

  /**
   * The controller's answer (HTTP 200 body).
   *
   * @throws Failure if it is not an enrollment answer
   */
  public static EnrollmentResponse answer(byte[] body) {
    try {
      return JsonCodec.read(body, EnrollmentResponse.class);
    } catch (IOException e) {
      throw new Failure(
          Failure.Kind.PROTOCOL,
          "the controller sent an unreadable enrollment answer: " + e.getMessage(),
          e);
    }
  }

  /**
   * The certificates of an approved answer, checked: the CA is the pinned one, the certificate is
   * for this device's key and signed by that CA.
   *
   * @throws Failure if any check fails
   */
  public static Certificates verify(
      EnrollmentResponse answer, String pinnedCaFingerprint, KeyPair key) {
    try {
      X509Certificate cert = Pem.certificateOf(answer.certificatePem());
      X509Certificate ca = Pem.certificateOf(answer.caCertificatePem());
      if (!Fingerprints.of(ca).equals(pinnedCaFingerprint)) {
        throw new Failure(
            Failure.Kind.CA_FINGERPRINT_MISMATCH,
            "the controller answered with a CA that does not match the pinned fingerprint",
            null);
      }
      if (!Arrays.equals(cert.getPublicKey().getEncoded(), key.getPublic().getEncoded())) {
        throw new Failure(
            Failure.Kind.PROTOCOL, "the issued certificate is not for this device's key", null);
      }
      cert.verify(ca.getPublicKey());
      return new Certificates(cert, ca);
    } catch (Failure e) {
      throw e;
    } catch (Exception e) {
      throw new Failure(
          Failure.Kind.PROTOCOL, "the issued certificate is invalid: " + e.getMessage(), e);
    }
  }
}
