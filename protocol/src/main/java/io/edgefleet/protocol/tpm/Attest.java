package io.edgefleet.protocol.tpm;

import java.util.ArrayList;
import java.util.List;

/**
 * A parsed TPMS_ATTEST (TPM 2.0 Part 2 §10.12.12): what a TPM signs in TPM2_Quote and TPM2_Certify.
 *
 * @param type {@link #QUOTE} or {@link #CERTIFY}
 * @param qualifiedSigner qualified name of the signing key
 * @param extraData the caller's qualifying data: the nonce
 * @param clock TPM clock in milliseconds
 * @param resetCount TPM resets since the last clear
 * @param restartCount restarts since the last reset
 * @param safe whether the clock has not gone backwards
 * @param firmwareVersion vendor firmware version
 * @param pcrSelection quoted PCRs of the SHA-256 bank in ascending order (quote; empty otherwise)
 * @param pcrDigest digest of the quoted PCR values (quote; empty otherwise)
 * @param certifiedName name of the certified object (certify; empty otherwise)
 * @param certifiedQualifiedName qualified name of the certified object (certify; empty otherwise)
 * @param otherBanks hash algorithms other than SHA-256 in which the quote selects PCRs (quote)
 */
public record Attest(
    int type,
    byte[] qualifiedSigner,
    byte[] extraData,
    long clock,
    long resetCount,
    long restartCount,
    boolean safe,
    long firmwareVersion,
    List<Integer> pcrSelection,
    byte[] pcrDigest,
    byte[] certifiedName,
    byte[] certifiedQualifiedName,
    List<Integer> otherBanks) {

  /** TPM_GENERATED_VALUE: every TPMS_ATTEST a TPM signs starts with it. */
  public static final long MAGIC = 0xff544347L;

  /** TPM_ST_ATTEST_QUOTE. */
  public static final int QUOTE = 0x8018;

  /** TPM_ST_ATTEST_CERTIFY. */
  public static final int CERTIFY = 0x8017;

  /** Most PCRs in one bank this parser accepts: 4 selection bytes. */
  private static final int MAX_SELECT_BYTES = 4;

  /** Largest TPM2B_NAME / TPM2B_DATA / TPM2B_DIGEST: an algorithm id and a SHA-512 digest. */
  private static final int MAX_FIELD = 2 + 64;

  public Attest {
    qualifiedSigner = qualifiedSigner.clone();
    extraData = extraData.clone();
    pcrSelection = List.copyOf(pcrSelection);
    pcrDigest = pcrDigest.clone();
    certifiedName = certifiedName.clone();
    certifiedQualifiedName = certifiedQualifiedName.clone();
    otherBanks = List.copyOf(otherBanks);
  }

  /**
   * Parses exactly one TPMS_ATTEST of type QUOTE or CERTIFY.
   *
   * @throws TpmFormatException when truncated, with trailing bytes, a wrong magic, another type or
   *     fields larger than a TPM produces
   */
  public static Attest parse(byte[] tpmsAttest) {
    TpmBuffer.Reader r = new TpmBuffer.Reader(tpmsAttest);
    long magic = r.u32();
    if (magic != MAGIC) {
      throw new TpmFormatException(
          "TPMS_ATTEST magic is 0x"
              + Long.toHexString(magic)
              + ", not 0xff544347: not produced by a TPM");
    }
    int type = r.u16();
    if (type != QUOTE && type != CERTIFY) {
      throw new TpmFormatException(
          "TPMS_ATTEST type 0x" + Integer.toHexString(type) + " is neither a quote nor a certify");
    }
    byte[] signer = bounded(r, "qualifiedSigner");
    byte[] extra = bounded(r, "extraData");
    long clock = r.u64();
    long resetCount = r.u32();
    long restartCount = r.u32();
    int safe = r.u8();
    long firmware = r.u64();
    List<Integer> pcrs = new ArrayList<>();
    List<Integer> otherBanks = new ArrayList<>();
    byte[] digest = new byte[0];
    byte[] name = new byte[0];
    byte[] qualifiedName = new byte[0];
    if (type == QUOTE) {
      readSelection(r, pcrs, otherBanks);
      digest = bounded(r, "pcrDigest");
    } else {
      name = bounded(r, "certified name");
      qualifiedName = bounded(r, "certified qualified name");
    }
    r.end("TPMS_ATTEST");
    return new Attest(
        type,
        signer,
        extra,
        clock,
        resetCount,
        restartCount,
        safe != 0,
        firmware,
        pcrs,
        digest,
        name,
        qualifiedName,
        otherBanks);
  }

  private static void readSelection(
      TpmBuffer.Reader r, List<Integer> sha256, List<Integer> otherBanks) {
    long count = r.u32();
    if (count > 16) {
      throw new TpmFormatException("PCR selection lists " + count + " banks; at most 16");
    }
    boolean seenSha256 = false;
    for (int i = 0; i < count; i++) {
      int hash = r.u16();
      int size = r.u8();
      if (size > MAX_SELECT_BYTES) {
        throw new TpmFormatException(
            "PCR selection of " + size + " bytes; at most " + MAX_SELECT_BYTES);
      }
      byte[] select = r.bytes(size);
      List<Integer> indices = new ArrayList<>();
      for (int pcr = 0; pcr < size * 8; pcr++) {
        if ((select[pcr / 8] & (1 << (pcr % 8))) != 0) {
          indices.add(pcr);
        }
      }
      if (hash == TpmAlg.SHA256) {
        if (seenSha256) {
          throw new TpmFormatException("PCR selection lists the SHA-256 bank twice");
        }
        seenSha256 = true;
        sha256.addAll(indices);
      } else if (!indices.isEmpty()) {
        otherBanks.add(hash);
      }
    }
  }

  private static byte[] bounded(TpmBuffer.Reader r, String what) {
    byte[] b = r.sized();
    if (b.length > MAX_FIELD) {
      throw new TpmFormatException(what + " of " + b.length + " bytes; at most " + MAX_FIELD);
    }
    return b;
  }

  /** Marshals a TPMS_ATTEST (for the software TPM and tests); the inverse of {@link #parse}. */
  public byte[] marshal() {
    TpmBuffer.Writer w = new TpmBuffer.Writer();
    w.u32(MAGIC).u16(type).sized(qualifiedSigner).sized(extraData);
    w.u64(clock).u32(resetCount).u32(restartCount).u8(safe ? 1 : 0).u64(firmwareVersion);
    if (type == QUOTE) {
      byte[] select = new byte[3];
      for (int pcr : pcrSelection) {
        if (pcr < 0 || pcr >= 24) {
          throw new IllegalArgumentException("PCR " + pcr + " is outside 0..23");
        }
        select[pcr / 8] |= (byte) (1 << (pcr % 8));
      }
      w.u32(1).u16(TpmAlg.SHA256).u8(select.length).bytes(select);
      w.sized(pcrDigest);
    } else {
      w.sized(certifiedName).sized(certifiedQualifiedName);
    }
    return w.toBytes();
  }
}
