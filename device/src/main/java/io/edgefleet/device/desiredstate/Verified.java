package io.edgefleet.device.desiredstate;

import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.SignedDesiredState;

/**
 * A document whose signature was checked, with its decoded content, the id of the key that signed
 * it, and the keys the device trusts once it takes this document ({@link TrustedKeys}).
 */
public record Verified(
    SignedDesiredState signed, DesiredState state, String signer, TrustedKeys trustAfter) {}
