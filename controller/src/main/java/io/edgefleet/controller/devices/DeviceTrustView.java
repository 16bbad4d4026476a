package io.edgefleet.controller.devices;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.TpmKeyProof;
import java.security.PublicKey;
import java.time.Instant;

/**
 * How far a device's identity and boot can be trusted, as a device view shows it.
 *
 * @param identity {@code tpm} for a device whose key lives in a TPM (enrolled with its EK and
 *     attestation key), {@code software} otherwise
 * @param state {@code TRUSTED} (its last quote matched its reference), {@code QUARANTINED} (it did
 *     not: nothing new is delivered to it) or {@code UNVERIFIED} (a software key, nothing to check)
 * @param reason why, for a quarantine; null otherwise
 * @param since since when the state holds; null for software devices
 * @param lastAttested when its last quote verified; null if never
 */
public record DeviceTrustView(
    String identity, String state, String reason, Instant since, Instant lastAttested) {
  public static final String SOFTWARE = "software";
  public static final String TPM = "tpm";
  public static final String TRUSTED = "TRUSTED";
  public static final String QUARANTINED = "QUARANTINED";
  public static final String UNVERIFIED = "UNVERIFIED";

  /** A device with a software key: nothing is attested. */
  public static final DeviceTrustView SOFTWARE_KEY =
      new DeviceTrustView(SOFTWARE, UNVERIFIED, null, null, null);

  public boolean quarantined() {
    return QUARANTINED.equals(state);
  }

  /** Answers the trust of a device from memory (called for every row of a listing). */
  @FunctionalInterface
  public interface Reader {
    DeviceTrustView of(String deviceId);
  }

  /**
   * Checks a renewal's new key before its certificate is issued: a device enrolled with a TPM must
   * prove that the new key lives in the same TPM.
   */
  @FunctionalInterface
  public interface RenewalGuard {
    /**
     * @param newKey the key of the renewal's CSR
     * @param tpmKey the renewal's TPM evidence, or null
     * @throws ControllerException when the key is not acceptable
     */
    void check(String deviceId, PublicKey newKey, TpmKeyProof tpmKey);
  }
}
