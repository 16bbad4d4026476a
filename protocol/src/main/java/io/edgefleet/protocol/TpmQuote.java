package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;
import java.util.TreeMap;

/**
 * A TPM 2.0 quote with what the verifier needs to check it.
 *
 * @param attest base64 of the TPMS_ATTEST the TPM signed (TPM2_Quote's {@code quoted})
 * @param signature base64 of the TPMT_SIGNATURE by the attestation key
 * @param pcrs the quoted SHA-256 PCR values the device read: PCR index → 64 lowercase hex digits
 * @param eventLog base64 of the TCG boot event log (crypto-agile format) when the kernel exposes
 *     one; null otherwise
 */
public record TpmQuote(
    String attest,
    String signature,
    Map<Integer, String> pcrs,
    @JsonInclude(JsonInclude.Include.NON_NULL) String eventLog) {

  /**
   * Largest event log a device sends, decoded; a longer one is refused by the controller. Real logs
   * are 20-200 KiB; the limit keeps an answer's base64 within the 1 MiB WebSocket message.
   */
  public static final int MAX_EVENT_LOG_BYTES = 512 * 1024;

  public TpmQuote {
    pcrs = pcrs == null ? Map.of() : new TreeMap<>(pcrs);
  }
}
