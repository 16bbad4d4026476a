package io.edgefleet.agent;

import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.List;
import java.util.Optional;

/**
 * The agent's identity in its state directory: its own EC P-256 key (created once, never sent
 * anywhere), and after enrollment its certificate, the controller CA and its device id. Every file
 * is created mode 0600 (in a 0700 directory) and written atomically, so a power cut leaves either
 * the old or the new identity.
 */
public final class IdentityStore {
  private final Path dir;

  /** A completed enrollment. */
  public record Identity(
      String deviceId,
      String controllerUrl,
      String caFingerprint,
      KeyPair key,
      X509Certificate certificate,
      X509Certificate ca) {}

  /** What {@code identity.json} holds next to the PEM files. */
  record IdentityFile(String deviceId, String controllerUrl, String caFingerprint) {}

  public IdentityStore(Path dir) {
    this.dir = dir;
  }

  public Path dir() {
    return dir;
  }

  /** The device key, created on first use. */
  public KeyPair key() {
    Path keyFile = dir.resolve("device.key");
    Path pubFile = dir.resolve("device.pub");
    try {
      if (Files.exists(keyFile) && Files.exists(pubFile)) {
        byte[] pubDer = Pem.decode(Files.readString(pubFile), "PUBLIC KEY").getFirst();
        PublicKey pub = KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(pubDer));
        return new KeyPair(pub, Pem.privateKey(Files.readString(keyFile), "EC"));
      }
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair kp = g.generateKeyPair();
      SecureFiles.writeSecret(keyFile, Pem.privateKey(kp.getPrivate()));
      SecureFiles.writeSecret(pubFile, Pem.encode("PUBLIC KEY", kp.getPublic().getEncoded()));
      return kp;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or write the device key in " + dir, e);
    } catch (GeneralSecurityException | RuntimeException e) {
      throw new AgentException(
          AgentException.Code.STATE_CORRUPT,
          "the device key in "
              + dir
              + " is unreadable ("
              + e.getMessage()
              + "); restore it or"
              + " wipe the state directory and enroll again",
          e);
    }
  }

  public Optional<Identity> load() {
    Path idFile = dir.resolve("identity.json");
    if (!Files.exists(idFile)) {
      return Optional.empty();
    }
    try {
      IdentityFile f = Json.mapper().readValue(Files.readString(idFile), IdentityFile.class);
      X509Certificate cert = Pem.certificateOf(Files.readString(dir.resolve("device.crt")));
      X509Certificate ca = Pem.certificateOf(Files.readString(dir.resolve("ca.crt")));
      if (!Fingerprints.of(ca).equals(f.caFingerprint())) {
        throw new IllegalStateException("ca.crt does not match the stored fingerprint");
      }
      return Optional.of(
          new Identity(f.deviceId(), f.controllerUrl(), f.caFingerprint(), key(), cert, ca));
    } catch (IOException | RuntimeException e) {
      throw new AgentException(
          AgentException.Code.STATE_CORRUPT,
          "the identity in "
              + dir
              + " is unreadable ("
              + e.getMessage()
              + "); wipe the state directory to enroll again",
          e);
    }
  }

  /** What {@code signing-keys.json} holds: the signing keys this device trusts. */
  record TrustFile(List<DesiredState.SigningKey> keys) {}

  /**
   * Stores the controller's desired-state signing key received over the pinned channel (at
   * enrollment, or asked for by a device that holds none) as the one key this device trusts.
   *
   * @throws IllegalArgumentException if it is not an Ed25519 public key
   */
  public TrustedKeys saveSigningKey(String pem) {
    TrustedKeys keys = TrustedKeys.of(Signatures.publicKey(pem));
    saveTrustedKeys(keys);
    return keys;
  }

  /**
   * Replaces the set of trusted signing keys, atomically. The single key an older agent kept in
   * {@code signing.pub} is superseded and removed: were this agent replaced by an older one, that
   * one would ask the controller for its key rather than trust a key that may be retired.
   */
  public void saveTrustedKeys(TrustedKeys keys) {
    SecureFiles.writeSecret(
        dir.resolve("signing-keys.json"), Json.pretty(new TrustFile(keys.announced())) + "\n");
    try {
      Files.deleteIfExists(dir.resolve("signing.pub"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove " + dir.resolve("signing.pub"), e);
    }
  }

  /**
   * The signing keys this device trusts, if it has any: {@code signing-keys.json}, or for a device
   * enrolled by an older agent its one key in {@code signing.pub}.
   *
   * @throws AgentException if the stored keys are unreadable
   */
  public Optional<TrustedKeys> trustedKeys() {
    Path file = dir.resolve("signing-keys.json");
    Path legacy = dir.resolve("signing.pub");
    try {
      if (Files.exists(file)) {
        TrustFile f = Json.mapper().readValue(Files.readString(file), TrustFile.class);
        TrustedKeys keys = TrustedKeys.parse(f.keys() == null ? List.of() : f.keys());
        return keys.isEmpty() ? Optional.empty() : Optional.of(keys);
      }
      return Files.exists(legacy)
          ? Optional.of(TrustedKeys.of(Signatures.publicKey(Files.readString(legacy))))
          : Optional.empty();
    } catch (IOException | RuntimeException e) {
      throw new AgentException(
          AgentException.Code.STATE_CORRUPT,
          "the trusted signing keys in "
              + dir
              + " are unreadable ("
              + e.getMessage()
              + "); wipe the state directory and enroll again",
          e);
    }
  }

  /** Replaces the certificate after a renewal; one atomic write, the key is unchanged. */
  public void saveCertificate(X509Certificate cert) {
    SecureFiles.writeSecret(dir.resolve("device.crt"), Pem.certificate(cert));
  }

  public void save(Identity id) {
    SecureFiles.writeSecret(dir.resolve("device.crt"), Pem.certificate(id.certificate()));
    SecureFiles.writeSecret(dir.resolve("ca.crt"), Pem.certificate(id.ca()));
    // identity.json last: its presence marks the enrollment as complete.
    SecureFiles.writeSecret(
        dir.resolve("identity.json"),
        Json.pretty(new IdentityFile(id.deviceId(), id.controllerUrl(), id.caFingerprint()))
            + "\n");
  }
}
