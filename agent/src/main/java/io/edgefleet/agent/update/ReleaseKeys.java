package io.edgefleet.agent.update;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.IdentityStore;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The agent release keys this device trusts: those the controller handed out at enrollment (kept in
 * the state directory) and the {@code *.pub} files its owner placed in the configuration's {@code
 * release-keys} directory. Read afresh for every release, so a key placed there takes effect
 * without a restart.
 */
public final class ReleaseKeys {
  private static final long MAX_KEY_FILE = 16 * 1024;
  private static final int MAX_KEYS = 64;

  private final Path stateDir;
  private final Path confDir;

  /**
   * @param stateDir the agent's state directory (holds {@link IdentityStore#RELEASE_KEYS})
   * @param confDir the directory of extra {@code *.pub} keys; may be null or missing
   */
  public ReleaseKeys(Path stateDir, Path confDir) {
    this.stateDir = stateDir;
    this.confDir = confDir;
  }

  /** Where an owner places extra keys. */
  public Path confDir() {
    return confDir;
  }

  /** The trusted keys by id; unreadable files are skipped. */
  public Map<String, PublicKey> load() {
    Map<String, PublicKey> keys = new TreeMap<>();
    Path stored = stateDir.resolve(IdentityStore.RELEASE_KEYS);
    if (Files.isRegularFile(stored)) {
      try {
        JsonNode list = JsonCodec.readTree(Files.readString(stored));
        for (JsonNode k : list) {
          add(keys, k.path("publicKeyPem").asText(""));
        }
      } catch (IOException | RuntimeException e) {
        // An unreadable file trusts nothing.
      }
    }
    if (confDir != null && Files.isDirectory(confDir)) {
      try (DirectoryStream<Path> files = Files.newDirectoryStream(confDir, "*.pub")) {
        for (Path f : files) {
          if (keys.size() >= MAX_KEYS) {
            break;
          }
          try {
            if (Files.isRegularFile(f) && Files.size(f) <= MAX_KEY_FILE) {
              add(keys, Files.readString(f));
            }
          } catch (IOException | RuntimeException e) {
            // Skipped: not a readable key.
          }
        }
      } catch (IOException e) {
        // No extra keys.
      }
    }
    return keys;
  }

  /**
   * Checks a release's signature.
   *
   * @return null if a trusted key signed it, else why it is refused (a sentence a person can act
   *     on)
   */
  public String check(AgentRelease release) {
    if (!release.wellFormed()) {
      return "the release's signed facts are malformed (version, arch, digest, size, key id and"
          + " signature are required)";
    }
    Map<String, PublicKey> keys = load();
    PublicKey key = keys.get(release.keyId());
    if (key == null) {
      List<String> ids = new ArrayList<>(keys.keySet());
      return "release "
          + release.version()
          + " is signed by key "
          + release.keyId()
          + ", which this device does not trust ("
          + (ids.isEmpty() ? "it trusts no release key" : "it trusts " + String.join(", ", ids))
          + "); place that key's .pub file in "
          + (confDir == null ? "the release-keys directory" : confDir)
          + " or have the controller hand it out at enrollment";
    }
    if (!release.signedBy(key)) {
      return "the signature of release "
          + release.version()
          + " does not verify with key "
          + release.keyId()
          + ": the release's facts were changed after signing, or it was signed wrongly";
    }
    return null;
  }

  private static void add(Map<String, PublicKey> keys, String pem) {
    try {
      PublicKey k = Signatures.publicKey(pem);
      keys.put(Signatures.keyId(k), k);
    } catch (IllegalArgumentException e) {
      // Not an Ed25519 public key.
    }
  }
}
