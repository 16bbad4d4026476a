package io.edgefleet.controller.secrets;

import io.edgefleet.protocol.SecureFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Set;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Encrypts secrets at rest (git tokens, ssh keys, webhook secrets) with AES-256-GCM under one
 * 256-bit key kept in a file (mode 0600, created atomically on first use).
 *
 * <p>Sealed form: {@code v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>} with a random 96-bit
 * nonce per seal, so sealing the same text twice gives different strings. The key id (8 hex digits
 * of the key's SHA-256) lets {@link #open} say clearly that a value was sealed under another key
 * instead of reporting corruption. Optional associated data binds a sealed value to its place (a
 * token sealed for one source cannot be moved to another row). Thread-safe.
 *
 * <p>All controller replicas that share one database must share this key file.
 */
public final class SecretBox {
  private static final Logger LOG = LoggerFactory.getLogger(SecretBox.class);
  private static final String VERSION = "v1";
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final SecretKeySpec key;
  private final String keyId;

  private SecretBox(byte[] key) {
    if (key.length != 32) {
      throw new IllegalArgumentException("a SecretBox key has 32 bytes, got " + key.length);
    }
    this.key = new SecretKeySpec(key, "AES");
    this.keyId = keyId(key);
  }

  /**
   * Opens the key file, creating it with a fresh random key if it does not exist. Concurrent calls
   * within one JVM agree on one key.
   *
   * @throws IllegalStateException if the file exists but does not hold a key
   */
  public SecretBox(Path keyFile) {
    this(readOrCreate(keyFile));
  }

  private static byte[] readOrCreate(Path keyFile) {
    synchronized (SecretBox.class) {
      try {
        if (!Files.exists(keyFile)) {
          byte[] fresh = new byte[32];
          RANDOM.nextBytes(fresh);
          SecureFiles.writeSecret(keyFile, Base64.getEncoder().encodeToString(fresh) + "\n");
          LOG.info("created secret key {}", keyFile);
        }
        warnIfReadableByOthers(keyFile);
        String text = Files.readString(keyFile, StandardCharsets.US_ASCII).trim();
        byte[] key;
        try {
          key = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
          throw new IllegalStateException(
              "secret key file " + keyFile + " is not base64; restore it from backup", e);
        }
        if (key.length != 32) {
          throw new IllegalStateException(
              "secret key file "
                  + keyFile
                  + " holds "
                  + key.length
                  + " bytes instead of 32; restore it from backup");
        }
        return key;
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read secret key file " + keyFile, e);
      }
    }
  }

  /** A box over a given key, for tests and for keys kept outside files. */
  public static SecretBox ofKey(byte[] key) {
    return new SecretBox(key.clone());
  }

  /** The short identifier of the key, as written into every sealed value. */
  public String keyId() {
    return keyId;
  }

  public String seal(String plaintext) {
    return seal(plaintext, "");
  }

  public String open(String sealed) {
    return open(sealed, "");
  }

  /**
   * Encrypts {@code plaintext}, binding it to {@code context} (which {@link #open} must repeat).
   */
  public String seal(String plaintext, String context) {
    byte[] nonce = new byte[NONCE_BYTES];
    RANDOM.nextBytes(nonce);
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
      c.updateAAD(aad(context));
      byte[] ct = c.doFinal(plaintext.getBytes(StandardCharsets.UTF_8));
      ByteBuffer out = ByteBuffer.allocate(nonce.length + ct.length).put(nonce).put(ct);
      return VERSION
          + "."
          + keyId
          + "."
          + Base64.getUrlEncoder().withoutPadding().encodeToString(out.array());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM is not available in this JDK", e);
    }
  }

  /**
   * Decrypts a value sealed by {@link #seal(String, String)} with the same context.
   *
   * @throws IllegalArgumentException if the value is malformed, was sealed under another key, or
   *     was altered (including a different context)
   */
  public String open(String sealed, String context) {
    String[] parts = sealed.split("\\.", -1);
    if (parts.length != 3 || !parts[0].equals(VERSION)) {
      throw new IllegalArgumentException(
          "not a sealed secret (expected " + VERSION + ".<key id>.<data>)");
    }
    if (!parts[1].equals(keyId)) {
      throw new IllegalArgumentException(
          "secret was sealed under key "
              + parts[1]
              + " but this controller's key is "
              + keyId
              + "; every controller sharing a database needs the same secret key file");
    }
    byte[] data;
    try {
      data = Base64.getUrlDecoder().decode(parts[2]);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("sealed secret is not valid base64url", e);
    }
    if (data.length < NONCE_BYTES + TAG_BITS / 8) {
      throw new IllegalArgumentException("sealed secret is truncated");
    }
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, data, 0, NONCE_BYTES));
      c.updateAAD(aad(context));
      byte[] pt = c.doFinal(data, NONCE_BYTES, data.length - NONCE_BYTES);
      return new String(pt, StandardCharsets.UTF_8);
    } catch (AEADBadTagException e) {
      throw new IllegalArgumentException(
          "sealed secret failed authentication: it was altered or belongs elsewhere", e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM is not available in this JDK", e);
    }
  }

  private static byte[] aad(String context) {
    return (VERSION + ":" + context).getBytes(StandardCharsets.UTF_8);
  }

  private static String keyId(byte[] key) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(key);
      return HexFormat.of().formatHex(d, 0, 4);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void warnIfReadableByOthers(Path keyFile) {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(keyFile);
      if (perms.contains(PosixFilePermission.GROUP_READ)
          || perms.contains(PosixFilePermission.OTHERS_READ)) {
        LOG.warn("secret key file {} is readable by other users; chmod 600 it", keyFile);
      }
    } catch (UnsupportedOperationException | IOException e) {
      // Not a POSIX file system: nothing to check.
    }
  }
}
