package io.edgefleet.protocol.tpm;

import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tpm.AttestationException.Reason;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Checks a TPM quote: signed by the attestation key, over the challenge's nonce, of exactly the
 * requested SHA-256 PCRs, whose reported values hash to the signed digest, and, when the device
 * sent its boot event log, a log that replays to those values for every quoted PCR it measured
 * into. Stateless and thread-safe; whether a nonce was used before is the caller's to check.
 */
public final class QuoteVerifier {
  /** TPMT_SIGNATURE of an RSA 4096 key with room to spare; anything longer is refused unread. */
  static final int MAX_SIGNATURE_BYTES = 1024;

  /** TPMS_ATTEST of a quote is about 150 bytes; anything longer is refused unread. */
  static final int MAX_ATTEST_BYTES = 1024;

  private static final HexFormat HEX = HexFormat.of();

  private QuoteVerifier() {}

  /**
   * Verifies {@code quote} against the attestation key, the nonce the device was challenged with
   * and the PCRs it was asked to quote.
   *
   * @throws AttestationException naming what differs: MALFORMED, AK_NOT_RESTRICTED, BAD_SIGNATURE,
   *     NONCE_MISMATCH, PCR_SELECTION_MISMATCH, PCR_DIGEST_MISMATCH or EVENT_LOG_MISMATCH
   */
  public static VerifiedQuote verify(TpmPublic ak, TpmQuote quote, byte[] nonce, List<Integer> pcrs)
      throws AttestationException {
    if (quote == null) {
      throw new AttestationException(Reason.MALFORMED, "no quote");
    }
    requireAttestationKey(ak);
    byte[] attestBytes = base64(quote.attest(), "attest", MAX_ATTEST_BYTES);
    byte[] signature = base64(quote.signature(), "signature", MAX_SIGNATURE_BYTES);
    Attest attest;
    try {
      attest = Attest.parse(attestBytes);
    } catch (TpmFormatException e) {
      throw new AttestationException(Reason.MALFORMED, "quote: " + e.getMessage());
    }
    if (attest.type() != Attest.QUOTE) {
      throw new AttestationException(Reason.MALFORMED, "the attestation is a certify, not a quote");
    }
    checkSignature(ak.toPublicKey(), attestBytes, signature, "quote");
    if (!MessageDigest.isEqual(attest.extraData(), nonce)) {
      throw new AttestationException(
          Reason.NONCE_MISMATCH,
          "the quote is over nonce "
              + abbrev(attest.extraData())
              + " but the challenge's nonce is "
              + abbrev(nonce)
              + ": an old or foreign quote");
    }
    List<Integer> wanted = new ArrayList<>(new TreeSet<>(pcrs));
    if (!attest.pcrSelection().equals(wanted) || !attest.otherBanks().isEmpty()) {
      throw new AttestationException(
          Reason.PCR_SELECTION_MISMATCH,
          "the quote covers SHA-256 PCRs "
              + attest.pcrSelection()
              + (attest.otherBanks().isEmpty() ? "" : " and PCRs of other banks")
              + " but PCRs "
              + wanted
              + " were asked for");
    }
    Map<Integer, byte[]> values = reportedValues(quote, wanted);
    byte[] digest = digest(values);
    if (!MessageDigest.isEqual(digest, attest.pcrDigest())) {
      throw new AttestationException(
          Reason.PCR_DIGEST_MISMATCH,
          "the reported PCR values hash to "
              + abbrev(digest)
              + " but the TPM signed the digest "
              + abbrev(attest.pcrDigest())
              + ": the values sent are not the values quoted");
    }
    Optional<EventLog> log = Optional.empty();
    if (quote.eventLog() != null) {
      EventLog parsed = eventLog(quote.eventLog());
      checkReplay(parsed, values);
      log = Optional.of(parsed);
    }
    return new VerifiedQuote(attest, values, log);
  }

  /**
   * Requires a restricted signing key that cannot leave its TPM (fixedTPM, fixedParent,
   * sensitiveDataOrigin, not a decryption key): only such a key refuses to sign data that looks
   * like a TPMS_ATTEST the TPM did not produce.
   *
   * @throws AttestationException AK_NOT_RESTRICTED naming the missing attributes
   */
  public static void requireAttestationKey(TpmPublic ak) throws AttestationException {
    List<String> wrong = new ArrayList<>();
    if (!ak.has(TpmAlg.RESTRICTED)) {
      wrong.add("not restricted");
    }
    if (!ak.has(TpmAlg.SIGN_ENCRYPT)) {
      wrong.add("not a signing key");
    }
    if (ak.has(TpmAlg.DECRYPT)) {
      wrong.add("also a decryption key");
    }
    if (!ak.has(TpmAlg.FIXED_TPM | TpmAlg.FIXED_PARENT | TpmAlg.SENSITIVE_DATA_ORIGIN)) {
      wrong.add("not fixedTPM, fixedParent and sensitiveDataOrigin");
    }
    if (!wrong.isEmpty()) {
      throw new AttestationException(
          Reason.AK_NOT_RESTRICTED,
          "the attestation key is "
              + String.join(", ", wrong)
              + " (attributes 0x"
              + Integer.toHexString(ak.attributes())
              + "): create it as a restricted signing key of the TPM");
    }
  }

