package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * A {@link DesiredState} as signed by the controller: {@code payload} is the base64 of the exact
 * JSON bytes that were signed, {@code signature} the base64 Ed25519 signature over them. Signing
 * bytes rather than a re-serialised object means no canonical form is needed.
 *
 * @param keyId the id ({@link io.edgefleet.protocol.tls.Signatures#keyId}) of the key that signed;
 *     outside the signed bytes, it only tells the agent which of the keys it trusts to check the
 *     signature with. Absent from controllers that have a single key.
 */
public record SignedDesiredState(
    String payload, String signature, @JsonInclude(JsonInclude.Include.NON_NULL) String keyId) {
  public SignedDesiredState(String payload, String signature) {
    this(payload, signature, null);
  }
}
