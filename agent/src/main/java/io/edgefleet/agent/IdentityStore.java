package io.edgefleet.agent;

import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.device.tpm.DeviceKeys;
import io.edgefleet.device.tpm.TpmDevice;
import io.edgefleet.device.tpm.TpmException;
import io.edgefleet.device.tpm.TpmPrivateKey;
import io.edgefleet.device.tpm.TpmTemplates;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.DeviceKeyAgreement;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.Signatures;
import io.edgefleet.protocol.tpm.TpmPublic;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

/**
 * The agent's identity in its state directory: its own EC P-256 key (never sent anywhere), and
 * after enrollment its certificate, the controller CA and its device id. The key is either a file
 * ({@code device.key}, a software identity) or lives in the TPM ({@code tpm-key.json} keeps only
 * the salt that selects it and its public area). A renewal brings a new key and certificate ({@link
 * #nextKey}, {@link #saveRenewed}). Every file is created mode 0600 (in a 0700 directory) and
 * written atomically, so a power cut leaves either the old or the new identity.
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
      X509Certificate ca) {

    /** {@code tpm} if the device key lives in a TPM, else {@code software}. */
    public String kind() {
      return DeviceKeys.kind(key.getPrivate());
    }

    /** ECDH with the device key (in the TPM, or in software): for opening sealed secrets. */
    public DeviceKeyAgreement keyAgreement() {
      return DeviceKeys.agreement(key.getPrivate());
    }
  }

  /** What {@code identity.json} holds next to the PEM files. */
  record IdentityFile(String deviceId, String controllerUrl, String caFingerprint) {}

  private static final SecureRandom RANDOM = new SecureRandom();

  private final TpmAccess tpm;

  /** A store whose device keys are files. */
  public IdentityStore(Path dir) {
    this(dir, new TpmAccess(Optional.empty()));
  }

  IdentityStore(Path dir, TpmAccess tpm) {
    this.dir = dir;
    this.tpm = tpm;
  }

  /** The TPM, if one is configured. */
  TpmAccess tpm() {
    return tpm;
  }

  public Path dir() {
    return dir;
  }

  /** The device key, created on first use: in the TPM if one is configured, else a file. */
  public KeyPair key() {
    return stored(CURRENT).orElseGet(() -> create(CURRENT, tpm.configured()));
  }

  /** Whether the current device key is a file (false before one exists). */
  public boolean softwareKey() {
    return Files.exists(dir.resolve(CURRENT.keyFile())) && !tpmKey();
  }

  /** Whether the current device key lives in a TPM (false before one exists). */
  public boolean tpmKey() {
    return Files.exists(dir.resolve(CURRENT.tpmFile()));
  }

  /**
   * A fresh key for the next certificate, of the same kind as the current one (a new salt for a TPM
   * key, a new key file otherwise), kept apart until {@link #saveRenewed} adopts it; one left by an
   * interrupted renewal is replaced.
   */
  public KeyPair nextKey() {
    boolean inTpm = tpmKey();
    discardNextKey();
    return create(NEXT, inTpm);
  }

  /** Removes the {@link #nextKey} of a renewal that renewed the current key instead. */
  public void discardNextKey() {
    try {
      for (String f : NEXT.files()) {
        Files.deleteIfExists(dir.resolve(f));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove an unused key in " + dir, e);
    }
  }

  /**
   * Stores a renewed certificate for the {@link #nextKey} and makes that key the device key: the
   * certificate first, then the key files are renamed into place. A crash in between is finished by
   * the next {@link #load}; until the certificate is written the old key and certificate stay.
   *
   * @return the new device key
   */
  public KeyPair saveRenewed(X509Certificate cert) {
    KeyPair next =
        stored(NEXT).orElseThrow(() -> new IllegalStateException("no next key to adopt in " + dir));
    if (!Arrays.equals(next.getPublic().getEncoded(), cert.getPublicKey().getEncoded())) {
      throw new IllegalArgumentException("the certificate is not for the next key");
    }
    SecureFiles.writeSecret(dir.resolve("device.crt"), Pem.certificate(cert));
    promote(cert);
    return key();
  }

  /** Finishes a rotation the certificate already moved to: the next key becomes the current. */
  private void promote(X509Certificate cert) {
    try {
      Path nextTpm = dir.resolve(NEXT.tpmFile());
      Path nextPub = dir.resolve(NEXT.pubFile());
      Optional<PublicKey> nextPublic = Optional.empty();
      if (Files.exists(nextTpm)) {
        nextPublic = Optional.of(readTpmFile(nextTpm).publicArea().toPublicKey());
      } else if (Files.exists(nextPub)) {
        nextPublic = Optional.of(readPublic(nextPub));
      }
      if (nextPublic.isEmpty()
          || !Arrays.equals(nextPublic.get().getEncoded(), cert.getPublicKey().getEncoded())) {
        return;
      }
      if (Files.exists(nextTpm)) {
        move(nextTpm, dir.resolve(CURRENT.tpmFile()));
        Files.deleteIfExists(dir.resolve(CURRENT.keyFile()));
        Files.deleteIfExists(dir.resolve(CURRENT.pubFile()));
        return;
      }
      Path nextKey = dir.resolve(NEXT.keyFile());
      if (Files.exists(nextKey)) {
        move(nextKey, dir.resolve(CURRENT.keyFile()));
      }
      move(nextPub, dir.resolve(CURRENT.pubFile()));
      Files.deleteIfExists(dir.resolve(CURRENT.tpmFile()));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot adopt the renewed key in " + dir, e);
    } catch (GeneralSecurityException | RuntimeException e) {
      throw corrupt("the next device key", e);
    }
  }

  /** Where a device key is kept: its TPM salt file, or its private and public key files. */
  private record Slot(String tpmFile, String keyFile, String pubFile) {
    List<String> files() {
      return List.of(tpmFile, keyFile, pubFile);
    }
  }

  private static final Slot CURRENT = new Slot("tpm-key.json", "device.key", "device.pub");
  private static final Slot NEXT =
      new Slot("tpm-key-next.json", "device-next.key", "device-next.pub");

  /**
   * What {@code tpm-key.json} holds for a key in the TPM: the salt that selects it and its public
   * area (base64). Never a private key: the TPM recreates the key from its seed and the salt.
   */
  record TpmKeyFile(String salt, String publicArea) {
    TpmPublic area() {
      return TpmPublic.parse(Base64.getDecoder().decode(publicArea));
    }
  }

  private record TpmKey(byte[] salt, TpmPublic publicArea) {}

  private Optional<KeyPair> stored(Slot slot) {
    Path tpmFile = dir.resolve(slot.tpmFile());
    Path keyFile = dir.resolve(slot.keyFile());
    Path pubFile = dir.resolve(slot.pubFile());
    try {
      if (Files.exists(tpmFile)) {
        TpmKey k = readTpmFile(tpmFile);
        TpmDevice device = tpm.device();
        TpmPublic now = device.devicePublic(k.salt());
        if (!now.equals(k.publicArea())) {
          throw new AgentException(
              AgentException.Code.TPM_UNAVAILABLE,
              "the TPM "
                  + device.endpoint()
                  + " no longer holds the device key of "
                  + dir
                  + " (another TPM, or its owner hierarchy was cleared): wipe the state directory"
                  + " and enroll again");
        }
        ECPublicKey pub = (ECPublicKey) now.toPublicKey();
        return Optional.of(new KeyPair(pub, new TpmPrivateKey(device, k.salt(), pub)));
      }
      if (Files.exists(keyFile) && Files.exists(pubFile)) {
        return Optional.of(
            new KeyPair(readPublic(pubFile), Pem.privateKey(Files.readString(keyFile), "EC")));
      }
      return Optional.empty();
    } catch (AgentException e) {
      throw e;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the device key in " + dir, e);
    } catch (TpmException e) {
      throw new AgentException(
          AgentException.Code.TPM_UNAVAILABLE,
          "the TPM cannot recreate the device key: " + e.getMessage(),
          e);
    } catch (GeneralSecurityException | RuntimeException e) {
      throw corrupt("the device key", e);
    }
  }

  private KeyPair create(Slot slot, boolean inTpm) {
    if (inTpm) {
      byte[] salt = new byte[TpmTemplates.SALT_BYTES];
      RANDOM.nextBytes(salt);
      TpmDevice device = tpm.device();
      TpmPublic area;
      try {
        area = device.devicePublic(salt);
      } catch (TpmException e) {
        throw new AgentException(
            AgentException.Code.TPM_UNAVAILABLE,
            "the TPM cannot create the device key: " + e.getMessage(),
            e);
      }
      Base64.Encoder b64 = Base64.getEncoder();
      SecureFiles.writeSecret(
          dir.resolve(slot.tpmFile()),
          JsonCodec.pretty(
                  new TpmKeyFile(b64.encodeToString(salt), b64.encodeToString(area.marshal())))
              + "\n");
      ECPublicKey pub = (ECPublicKey) area.toPublicKey();
      return new KeyPair(pub, new TpmPrivateKey(device, salt, pub));
    }
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair kp = g.generateKeyPair();
      // The public key last: a key file without it is not a key, so a crash leaves none.
      SecureFiles.writeSecret(dir.resolve(slot.keyFile()), Pem.privateKey(kp.getPrivate()));
      SecureFiles.writeSecret(
          dir.resolve(slot.pubFile()), Pem.encode("PUBLIC KEY", kp.getPublic().getEncoded()));
      return kp;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot create an EC P-256 key", e);
    }
  }

  private void move(Path from, Path to) throws IOException {
    Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    SecureFiles.syncDirectory(dir);
  }

  private static TpmKey readTpmFile(Path f) throws IOException {
    TpmKeyFile k = JsonCodec.read(Files.readString(f), TpmKeyFile.class);
    byte[] salt = Base64.getDecoder().decode(k.salt());
    if (salt.length != TpmTemplates.SALT_BYTES) {
      throw new IllegalArgumentException("the salt in " + f + " has " + salt.length + " bytes");
    }
    return new TpmKey(salt, k.area());
  }

  private static PublicKey readPublic(Path f) throws IOException, GeneralSecurityException {
    byte[] der = Pem.decode(Files.readString(f), "PUBLIC KEY").getFirst();
    return KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(der));
  }

  private AgentException corrupt(String what, Exception e) {
    return new AgentException(
        AgentException.Code.STATE_CORRUPT,
        what
            + " in "
            + dir
            + " is unreadable ("
            + e.getMessage()
            + "); restore it or wipe the state directory and enroll again",
        e);
  }

  /**
   * The device id this state was enrolled as, read without the device key (for tools that run while
   * the agent is stopped); empty before enrollment.
   *
   * @throws AgentException if {@code identity.json} is unreadable
   */
  public Optional<String> deviceId() {
    Path idFile = dir.resolve("identity.json");
    if (!Files.exists(idFile)) {
      return Optional.empty();
    }
    try {
      return Optional.ofNullable(
          JsonCodec.read(Files.readString(idFile), IdentityFile.class).deviceId());
    } catch (IOException | RuntimeException e) {
      throw corrupt("identity.json", e);
    }
  }

  public Optional<Identity> load() {
    Path idFile = dir.resolve("identity.json");
    if (!Files.exists(idFile)) {
      return Optional.empty();
    }
    try {
      IdentityFile f = JsonCodec.read(Files.readString(idFile), IdentityFile.class);
      X509Certificate cert = Pem.certificateOf(Files.readString(dir.resolve("device.crt")));
      X509Certificate ca = Pem.certificateOf(Files.readString(dir.resolve("ca.crt")));
      if (!Fingerprints.of(ca).equals(f.caFingerprint())) {
        throw new IllegalStateException("ca.crt does not match the stored fingerprint");
      }
      // A renewal interrupted after the certificate was written: its key becomes the device key.
      promote(cert);
      KeyPair key = key();
      if (!Arrays.equals(key.getPublic().getEncoded(), cert.getPublicKey().getEncoded())) {
        throw new IllegalStateException("device.crt is not for the device key");
      }
      return Optional.of(
          new Identity(f.deviceId(), f.controllerUrl(), f.caFingerprint(), key, cert, ca));
    } catch (AgentException e) {
      throw e;
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

  /** The file in the state directory with the agent release keys the controller handed out. */
  public static final String RELEASE_KEYS = "release-keys.json";

  /**
   * Keeps the agent release public keys of an enrollment answer ({@value #RELEASE_KEYS}): the
   * releases this device will install must be signed by one of them (or by a key its owner placed
   * in the configuration's {@code release-keys} directory). Keys that are no Ed25519 public key or
   * whose id does not match are dropped.
   */
  public void saveReleaseKeys(java.util.List<io.edgefleet.protocol.DesiredState.SigningKey> keys) {
    java.util.List<io.edgefleet.protocol.DesiredState.SigningKey> usable =
        new java.util.ArrayList<>();
    for (io.edgefleet.protocol.DesiredState.SigningKey k : keys) {
      try {
        java.security.PublicKey pub = Signatures.publicKey(k.publicKeyPem());
        if (Signatures.keyId(pub).equals(k.id())) {
          usable.add(k);
        }
      } catch (IllegalArgumentException | NullPointerException e) {
        // Not a key: nothing can be verified with it.
      }
    }
    SecureFiles.writeSecret(dir.resolve(RELEASE_KEYS), JsonCodec.pretty(usable) + "\n");
  }

  /**
   * Replaces the set of trusted signing keys, atomically. The single key an older agent kept in
   * {@code signing.pub} is superseded and removed: were this agent replaced by an older one, that
   * one would ask the controller for its key rather than trust a key that may be retired.
   */
  public void saveTrustedKeys(TrustedKeys keys) {
    SecureFiles.writeSecret(
        dir.resolve("signing-keys.json"), JsonCodec.pretty(new TrustFile(keys.announced())) + "\n");
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
        TrustFile f = JsonCodec.read(Files.readString(file), TrustFile.class);
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
        JsonCodec.pretty(new IdentityFile(id.deviceId(), id.controllerUrl(), id.caFingerprint()))
            + "\n");
  }
}
