package io.edgefleet.controller.trust;

import java.time.Instant;
import java.util.List;

/**
 * Answer of {@code GET /api/v1/devices/{id}/attestation}: a device's TPM identity, trust, and its
 * measurements against its reference.
 *
 * @param identity {@code tpm} or {@code software} (then only {@code state} UNVERIFIED is given)
 * @param ekIssuer the issuer of the EK certificate and the root it chains to
 * @param akName hex of the attestation key's TPM name
 * @param lastAttested when its last quote verified
 * @param referenceOrigin which reference it is judged by (precedence in docs/guide/trust.md)
 * @param pcrs each attested PCR: reference value, current value, whether they differ
 * @param events the boot events that differ from the reference's, event by event (empty when no
 *     event logs are at hand or they match)
 */
public record AttestationView(
    String deviceId,
    String identity,
    String state,
    String reason,
    Instant since,
    String ekIssuer,
    String akName,
    Instant lastAttested,
    String referenceOrigin,
    Instant referenceAt,
    List<Pcr> pcrs,
    List<EventChange> events) {

  /** One PCR: {@code current} equals {@code reference} unless {@code differs}. */
  public record Pcr(int index, String reference, String current, boolean differs) {}

  /** One boot event that differs: {@code changed}, {@code added} or {@code removed}. */
  public record EventChange(int pcr, int index, String change, Event reference, Event current) {}

  /** A boot event as shown. */
  public record Event(int index, String type, String sha256, String description) {}
}
