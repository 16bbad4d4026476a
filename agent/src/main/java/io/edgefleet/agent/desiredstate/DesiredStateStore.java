package io.edgefleet.agent.desiredstate;

import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The last verified desired state and its bundles, kept on the device so it keeps running them
 * without the controller and after a reboot. Bundles are written before the document that
 * references them, each file atomically, so a crash never leaves a document whose bundles are
 * missing. What is read back is verified again (signature, digests): a file changed on disk is
 * treated as absent. Not thread-safe; the agent serialises access.
 */
public final class DesiredStateStore {
  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  private final Path dir;

  public DesiredStateStore(Path stateDir) {
    this.dir = stateDir.resolve("desired");
  }

  /**
   * A document whose signature was checked, with its decoded content, the id of the key that signed
   * it, and the keys the device trusts once it takes this document ({@link TrustedKeys}).
   */
  public record Verified(
      SignedDesiredState signed, DesiredState state, String signer, TrustedKeys trustAfter) {}

  /** Why a document was refused. */
  public static final class Refused extends Exception {
    private final String kind;

    public Refused(String kind, String message) {
      super(message);
      this.kind = kind;
    }

    public String kind() {
      return kind;
    }
  }

  /** {@link #verify(SignedDesiredState, TrustedKeys, String, long)} with one trusted key. */
  public static Verified verify(SignedDesiredState doc, PublicKey key, String deviceId, long held)
      throws Refused {
    return verify(doc, TrustedKeys.of(key), deviceId, held);
  }

  /**
   * Checks a document from the controller: signed by a key this device trusts (the one its {@code
   * keyId} names, or with no id any trusted key), meant for this device, newer than {@code held},
   * and announcing only well-formed keys.
   */
  public static Verified verify(
      SignedDesiredState doc, TrustedKeys trusted, String deviceId, long held) throws Refused {
    if (doc == null || doc.payload() == null || doc.signature() == null) {
      throw new Refused("desired-state-malformed", "the desired state document is incomplete");
    }
    byte[] payload;
    try {
      payload = Base64.getDecoder().decode(doc.payload());
    } catch (IllegalArgumentException e) {
      throw new Refused("desired-state-malformed", "the desired state payload is not base64");
    }
    List<String> candidates;
    if (doc.keyId() != null) {
      if (trusted.get(doc.keyId()).isEmpty()) {
        throw new Refused(
            "desired-state-unknown-key",
            "refused a desired state signed with key "
                + doc.keyId()
                + ", which this device does not trust (it trusts "
                + (trusted.isEmpty() ? "no key" : trusted.toString())
                + "); a new key is trusted only when a document signed with a trusted key"
                + " announces it. If the key this device trusted was retired while it was away,"
                + " enroll the device again");
      }
      candidates = List.of(doc.keyId());
    } else {
      candidates = trusted.ids();
    }
    String signer = null;
    for (String id : candidates) {
      if (Signatures.verify(trusted.get(id).orElseThrow(), payload, doc.signature())) {
        signer = id;
        break;
      }
    }
    if (signer == null) {
      throw new Refused(
          "desired-state-bad-signature",
          "refused a desired state whose signature does not verify with the controller's key");
    }
    DesiredState state;
    try {
      state = Json.mapper().readValue(payload, DesiredState.class);
    } catch (IOException e) {
      throw new Refused("desired-state-malformed", "the signed desired state is not readable");
    }
    TrustedKeys announced;
    try {
      if (state.signingKeys().size() > TrustedKeys.MAX_KEYS) {
        throw new IllegalArgumentException(
            state.signingKeys().size() + " keys (at most " + TrustedKeys.MAX_KEYS + ")");
      }
      announced = TrustedKeys.parse(state.signingKeys());
    } catch (IllegalArgumentException e) {
      throw new Refused(
          "desired-state-malformed",
          "the signed desired state announces an unusable signing key: " + e.getMessage());
    }
    if (!deviceId.equals(state.deviceId())) {
      throw new Refused(
          "desired-state-wrong-device",
          "refused a desired state for device " + state.deviceId() + " (this is " + deviceId + ")");
    }
    if (state.generation() > DesiredState.MAX_GENERATION) {
      throw new Refused(
          "desired-state-malformed",
          "refused desired state generation "
              + state.generation()
              + ": above the largest generation a controller issues");
    }
    if (state.generation() <= held) {
      throw new Refused(
          "desired-state-replayed",
          "refused desired state generation "
              + state.generation()
              + ": this device already holds generation "
              + held);
    }
    for (DesiredState.DesiredApp app : state.apps()) {
      if (app.bundle() == null || !DIGEST.matcher(app.bundle()).matches()) {
        throw new Refused(
            "desired-state-malformed", "app " + app.name() + " has no valid bundle digest");
      }
    }
    return new Verified(
        doc,
        state,
        signer,
        TrustedKeys.after(signer, trusted.get(signer).orElseThrow(), announced));
  }

  /** {@link #load(TrustedKeys, String)} with one trusted key. */
  public Optional<Verified> load(PublicKey key, String deviceId) {
    return load(TrustedKeys.of(key), deviceId);
  }

  /** The stored document, re-verified; empty if none or if it fails to verify. */
  public Optional<Verified> load(TrustedKeys keys, String deviceId) {
    Path file = dir.resolve("current.json");
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    try {
      SignedDesiredState doc =
          Json.mapper().readValue(Files.readString(file), SignedDesiredState.class);
      Verified v = verify(doc, keys, deviceId, 0);
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
    if (!DIGEST.matcher(digest).matches()) {
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
    if (!Fingerprints.sha256(content).equals(digest)) {
      throw new Refused(
          "bundle-digest-mismatch",
          "refused bundle " + digest + ": its content hashes to " + Fingerprints.sha256(content));
    }
    SecureFiles.writeSecret(bundleFile(digest), content);
  }

  /** Makes the document current; all its bundles must be stored already. */
  public void save(Verified v) {
    for (DesiredState.DesiredApp app : v.state().apps()) {
      if (!hasBundle(app.bundle())) {
        throw new IllegalStateException("bundle " + app.bundle() + " must be stored first");
      }
    }
    SecureFiles.writeSecret(dir.resolve("current.json"), Json.write(v.signed()));
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