  static void checkSignature(PublicKey key, byte[] signed, byte[] signature, String what)
      throws AttestationException {
    boolean ok;
    try {
      ok = TpmSignatures.verify(key, signed, signature);
    } catch (TpmFormatException e) {
      throw new AttestationException(Reason.MALFORMED, what + " signature: " + e.getMessage());
    }
    if (!ok) {
      throw new AttestationException(
          Reason.BAD_SIGNATURE,
          "the " + what + " signature does not verify with the attestation key");
    }
  }

  private static Map<Integer, byte[]> reportedValues(TpmQuote quote, List<Integer> wanted)
      throws AttestationException {
    if (!quote.pcrs().keySet().equals(new TreeSet<>(wanted))) {
      throw new AttestationException(
          Reason.MALFORMED,
          "the device reported values of PCRs "
              + quote.pcrs().keySet()
              + " for a quote of PCRs "
              + wanted);
    }
    Map<Integer, byte[]> values = new TreeMap<>();
    for (Map.Entry<Integer, String> e : quote.pcrs().entrySet()) {
      String hex = e.getValue();
      if (hex == null || hex.length() != 64) {
        throw new AttestationException(
            Reason.MALFORMED, "PCR " + e.getKey() + " is not 64 hex digits");
      }
      try {
        values.put(e.getKey(), HEX.parseHex(hex));
      } catch (IllegalArgumentException ex) {
        throw new AttestationException(
            Reason.MALFORMED, "PCR " + e.getKey() + " is not 64 hex digits");
      }
    }
    return values;
  }

  /** SHA-256 over the values concatenated in index order: what TPM2_Quote signs. */
  static byte[] digest(Map<Integer, byte[]> values) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      new TreeMap<>(values).values().forEach(sha::update);
      return sha.digest();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static EventLog eventLog(String base64) throws AttestationException {
    byte[] bytes = base64(base64, "event log", TpmQuote.MAX_EVENT_LOG_BYTES);
    try {
      return EventLog.parse(bytes);
    } catch (TpmFormatException e) {
      throw new AttestationException(Reason.MALFORMED, "event log: " + e.getMessage());
    }
  }

  private static void checkReplay(EventLog log, Map<Integer, byte[]> quoted)
      throws AttestationException {
    Map<Integer, byte[]> replayed = log.replay();
    for (Map.Entry<Integer, byte[]> e : quoted.entrySet()) {
      byte[] fromLog = replayed.get(e.getKey());
      if (fromLog != null && !MessageDigest.isEqual(fromLog, e.getValue())) {
        throw new AttestationException(
            Reason.EVENT_LOG_MISMATCH,
            "PCR "
                + e.getKey()
                + " is "
                + abbrev(e.getValue())
                + " in the quote but the event log replays to "
                + abbrev(fromLog)
                + ": the log is not the one measured into the TPM");
      }
    }
  }

  static byte[] base64(String value, String what, int maxBytes) throws AttestationException {
    if (value == null || value.isEmpty()) {
      throw new AttestationException(Reason.MALFORMED, "the " + what + " is missing");
    }
    if ((long) value.length() > 4L * ((maxBytes + 2) / 3) + 4) {
      throw new AttestationException(
          Reason.MALFORMED, "the " + what + " is longer than " + maxBytes + " bytes");
    }
    byte[] b;
    try {
      b = Base64.getDecoder().decode(value);
    } catch (IllegalArgumentException e) {
      throw new AttestationException(Reason.MALFORMED, "the " + what + " is not base64");
    }
    if (b.length > maxBytes) {
      throw new AttestationException(
          Reason.MALFORMED, "the " + what + " is longer than " + maxBytes + " bytes");
    }
    return b;
  }

  /** The first 4 bytes as hex and an ellipsis, as messages show digests and nonces. */
  static String abbrev(byte[] b) {
    String hex = HEX.formatHex(b);
    return hex.length() > 8 ? hex.substring(0, 8) + "…" : hex.isEmpty() ? "(empty)" : hex;
  }
}
