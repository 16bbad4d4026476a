package io.edgefleet.controller.trust;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.DeviceTrustView;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tpm.AttestationException;
import io.edgefleet.protocol.tpm.Credentials;
import io.edgefleet.protocol.tpm.EkRoots;
import io.edgefleet.protocol.tpm.KeyProofs;
import io.edgefleet.protocol.tpm.QuoteVerifier;
import io.edgefleet.protocol.tpm.TpmAlg;
import io.edgefleet.protocol.tpm.TpmFormatException;
import io.edgefleet.protocol.tpm.TpmPublic;
import io.edgefleet.protocol.tpm.VerifiedQuote;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jdbi.v3.core.Handle;

/**
 * Enrollment with a TPM. The first request carries the EK certificate (and chain), the EK and AK
 * public areas and the proof that the CSR's key lives in the same TPM; they are checked and the
 * device gets an {@code ACTIVATE} answer: a credential only the TPM holding that EK can unwrap, for
 * that AK, and a nonce. The repeated request must carry the unwrapped credential (proving the AK is
 * in the TPM of the EK) and a quote over the nonce, whose measurements become the device's
 * reference. Only then does the normal enrollment go on (token, approval).
 *
 * <p>Challenges are kept in memory, one per CSR key, for {@link #VALID} and for one use, at most
 * {@link #MAX_OUTSTANDING} at a time: outsiders (who must already hold a usable onboarding
 * credential, checked before a challenge is made) cannot grow any table. A repeated request whose
 * challenge is gone (expired, used, or the controller restarted) gets a new one. Thread-safe.
 */
public final class TpmEnrollments {
  static final Duration VALID = Duration.ofMinutes(5);
  static final int MAX_OUTSTANDING = 10_000;
  private static final int MAX_CERT_PEM = 16 * 1024;
  private static final int MAX_CHAIN = 8;
  private static final int SECRET_BYTES = 32;

  private final Clock clock;
  private final TrustOptions options;
  private final Optional<EkRoots> roots;
  private final TrustStore store;
  private final DeviceStore devices;
  private final DeviceTrust trust;
  private final SecureRandom random = new SecureRandom();
  private final Map<String, Outstanding> outstanding = new ConcurrentHashMap<>();

  /** A challenge handed out for the CSR key {@code keyFingerprint}. */
  private record Outstanding(
      byte[] credential, byte[] nonce, String ekFingerprint, String akPublic, Instant expires) {}

  /** What the first or repeated request leads to. */
  public sealed interface Outcome permits Activate, Verified {}

  /** The device must activate this credential and quote over its nonce. */
  public record Activate(TpmChallenge challenge) implements Outcome {}

  /** The TPM is proven: enroll the device with this evidence. */
  public record Verified(Evidence evidence) implements Outcome {}

  /** What is stored of a proven TPM. */
  public record Evidence(
      String ekFingerprint,
      String ekIssuer,
      String akPublic,
      List<Integer> pcrs,
      Map<Integer, String> pcrValues,
      String eventLog) {}

  TpmEnrollments(
      Clock clock,
      TrustOptions options,
      Optional<EkRoots> roots,
      TrustStore store,
      DeviceStore devices,
      DeviceTrust trust) {
    this.clock = clock;
    this.options = options;
    this.roots = roots;
    this.store = store;
    this.devices = devices;
    this.trust = trust;
  }

