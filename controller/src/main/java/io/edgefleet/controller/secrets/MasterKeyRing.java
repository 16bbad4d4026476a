package io.edgefleet.controller.secrets;

import io.edgefleet.protocol.SecureFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The master keys that wrap the secrets' data keys: a file (mode 0600) of 256-bit keys, one base64
 * line each, oldest first; the last one is current and wraps every new data key. A key is known by
 * its {@link SecretBox#keyId} (8 hex digits of its SHA-256). Rotation appends a key; a key is
 * dropped from the file only once no data key is wrapped by it any more ({@link #retainOnly}).
 * Thread-safe.
 *
 * <p>Every controller replica sharing one database must share this file.
 */
public final class MasterKeyRing {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path file;
  private Map<String, SecretBox> keys; // oldest first; guarded by this

  /** Opens the ring in {@code file}, creating it with one fresh key if it does not exist. */
  public MasterKeyRing(Path file) {
    this.file = file;
    synchronized (this) {
      try {
        if (!Files.exists(file)) {
          write(List.of(fresh()));
        }
        keys = read();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the secrets' master key file " + file, e);
      }
    }
  }

  /** The key that wraps new data keys. */
  public synchronized SecretBox current() {
    return keys.values().stream().reduce((a, b) -> b).orElseThrow();
  }

  /** The key with this id, if the ring still holds it. */
  public synchronized Optional<SecretBox> byId(String id) {
    return Optional.ofNullable(keys.get(id));
  }

  /** Every key id, oldest first. */
  public synchronized List<String> ids() {
    return List.copyOf(keys.keySet());
  }

  /** Appends a fresh key, which becomes current; written to the file before it is used. */
  public synchronized SecretBox rotate() {
    List<byte[]> all = new ArrayList<>(raw());
    all.add(fresh());
    write(all);
    keys = parse(all);
    return current();
  }

  /**
   * Drops the keys other than the current one whose ids are not in {@code inUse}.
   *
   * @return the ids dropped
   */
  public synchronized List<String> retainOnly(Collection<String> inUse) {
    String current = current().keyId();
    List<String> dropped = new ArrayList<>();
    List<byte[]> kept = new ArrayList<>();
    List<byte[]> all = raw();
    List<String> ids = List.copyOf(keys.keySet());
    for (int i = 0; i < all.size(); i++) {
      if (ids.get(i).equals(current) || inUse.contains(ids.get(i))) {
        kept.add(all.get(i));
      } else {
        dropped.add(ids.get(i));
      }
    }
    if (!dropped.isEmpty()) {
      write(kept);
      keys = parse(kept);
    }
    return dropped;
  }

  private List<byte[]> raw() {
    try {
      return lines(Files.readString(file, StandardCharsets.US_ASCII));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the secrets' master key file " + file, e);
    }
  }

  private Map<String, SecretBox> read() throws IOException {
    return parse(lines(Files.readString(file, StandardCharsets.US_ASCII)));
  }

  private List<byte[]> lines(String text) {
    List<byte[]> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      byte[] key;
      try {
        key = Base64.getDecoder().decode(line.strip());
      } catch (IllegalArgumentException e) {
        throw new IllegalStateException(
            "the secrets' master key file " + file + " holds a line that is not base64", e);
      }
      if (key.length != 32) {
        throw new IllegalStateException(
            "the secrets' master key file "
                + file
                + " holds a key of "
                + key.length
                + " bytes instead of 32; restore it from backup");
      }
      out.add(key);
    }
    if (out.isEmpty()) {
      throw new IllegalStateException(
          "the secrets' master key file " + file + " holds no key; restore it from backup");
    }
    return out;
  }

  private static Map<String, SecretBox> parse(List<byte[]> raw) {
    Map<String, SecretBox> out = new LinkedHashMap<>();
    for (byte[] k : raw) {
      SecretBox box = SecretBox.ofKey(k);
      out.put(box.keyId(), box);
    }
    return out;
  }

  private void write(List<byte[]> all) {
    StringBuilder sb = new StringBuilder();
    for (byte[] k : all) {
      sb.append(Base64.getEncoder().encodeToString(k)).append('\n');
    }
    SecureFiles.writeSecret(file, sb.toString());
  }

  private static byte[] fresh() {
    byte[] k = new byte[32];
    RANDOM.nextBytes(k);
    return k;
  }
}
