package io.edgefleet.controller.agentreleases;

import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The agent release keys this controller trusts: the Ed25519 public keys (SPKI PEM) in {@code <data
 * dir>/agent-release-keys/*.pub} and the files given with {@code --agent-release-key}. Read once at
 * start; immutable and thread-safe.
 */
public final class ReleaseKeys {
  /** The directory under the data directory holding trusted release keys. */
  public static final String DIRECTORY = "agent-release-keys";

  /** Most keys a controller trusts. */
  public static final int MAX_KEYS = 64;

  private static final long MAX_KEY_FILE = 16 * 1024;

  private final Map<String, PublicKey> byId;

  private ReleaseKeys(Map<String, PublicKey> byId) {
    this.byId = Map.copyOf(byId);
  }

  /** Trusts exactly these keys. */
  public static ReleaseKeys of(List<PublicKey> keys) {
    Map<String, PublicKey> byId = new LinkedHashMap<>();
    for (PublicKey k : keys) {
      byId.put(Signatures.keyId(k), k);
    }
    return new ReleaseKeys(byId);
  }

  /**
   * Reads the keys of {@code <dataDir>/agent-release-keys/*.pub} (the directory is created when
   * missing) and of {@code extra}.
   *
   * @throws IllegalArgumentException naming a file that is not an Ed25519 public key
   */
  public static ReleaseKeys load(Path dataDir, List<Path> extra) {
    List<Path> files = new ArrayList<>();
    Path dir = dataDir.resolve(DIRECTORY);
    try {
      // Owner-only like everything in the data directory, though the keys in it are public.
      SecureFiles.createPrivateDirectories(dir);
      try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "*.pub")) {
        s.forEach(files::add);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the release key directory " + dir, e);
    }
    files.sort(null);
    files.addAll(extra);
    List<PublicKey> keys = new ArrayList<>();
    for (Path f : files) {
      keys.add(read(f));
    }
    if (keys.size() > MAX_KEYS) {
      throw new IllegalArgumentException(
          "at most " + MAX_KEYS + " agent release keys can be trusted, found " + keys.size());
    }
    return of(keys);
  }

  /** Reads one public key file. */
  static PublicKey read(Path file) {
    try {
      if (!Files.isRegularFile(file)) {
        throw new IllegalArgumentException(
            "agent release key " + file + " does not exist or is not a regular file");
      }
      if (Files.size(file) > MAX_KEY_FILE) {
        throw new IllegalArgumentException(
            "agent release key " + file + " is larger than a public key file can be");
      }
      return Signatures.publicKey(Files.readString(file, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read agent release key " + file + ": " + e, e);
    } catch (IllegalArgumentException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("agent release key")) {
        throw e;
      }
      throw new IllegalArgumentException(
          "agent release key "
              + file
              + " is not an Ed25519 public key in PEM (write one with edgefleet agent-releases"
              + " keygen)",
          e);
    }
  }

  /** The trusted key of this id. */
  public Optional<PublicKey> key(String keyId) {
    return Optional.ofNullable(keyId == null ? null : byId.get(keyId));
  }

  public int size() {
    return byId.size();
  }

  /** The keys as devices receive them in their enrollment answer, ordered by id. */
  public List<DesiredState.SigningKey> signingKeys() {
    return byId.entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .map(e -> new DesiredState.SigningKey(e.getKey(), Signatures.publicKeyPem(e.getValue())))
        .toList();
  }
}
