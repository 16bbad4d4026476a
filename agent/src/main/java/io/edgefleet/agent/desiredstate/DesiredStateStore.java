package io.edgefleet.agent.desiredstate;

import io.edgefleet.device.desiredstate.DesiredStateCheck;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.Fingerprints;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The last verified desired state and its bundles, kept on the device so it keeps running them
 * without the controller and after a reboot. Bundles are written before the document that
 * references them, each file atomically, so a crash never leaves a document whose bundles are
 * missing. What is read back is verified again (signature, digests): a file changed on disk is
 * treated as absent. Not thread-safe; the agent serialises access.
 */
public final class DesiredStateStore {
  private final Path dir;

  public DesiredStateStore(Path stateDir) {
    this.dir = stateDir.resolve("desired");
  }

  /** {@link #load(TrustedKeys, String)} with one trusted key. */
  public Optional<Verified> load(java.security.PublicKey key, String deviceId) {
    return load(TrustedKeys.of(key), deviceId);
  }

  /** The stored document, re-verified; empty if none or if it fails to verify. */
  public Optional<Verified> load(TrustedKeys keys, String deviceId) {
    Path file = dir.resolve("current.json");
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    try {
      SignedDesiredState doc = JsonCodec.read(Files.readString(file), SignedDesiredState.class);
      Verified v = DesiredStateCheck.verify(doc, keys, deviceId, 0);
      for (DesiredState.DesiredApp app : v.state().apps()) {
        if (bundle(app.bundle()).isEmpty()) {
          return Optional.empty();
        }
      }
      return Optional.of(v);
    } catch (IOException | Refused e) {
      return Optional.empty();
    }
  }

  public boolean hasBundle(String digest) {
    return bundle(digest).isPresent();
  }

  /** The bundle's content if present and intact. */
  public Optional<String> bundle(String digest) {
    if (!DesiredStateCheck.isDigest(digest)) {
      return Optional.empty();
    }
    Path file = bundleFile(digest);
    try {
      if (!Files.exists(file)) {
        return Optional.empty();
      }
      byte[] bytes = Files.readAllBytes(file);
      return Fingerprints.sha256(bytes).equals(digest)
          ? Optional.of(new String(bytes, StandardCharsets.UTF_8))
          : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /**
   * Stores a downloaded bundle after checking it has the digest it was asked for.
   *
   * @throws Refused if the content does not match the digest
   */
  public void saveBundle(String digest, byte[] content) throws Refused {
    DesiredStateCheck.checkBundle(digest, content);
    SecureFiles.writeSecret(bundleFile(digest), content);
  }

  /** Makes the document current; all its bundles must be stored already. */
  public void save(Verified v) {
    for (DesiredState.DesiredApp app : v.state().apps()) {
      if (!hasBundle(app.bundle())) {
        throw new IllegalStateException("bundle " + app.bundle() + " must be stored first");
      }
    }
    SecureFiles.writeSecret(dir.resolve("current.json"), JsonCodec.write(v.signed()));
  }

  private Path bundleFile(String digest) {
    return dir.resolve("bundles").resolve(digest.substring("sha256:".length()) + ".yaml");
  }

  /** Removes bundles no longer referenced by the current document. */
  public void collectGarbage(DesiredState current) {
    Path bundles = dir.resolve("bundles");
    if (!Files.isDirectory(bundles)) {
      return;
    }
    java.util.Set<String> keep = new java.util.HashSet<>();
    current.apps().forEach(a -> keep.add(a.bundle().substring("sha256:".length()) + ".yaml"));
    try (var files = Files.list(bundles)) {
      for (Path f : files.toList()) {
        if (!keep.contains(f.getFileName().toString())) {
          Files.deleteIfExists(f);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
