package io.edgefleet.controller.trust;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A device's TPM identity and trust as stored.
 *
 * @param ekFingerprint SHA-256 of the EK certificate's public key, hex
 * @param ekIssuer the EK certificate's issuer
 * @param akPublic base64 of the attestation key's TPMT_PUBLIC
 * @param pcrs the PCRs the device is challenged for
 * @param referencePcrs the device's own reference values
 * @param referenceEventLog base64 of the event log of its reference, or null
 * @param referenceSource {@code enrollment} (learned) or {@code accepted} (an operator adopted it)
 * @param currentPcrs the last verified values while they differ from the reference; null otherwise
 * @param currentEventLog base64 of the last verified event log while the values differ; or null
 * @param reason why, for a quarantine
 */
record TrustRecord(
    String deviceId,
    String ekFingerprint,
    String ekIssuer,
    String akPublic,
    List<Integer> pcrs,
    Map<Integer, String> referencePcrs,
    String referenceEventLog,
    String referenceSource,
    Instant referenceAt,
    Map<Integer, String> currentPcrs,
    String currentEventLog,
    String state,
    String reason,
    Instant since,
    Instant lastAttested) {
  static final String ENROLLMENT = "enrollment";
  static final String ACCEPTED = "accepted";
}
