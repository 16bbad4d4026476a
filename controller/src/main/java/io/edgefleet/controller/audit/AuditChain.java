package io.edgefleet.controller.audit;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The byte encodings the audit hash chain and its checkpoints are computed over (decision 0034).
 * They are fixed: changing one makes every stored hash fail verification.
 *
 * <p>{@link #canonical canonical(entry)} is, in this order: {@code seq} and {@code at} (epoch
 * milliseconds) as 8-byte big-endian signed integers, then {@code id}, {@code actor}, {@code
 * action}, {@code target} and {@code detail} (the JSON text exactly as stored), each as a 4-byte
 * big-endian length followed by that many bytes of UTF-8. An entry's hash is {@code
 * SHA-256(prev_hash || canonical(entry))} with {@code prev_hash} the 32 raw bytes of the previous
 * entry's hash ({@link #GENESIS}, 32 zero bytes, before the first entry); hashes are stored as 64
 * lowercase hex digits.
 *
 * <p>A checkpoint signs (Ed25519) {@link #checkpointBytes}: the ASCII text {@code
 * edgefleet-audit-checkpoint-v1}, a zero byte, then {@code seq} and {@code at} as 8-byte big-endian
 * integers and the 32 raw bytes of the hash of entry {@code seq}. The prefix keeps a checkpoint
 * signature from ever being valid for a desired-state document signed with the same key. Stateless.
 */
public final class AuditChain {
  /** The hash before the first entry: 64 zeros. */
  public static final String GENESIS = "0".repeat(64);

  static final byte[] CHECKPOINT_PREFIX =
      "edgefleet-audit-checkpoint-v1\0".getBytes(StandardCharsets.US_ASCII);

  private AuditChain() {}

  /** The fixed byte encoding of one entry; see the class comment. */
  public static byte[] canonical(
      long seq, String id, long at, String actor, String action, String target, String detail) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(128 + detail.length());
    out.writeBytes(ByteBuffer.allocate(16).putLong(seq).putLong(at).array());
    for (String field : new String[] {id, actor, action, target, detail}) {
      byte[] b = field.getBytes(StandardCharsets.UTF_8);
      out.writeBytes(ByteBuffer.allocate(4).putInt(b.length).array());
      out.writeBytes(b);
    }
    return out.toByteArray();
  }

  /** {@code SHA-256(prev || canonical)} in hex; {@code prev} is 64 hex digits. */
  public static String hash(String prev, byte[] canonical) {
    MessageDigest sha = sha256();
    sha.update(HexFormat.of().parseHex(prev));
    sha.update(canonical);
    return HexFormat.of().formatHex(sha.digest());
  }

  /** The hash of an entry after {@code prev}. */
  public static String hash(String prev, AuditLog.ChainedEntry e) {
    return hash(
        prev,
        canonical(
            e.seq(), e.id(), e.at().toEpochMilli(), e.actor(), e.action(), e.target(), e.detail()));
  }

  /** What a checkpoint's signature covers; see the class comment. */
  public static byte[] checkpointBytes(long seq, String hash, long at) {
    return ByteBuffer.allocate(CHECKPOINT_PREFIX.length + 16 + 32)
        .put(CHECKPOINT_PREFIX)
        .putLong(seq)
        .putLong(at)
        .put(HexFormat.of().parseHex(hash))
        .array();
  }

  /** Whether {@code text} is a hash as stored: 64 lowercase hex digits. */
  static boolean isHash(String text) {
    return text != null && text.matches("[0-9a-f]{64}");
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
    }
  }
}