  /**
   * Checks the TPM part of an enrollment request for the CSR key {@code csrKey}.
   *
   * @throws ControllerException {@code TPM_UNTRUSTED} naming what failed, {@code RATE_LIMITED} when
   *     too many enrollments with a TPM are under way
   */
  public Outcome check(TpmEnrollment tpm, PublicKey csrKey, String keyFingerprint) {
    EkRoots ekRoots =
        roots.orElseThrow(
            () ->
                untrusted(
                    "this controller has no TPM manufacturer certificates to check endorsement"
                        + " keys with: start it with --tpm-ca DIR (the EK roots and intermediates"
                        + " of your TPM vendors), or enroll this device with a software key"
                        + " (agent --no-tpm)"));
    X509Certificate ekCert = ekCertificate(tpm);
    X509Certificate root;
    TpmPublic ek = publicArea(tpm.ekPublic(), "ekPublic");
    TpmPublic ak = publicArea(tpm.akPublic(), "akPublic");
    try {
      root = ekRoots.validate(ekCert, chain(tpm));
      EkRoots.requireSameKey(ekCert, ek);
      checkAk(ak);
      if (tpm.deviceKey() == null) {
        throw new AttestationException(
            AttestationException.Reason.KEY_NOT_IN_TPM,
            "deviceKey is missing: the TPM must certify the CSR's key with the attestation key");
      }
      KeyProofs.verify(ak, tpm.deviceKey(), csrKey);
    } catch (AttestationException e) {
      throw untrusted(e);
    }
    String ekFingerprint = fingerprint(ekCert.getPublicKey());
    if (tpm.activatedCredential() != null) {
      Outstanding o = outstanding.remove(keyFingerprint);
      if (o != null && clock.instant().isBefore(o.expires())) {
        return new Verified(activated(tpm, ak, o, ekFingerprint, ekCert, root));
      }
      // Expired, already used, or unknown (the controller restarted): a new challenge.
    }
    return challenge(ek, ak, tpm.akPublic(), ekFingerprint, keyFingerprint);
  }

  private Evidence activated(
      TpmEnrollment tpm,
      TpmPublic ak,
      Outstanding o,
      String ekFingerprint,
      X509Certificate ekCert,
      X509Certificate root) {
    if (!o.ekFingerprint().equals(ekFingerprint) || !o.akPublic().equals(tpm.akPublic())) {
      throw untrusted(
          "the repeated request names another endorsement or attestation key than the first;"
              + " start the enrollment again");
    }
    byte[] credential = base64(tpm.activatedCredential(), "activatedCredential");
    if (!MessageDigest.isEqual(credential, o.credential())) {
      throw untrusted(
          "the activated credential is wrong: the attestation key is not bound to the endorsement"
              + " key (TPM2_ActivateCredential must run in the TPM that holds both)");
    }
    if (tpm.quote() == null) {
      throw untrusted("quote is missing: quote the challenge's PCRs over its nonce");
    }
    VerifiedQuote v;
    try {
      v = QuoteVerifier.verify(ak, tpm.quote(), o.nonce(), options.pcrs());
    } catch (AttestationException e) {
      throw untrusted(e);
    }
    return new Evidence(
        ekFingerprint,
        ekCert.getIssuerX500Principal().getName()
            + " (root "
            + root.getSubjectX500Principal().getName()
            + ")",
        tpm.akPublic(),
        options.pcrs(),
        Measurements.hex(v.pcrs()),
        tpm.quote().eventLog());
  }

  private Activate challenge(
      TpmPublic ek, TpmPublic ak, String akPublic, String ekFingerprint, String keyFingerprint) {
    Instant now = clock.instant();
    if (outstanding.size() >= MAX_OUTSTANDING) {
      outstanding.values().removeIf(o -> !now.isBefore(o.expires()));
      if (outstanding.size() >= MAX_OUTSTANDING) {
        throw new ControllerException(
            ErrorCode.RATE_LIMITED,
            "too many enrollments with a TPM are under way (at most "
                + MAX_OUTSTANDING
                + "); try again in a minute");
      }
    }
    byte[] credential = new byte[SECRET_BYTES];
    byte[] nonce = new byte[SECRET_BYTES];
    random.nextBytes(credential);
    random.nextBytes(nonce);
    Credentials.Challenge c = Credentials.make(ek, ak.name(), credential);
    outstanding.put(
        keyFingerprint,
        new Outstanding(credential, nonce, ekFingerprint, akPublic, now.plus(VALID)));
    Base64.Encoder b64 = Base64.getEncoder();
    return new Activate(
        new TpmChallenge(
            b64.encodeToString(c.credentialBlob()),
            b64.encodeToString(c.encryptedSecret()),
            b64.encodeToString(nonce),
            options.pcrs()));
  }

