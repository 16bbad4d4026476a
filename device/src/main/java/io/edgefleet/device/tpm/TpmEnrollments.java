package io.edgefleet.device.tpm;

import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.TpmQuote;
import java.util.Base64;
import java.util.List;

/**
 * The TPM half of an enrollment request: first the EK certificate, EK and AK public areas and the
 * device key certified by the AK; after the controller's {@code ACTIVATE}, the same with the
 * unwrapped credential and a quote over the challenge's nonce.
 */
public final class TpmEnrollments {
  private TpmEnrollments() {}

  /** The first request's TPM identity for the device key selected by {@code salt}. */
  public static TpmEnrollment first(TpmDevice tpm, byte[] salt) {
    Base64.Encoder b64 = Base64.getEncoder();
    return new TpmEnrollment(
        tpm.ekCertificatePem(),
        List.of(),
        b64.encodeToString(tpm.ekPublic().marshal()),
        b64.encodeToString(tpm.akPublic().marshal()),
        tpm.certifyDeviceKey(salt),
        null,
        null);
  }

  /**
   * {@code first} completed with the answer to {@code challenge}: the credential unwrapped by the
   * TPM and a quote of the asked PCRs over the nonce, with {@code eventLog} (may be null).
   *
   * @throws IllegalArgumentException if the challenge is malformed
   * @throws TpmException if the TPM refuses (a credential for another TPM: TPM_RC_INTEGRITY)
   */
  public static TpmEnrollment activated(
      TpmDevice tpm, TpmEnrollment first, TpmChallenge challenge, byte[] eventLog) {
    byte[] credential = tpm.activateCredential(challenge);
    TpmQuote quote =
        tpm.quote(Nonces.decode(challenge.nonce()), Nonces.pcrs(challenge.pcrs()), eventLog);
    return new TpmEnrollment(
        first.ekCertificatePem(),
        first.ekChainPem(),
        first.ekPublic(),
        first.akPublic(),
        first.deviceKey(),
        Base64.getEncoder().encodeToString(credential),
        quote);
  }
}
