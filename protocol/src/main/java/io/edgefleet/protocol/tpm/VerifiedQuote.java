package io.edgefleet.protocol.tpm;

import java.util.Collections;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A quote {@link QuoteVerifier} accepted.
 *
 * @param attest the signed TPMS_ATTEST
 * @param pcrs the quoted SHA-256 PCR values, by index in ascending order
 * @param eventLog the boot event log, when the device sent one; it replays to {@code pcrs} for
 *     every PCR it measured into
 */
public record VerifiedQuote(Attest attest, Map<Integer, byte[]> pcrs, Optional<EventLog> eventLog) {
  public VerifiedQuote {
    TreeMap<Integer, byte[]> copy = new TreeMap<>();
    pcrs.forEach((k, v) -> copy.put(k, v.clone()));
    pcrs = Collections.unmodifiableMap(copy);
  }

  /** The PCR values as lowercase hex, by index. */
  public Map<Integer, String> pcrsHex() {
    TreeMap<Integer, String> out = new TreeMap<>();
    pcrs.forEach((k, v) -> out.put(k, HexFormat.of().formatHex(v)));
    return out;
  }
}
