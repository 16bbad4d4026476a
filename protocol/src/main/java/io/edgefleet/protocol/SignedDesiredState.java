package io.edgefleet.protocol;

/**
 * A {@link DesiredState} as signed by the controller: {@code payload} is the base64 of the exact
 * JSON bytes that were signed, {@code signature} the base64 Ed25519 signature over them. Signing
 * bytes rather than a re-serialised object means no canonical form is needed.
 */
public record SignedDesiredState(String payload, String signature) {}
