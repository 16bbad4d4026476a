package io.edgefleet.device.desiredstate;

import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.security.PublicKey;
import java.util.Base64;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The device's checks of what the controller sends about desired state: a signed document (the
 * signer, the device, the generation, the keys it announces) and a bundle against its digest.
 */
public final class DesiredStateCheck {
  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  private DesiredStateCheck() {}

  /** Whether {@code digest} is a bundle digest ({@code sha256:} and 64 hex digits). */
  public static boolean isDigest(String digest) {
    return digest != null && DIGEST.matcher(digest).matches();
  }

  /**
   * Checks a bundle's content against the digest it was asked for.
   *
   * @throws Refused if the content does not match the digest
   */
  public static void checkBundle(String digest, byte[] content) throws Refused {
    String actual = Fingerprints.sha256(content);
    if (!actual.equals(digest)) {
      throw new Refused(
          "bundle-digest-mismatch",
          "refused bundle " + digest + ": its content hashes to " + actual);
    }
  }

  /** {@link #verify(SignedDesiredState, TrustedKeys, String, long)} with one trusted key. */
  public static Verified verify(SignedDesiredState doc, PublicKey key, String deviceId, long held)
      throws Refused {
    return verify(doc, TrustedKeys.of(key), deviceId, held);
  }

  /**
   * Checks a document from the controller: signed by a key this device trusts (the one its {@code
   * keyId} names, or with no id any trusted key), meant for this device, newer than {@code held},
   * and announcing only well-formed keys.
   */
  public static Verified verify(
      SignedDesiredState doc, TrustedKeys trusted, String deviceId, long held) throws Refused {
    if (doc == null || doc.payload() == null || doc.signature() == null) {
      throw new Refused("desired-state-malformed", "the desired state document is incomplete");
    }
    byte[] payload;
    try {
      payload = Base64.getDecoder().decode(doc.payload());
    } catch (IllegalArgumentException e) {
      throw new Refused("desired-state-malformed", "the desired state payload is not base64");
    }
    List<String> candidates;
    if (doc.keyId() != null) {
      if (trusted.get(doc.keyId()).isEmpty()) {
        throw new Refused(
            "desired-state-unknown-key",
            "refused a desired state signed with key "
                + doc.keyId()
                + ", which this device does not trust (it trusts "
                + (trusted.isEmpty() ? "no key" : trusted.toString())
                + "); a new key is trusted only when a document signed with a trusted key"
                + " announces it. If the key this device trusted was retired while it was away,"
                + " enroll the device again");
      }
      candidates = List.of(doc.keyId());
    } else {
      candidates = trusted.ids();
    }
    String signer = null;
    for (String id : candidates) {
      if (Signatures.verify(trusted.get(id).orElseThrow(), payload, doc.signature())) {
        signer = id;
        break;
      }
    }
    if (signer == null) {
      throw new Refused(
          "desired-state-bad-signature",
          "refused a desired state whose signature does not verify with the controller's key");
    }
    DesiredState state;
    try {
      state = JsonCodec.read(payload, DesiredState.class);
    } catch (IOException e) {
      throw new Refused("desired-state-malformed", "the signed desired state is not readable");
    }
    TrustedKeys announced;
    try {
      if (state.signingKeys().size() > TrustedKeys.MAX_KEYS) {
        throw new IllegalArgumentException(
            state.signingKeys().size() + " keys (at most " + TrustedKeys.MAX_KEYS + ")");
      }
      announced = TrustedKeys.parse(state.signingKeys());
    } catch (IllegalArgumentException e) {
      throw new Refused(
          "desired-state-malformed",
          "the signed desired state announces an unusable signing key: " + e.getMessage());
    }
    if (!deviceId.equals(state.deviceId())) {
      throw new Refused(
          "desired-state-wrong-device",
          "refused a desired state for device " + state.deviceId() + " (this is " + deviceId + ")");
    }
    if (state.generation() > DesiredState.MAX_GENERATION) {
      throw new Refused(
          "desired-state-malformed",
          "refused desired state generation "
              + state.generation()
              + ": above the largest generation a controller issues");
    }
    if (state.generation() <= held) {
      throw new Refused(
          "desired-state-replayed",
          "refused desired state generation "
              + state.generation()
              + ": this device already holds generation "
              + held);
    }
    for (DesiredState.DesiredApp app : state.apps()) {
      if (app.bundle() == null || !isDigest(app.bundle())) {
        throw new Refused(
            "desired-state-malformed", "app " + app.name() + " has no valid bundle digest");
      }
    }
    return new Verified(
        doc,
        state,
        signer,
        TrustedKeys.after(signer, trusted.get(signer).orElseThrow(), announced));
  }
}
