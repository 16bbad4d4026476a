package io.edgefleet.device.tpm;

import io.edgefleet.protocol.tls.DeviceKeyAgreement;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import javax.crypto.KeyAgreement;

/** What the device does with its own key, wherever it lives (a file, or a TPM). */
public final class DeviceKeys {
  /** {@code tpm}: the device key lives in a TPM. */
  public static final String TPM = "tpm";

  /** {@code software}: the device key is a file in the state directory. */
  public static final String SOFTWARE = "software";

  private DeviceKeys() {}

  /** {@link #TPM} or {@link #SOFTWARE}. */
  public static String kind(PrivateKey key) {
    return key instanceof TpmPrivateKey ? TPM : SOFTWARE;
  }

  /** ECDH with {@code key}: the TPM's ECDH_ZGen, or JCA's ECDH for a software key. */
  public static DeviceKeyAgreement agreement(PrivateKey key) {
    if (key instanceof TpmPrivateKey tpm) {
      return tpm::agree;
    }
    return peer -> {
      try {
        KeyAgreement ka = KeyAgreement.getInstance("ECDH");
        ka.init(key);
        ka.doPhase(peer, true);
        return ka.generateSecret();
      } catch (GeneralSecurityException e) {
        throw new IllegalArgumentException("ECDH with the device key failed: " + e.getMessage(), e);
      }
    };
  }
}
