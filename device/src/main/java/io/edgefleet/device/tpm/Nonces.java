package io.edgefleet.device.tpm;

import java.util.Base64;
import java.util.List;

/** Checks of what a controller asks a quote for: the nonce and the PCR list. */
public final class Nonces {
  /** The longest nonce a TPM takes as qualifying data. */
  public static final int MAX_BYTES = 64;

  private Nonces() {}

  /**
   * The nonce's bytes.
   *
   * @throws IllegalArgumentException if it is not base64 of 1 to 64 bytes
   */
  public static byte[] decode(String base64) {
    byte[] nonce;
    try {
      nonce = Base64.getDecoder().decode(base64 == null ? "" : base64);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the nonce is not base64: " + e.getMessage(), e);
    }
    if (nonce.length == 0 || nonce.length > MAX_BYTES) {
      throw new IllegalArgumentException(
          "the nonce has " + nonce.length + " bytes; a quote takes 1 to " + MAX_BYTES);
    }
    return nonce;
  }

  /**
   * Checks a PCR list.
   *
   * @throws IllegalArgumentException unless it names 1 to 24 distinct PCRs of 0 to 23
   */
  public static List<Integer> pcrs(List<Integer> pcrs) {
    if (pcrs == null || pcrs.isEmpty()) {
      throw new IllegalArgumentException("no PCRs to quote");
    }
    if (pcrs.stream().anyMatch(p -> p == null || p < 0 || p > 23)) {
      throw new IllegalArgumentException("PCR indexes are 0 to 23: " + pcrs);
    }
    if (pcrs.stream().distinct().count() != pcrs.size()) {
      throw new IllegalArgumentException("a PCR is named twice: " + pcrs);
    }
    return List.copyOf(pcrs);
  }
}
