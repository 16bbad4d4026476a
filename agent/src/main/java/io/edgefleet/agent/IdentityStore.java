package io.edgefleet.agent;

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

  /** Stores the controller's desired-state signing key, received over the pinned channel. */
  public void saveSigningKey(String pem) {
    Signatures.publicKey(pem);
    SecureFiles.writeSecret(dir.resolve("signing.pub"), pem);
  }

  /** Parses a signing key from an answer, if present. */
  public Optional<PublicKey> signingKeyPem(String pem) {
    return pem == null ? Optional.empty() : Optional.of(Signatures.publicKey(pem));
  }

  /** The stored signing key, if this device has one. */
  public Optional<PublicKey> signingKey() {
    Path file = dir.resolve("signing.pub");
    try {
      return Files.exists(file)
          ? Optional.of(Signatures.publicKey(Files.readString(file)))
          : Optional.empty();
    } catch (IOException | IllegalArgumentException e) {
      return Optional.empty();
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
