package io.edgefleet.controller.trust;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceTrustView;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.tpm.AttestationException;
import io.edgefleet.protocol.tpm.KeyProofs;
import java.security.PublicKey;

/**
 * A renewal of a device enrolled with a TPM must carry the proof that its new key lives in the same
 * TPM: a TPM2_Certify of the key by the attestation key registered at enrollment. Software-key
 * devices renew with any new key.
 */
record RenewalProofs(DeviceTrust trust) implements DeviceTrustView.RenewalGuard {

  @Override
  public void check(String deviceId, PublicKey newKey, TpmKeyProof tpmKey) {
    var entry = trust.entry(deviceId);
    if (entry.isEmpty()) {
      return;
    }
    if (tpmKey == null) {
      throw new ControllerException(
          ErrorCode.TPM_REQUIRED,
          "device "
              + deviceId
              + " enrolled with a TPM: a renewal must carry tpmKey, the attestation key's"
              + " certification of the new key");
    }
    try {
      KeyProofs.verify(entry.get().ak(), tpmKey, newKey);
    } catch (AttestationException e) {
      throw new ControllerException(
          ErrorCode.TPM_UNTRUSTED,
          "the renewal's key proof was refused (" + e.reason() + "): " + e.getMessage());
    }
  }
}
