package io.edgefleet.protocol.tls;

import java.security.interfaces.ECPublicKey;

/**
 * ECDH with a device's own P-256 key, wherever that key lives (a file, or a TPM that never lets it
 * out): the x coordinate of the shared point with {@code peer}, 32 bytes.
 */
@FunctionalInterface
public interface DeviceKeyAgreement {
  byte[] sharedSecret(ECPublicKey peer);
}