  /**
   * Stores a proven TPM for a new device inside the enrolling transaction: TRUSTED, with the
   * enrollment quote as its reference.
   *
   * @throws ControllerException {@code CONFLICT} when the TPM belongs to an enrolled device
   */
  public void store(Handle h, String deviceId, Evidence e) {
    for (String other : store.byEk(h, e.ekFingerprint())) {
      Optional<DeviceRecord> d = devices.byId(h, other);
      if (d.isPresent()
          && (d.get().lifecycle() == DeviceRecord.Lifecycle.ACTIVE
              || d.get().lifecycle() == DeviceRecord.Lifecycle.PENDING)) {
        throw new ControllerException(
            ErrorCode.CONFLICT,
            "this TPM already belongs to device "
                + other
                + "; decommission that device before this hardware can enroll again");
      }
    }
    Instant now = clock.instant();
    store.insert(
        h,
        new TrustRecord(
            deviceId,
            e.ekFingerprint(),
            e.ekIssuer(),
            e.akPublic(),
            e.pcrs(),
            e.pcrValues(),
            e.eventLog(),
            TrustRecord.ENROLLMENT,
            now,
            null,
            null,
            DeviceTrustView.TRUSTED,
            null,
            now,
            now),
        now.toEpochMilli());
  }

  /** Reads a device stored by {@link #store} into memory, once its transaction committed. */
  public void enrolled(String deviceId) {
    trust.load(deviceId);
  }

  /** A restricted ECC P-256 signing key that cannot leave the TPM. */
  private static void checkAk(TpmPublic ak) throws AttestationException {
    QuoteVerifier.requireAttestationKey(ak);
    if (ak.type() != TpmAlg.ECC || ak.keyBitsOrCurve() != TpmAlg.ECC_NIST_P256) {
      throw new AttestationException(
          AttestationException.Reason.AK_NOT_RESTRICTED,
          "the attestation key must be an ECC P-256 key (ECDSA SHA-256)");
    }
  }

  private static X509Certificate ekCertificate(TpmEnrollment tpm) {
    String pem = tpm.ekCertificatePem();
    if (pem == null || pem.isBlank() || pem.length() > MAX_CERT_PEM) {
      throw untrusted(
          "ekCertificatePem must be the EK certificate read from the TPM (PEM, at most "
              + MAX_CERT_PEM
              + " characters)");
    }
    try {
      return Pem.certificateOf(pem);
    } catch (IllegalArgumentException e) {
      throw untrusted("ekCertificatePem: " + e.getMessage());
    }
  }

  private static List<X509Certificate> chain(TpmEnrollment tpm) {
    if (tpm.ekChainPem().size() > MAX_CHAIN) {
      throw untrusted("ekChainPem has more than " + MAX_CHAIN + " certificates");
    }
    try {
      return tpm.ekChainPem().stream()
          .peek(
              p -> {
                if (p == null || p.length() > MAX_CERT_PEM) {
                  throw new IllegalArgumentException("a certificate is empty or too long");
                }
              })
          .flatMap(p -> Pem.certificates(p).stream())
          .toList();
    } catch (IllegalArgumentException e) {
      throw untrusted("ekChainPem: " + e.getMessage());
    }
  }

  private static TpmPublic publicArea(String base64, String field) {
    try {
      return TpmPublic.parse(base64(base64, field));
    } catch (TpmFormatException e) {
      throw untrusted(field + " is not a TPMT_PUBLIC: " + e.getMessage());
    }
  }

  private static byte[] base64(String text, String field) {
    if (text == null || text.isBlank() || text.length() > 4096) {
      throw untrusted(field + " is required (base64, at most 4096 characters)");
    }
    try {
      return Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      throw untrusted(field + " is not base64");
    }
  }

  /** SHA-256 of the key's X.509 encoding, hex. */
  static String fingerprint(PublicKey key) {
    try {
      return HexFormat.of()
          .formatHex(MessageDigest.getInstance("SHA-256").digest(key.getEncoded()));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static ControllerException untrusted(AttestationException e) {
    return new ControllerException(
        ErrorCode.TPM_UNTRUSTED, "TPM evidence refused (" + e.reason() + "): " + e.getMessage());
  }

  private static ControllerException untrusted(String message) {
    return new ControllerException(ErrorCode.TPM_UNTRUSTED, "TPM evidence refused: " + message);
  }

  /** Challenges outstanding now (tests). */
  int outstanding() {
    return outstanding.size();
  }
}
