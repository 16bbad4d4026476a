package io.edgefleet.protocol.tpm;

import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tls.Pem;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A software stand-in for a TPM 2.0, for the simulator and tests: an RSA 2048 endorsement key with
 * a certificate from a software {@link SoftEkCa}, a restricted ECC P-256 attestation key, and the
 * commands enrollment and attestation use (ActivateCredential, Certify, Quote, PCR_Extend)
 * producing the same structures a TPM does, so {@link QuoteVerifier}, {@link KeyProofs} and {@link
 * Credentials} check them unchanged. It offers none of a TPM's protection: the keys are in memory.
 * Thread-safe.
 */
public final class SoftTpm {
  /** TPM_RH_ENDORSEMENT: the hierarchy of the EK and the AK. */
  private static final int RH_ENDORSEMENT = 0x4000000B;

  /** TPM_RH_OWNER: the hierarchy of the device key. */
  private static final int RH_OWNER = 0x40000001;

  private static final long FIRMWARE_VERSION = 0x2023_0101_0000_0000L;

  /** Attributes of the attestation key: a restricted ECDSA signing key. */
  public static final int AK_ATTRIBUTES =
      TpmAlg.FIXED_TPM
          | TpmAlg.FIXED_PARENT
          | TpmAlg.SENSITIVE_DATA_ORIGIN
          | TpmAlg.USER_WITH_AUTH
          | TpmAlg.RESTRICTED
          | TpmAlg.SIGN_ENCRYPT;

  /**
   * Attributes of a device key: unrestricted sign and decrypt, generated in and bound to the TPM.
   */
  public static final int DEVICE_KEY_ATTRIBUTES =
      TpmAlg.FIXED_TPM
          | TpmAlg.FIXED_PARENT
          | TpmAlg.SENSITIVE_DATA_ORIGIN
          | TpmAlg.USER_WITH_AUTH
          | TpmAlg.SIGN_ENCRYPT
          | TpmAlg.DECRYPT;

  private final TpmPublic ekPublic;
  private final X509Certificate ekCertificate;
  private final KeyPair ak;
  private final TpmPublic akPublic;
  private final PrivateKey akPrivate;
  private final long started = System.nanoTime();
  private PrivateKey ekPrivate;
  private final byte[][] pcrs = new byte[24][];
  private byte[] log;

  private SoftTpm(KeyPair ek, X509Certificate ekCertificate, KeyPair ak, EventLog boot) {
    this.ekPublic = ek == null ? null : ekArea((RSAPublicKey) ek.getPublic());
    this.ekPrivate = ek == null ? null : ek.getPrivate();
    this.ekCertificate = ekCertificate;
    this.ak = ak;
    this.akPublic = eccArea((ECPublicKey) ak.getPublic(), AK_ATTRIBUTES, TpmAlg.ECDSA);
    this.akPrivate = ak.getPrivate();
    boot(boot);
  }

  /**
   * The TPM of an enrolled device as it restarts: only its attestation key {@code ak} (a P-256 key
   * pair, see {@link #attestationKey}), PCRs as {@code boot} measured them. It quotes and
   * certifies; it has no endorsement key, so it cannot activate credentials or enroll again.
   */
  public static SoftTpm restore(KeyPair ak, EventLog boot) {
    return new SoftTpm(null, null, ak, boot);
  }

  /** A TPM with a fresh EK certified by {@code ca} and a fresh AK, with empty PCRs and no log. */
  public static SoftTpm create(SoftEkCa ca) {
    return create(ca, newEk(), null);
  }

  /**
   * A TPM with the given EK key pair (RSA 2048) certified by {@code ca}, a fresh AK, and PCRs as
   * {@code boot} measured them (null: all zero and no event log).
   */
  public static SoftTpm create(SoftEkCa ca, KeyPair ek, EventLog boot) {
    return new SoftTpm(ek, ca.issue(ek.getPublic()), newAk(), boot);
  }

  /** A fresh RSA 2048 endorsement key pair (about 50 to 200 ms of CPU). */
  public static KeyPair newEk() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
      g.initialize(2048);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static KeyPair newAk() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The EK's public area: the TCG RSA 2048 template with the key's modulus. */
  public static TpmPublic ekArea(RSAPublicKey key) {
    TpmPublic t = TpmPublic.rsaEkTemplate();
    return new TpmPublic(
        t.type(),
        t.nameAlg(),
        t.attributes(),
        t.authPolicy(),
        t.symmetric(),
        t.symmetricBits(),
        t.symmetricMode(),
        t.scheme(),
        t.schemeHash(),
        t.keyBitsOrCurve(),
        t.exponent(),
        t.kdf(),
        TpmSignatures.unsigned(key.getModulus(), 256),
        new byte[0]);
  }

  /**
   * The public area of a P-256 key with the given attributes and scheme ({@code NULL} for none).
   */
  public static TpmPublic eccArea(ECPublicKey key, int attributes, int scheme) {
    return new TpmPublic(
        TpmAlg.ECC,
        TpmAlg.SHA256,
        attributes,
        new byte[0],
        TpmAlg.NULL,
        0,
        0,
        scheme,
        scheme == TpmAlg.NULL ? 0 : TpmAlg.SHA256,
        TpmAlg.ECC_NIST_P256,
        0,
        TpmAlg.NULL,
        TpmSignatures.unsigned(key.getW().getAffineX(), 32),
        TpmSignatures.unsigned(key.getW().getAffineY(), 32));
  }

  /** The EK's public area; null for a {@link #restore restored} TPM. */
  public TpmPublic ekPublic() {
    return ekPublic;
  }

  /** The EK certificate; null for a {@link #restore restored} TPM. */
  public X509Certificate ekCertificate() {
    return ekCertificate;
  }

  public TpmPublic akPublic() {
    return akPublic;
  }

  /**
   * The attestation key pair, to keep with a simulated device's identity and {@link #restore}
   * later. A real TPM never lets it out; this one is software.
   */
  public KeyPair attestationKey() {
    return ak;
  }

  /**
   * TPM2_ActivateCredential: the credential the controller wrapped for this EK and AK.
   *
   * @throws TpmFormatException when it was not made for this TPM's EK and AK, or is malformed
   * @throws IllegalStateException after {@link #forgetEndorsementKey}
   */
  public byte[] activate(byte[] credentialBlob, byte[] encryptedSecret) {
    PrivateKey ek;
    synchronized (this) {
      ek = ekPrivate;
    }
    if (ek == null) {
      throw new IllegalStateException("the endorsement key was forgotten after enrollment");
    }
    return Credentials.activate(ekPublic, ek, akPublic.name(), credentialBlob, encryptedSecret);
  }

  /**
   * Drops the EK's private key, which only credential activation at enrollment needs: a simulated
   * fleet then keeps a few hundred bytes per device instead of an RSA key.
   */
  public synchronized void forgetEndorsementKey() {
    ekPrivate = null;
  }

  /**
   * TPM2_Certify of a P-256 device key by the AK, as if the TPM had generated it: the proof a
   * controller checks with {@link KeyProofs#verify}.
   */
  public TpmKeyProof certify(ECPublicKey deviceKey) {
    TpmPublic area = eccArea(deviceKey, DEVICE_KEY_ATTRIBUTES, TpmAlg.NULL);
    Attest attest =
        new Attest(
            Attest.CERTIFY,
            qualifiedName(RH_ENDORSEMENT, akPublic),
            new byte[0],
            clock(),
            0,
            0,
            true,
            FIRMWARE_VERSION,
            List.of(),
            new byte[0],
            area.name(),
            qualifiedName(RH_OWNER, area),
            List.of());
    byte[] info = attest.marshal();
    Base64.Encoder b64 = Base64.getEncoder();
    return new TpmKeyProof(
        b64.encodeToString(area.marshal()),
        b64.encodeToString(info),
        b64.encodeToString(TpmSignatures.sign(akPrivate, info)));
  }

  /**
   * TPM2_Quote of the SHA-256 PCRs {@code pcrIndices} over {@code nonce}, with the values and the
   * event log, as a device sends it.
   */
  public TpmQuote quote(byte[] nonce, List<Integer> pcrIndices) {
    if (nonce.length > 64) {
      throw new IllegalArgumentException("a TPM takes at most 64 bytes of qualifying data");
    }
    List<Integer> selection = new ArrayList<>(new TreeSet<>(pcrIndices));
    Map<Integer, byte[]> values = new TreeMap<>();
    byte[] logBytes;
    synchronized (this) {
      for (int i : selection) {
        if (i < 0 || i >= pcrs.length) {
          throw new IllegalArgumentException("PCR " + i + " is outside 0..23");
        }
        values.put(i, pcrs[i]);
      }
      logBytes = log;
    }
    Attest attest =
        new Attest(
            Attest.QUOTE,
            qualifiedName(RH_ENDORSEMENT, akPublic),
            nonce,
            clock(),
            0,
            0,
            true,
            FIRMWARE_VERSION,
            selection,
            QuoteVerifier.digest(values),
            new byte[0],
            new byte[0],
            List.of());
    byte[] info = attest.marshal();
    Map<Integer, String> hex = new TreeMap<>();
    values.forEach((k, v) -> hex.put(k, HexFormat.of().formatHex(v)));
    Base64.Encoder b64 = Base64.getEncoder();
    return new TpmQuote(
        b64.encodeToString(info),
        b64.encodeToString(TpmSignatures.sign(akPrivate, info)),
        hex,
        logBytes == null ? null : b64.encodeToString(logBytes));
  }

  /** TPM2_PCR_Extend of the SHA-256 bank, without an event log entry. */
  public synchronized void extend(int pcr, byte[] sha256) {
    if (sha256.length != 32) {
      throw new IllegalArgumentException("a SHA-256 digest has 32 bytes");
    }
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(pcrs[pcr]);
      sha.update(sha256);
      pcrs[pcr] = sha.digest();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Measures {@code data}: extends its SHA-256 into {@code pcr} and records the event. */
  public synchronized void measure(int pcr, long type, byte[] data) {
    byte[] digest = EventLog.sha256(data);
    extend(pcr, digest);
    byte[] event = EventLog.Builder.encode(pcr, type, digest, data);
    byte[] base = log != null ? log : EventLog.builder().write();
    byte[] grown = Arrays.copyOf(base, base.length + event.length);
    System.arraycopy(event, 0, grown, base.length, event.length);
    log = grown;
  }

  /**
   * A reboot: PCRs reset and the boot measured as {@code boot} records (null: all zero and no event
   * log). The log's bytes are shared, not copied, until the next {@link #measure}.
   */
  public synchronized void boot(EventLog boot) {
    byte[] zero = new byte[32];
    Arrays.fill(pcrs, zero);
    log = null;
    if (boot != null) {
      log = boot.shared();
      if (boot.startupLocality() != 0) {
        byte[] pcr0 = new byte[32];
        pcr0[31] = (byte) boot.startupLocality();
        pcrs[0] = pcr0;
      }
      boot.sharedReplay().forEach((k, v) -> pcrs[k] = v);
    }
  }

  /** The SHA-256 value of PCR {@code index}. */
  public synchronized byte[] pcr(int index) {
    return pcrs[index].clone();
  }

  /** The event log as measured so far, if any. */
  public synchronized Optional<EventLog> eventLog() {
    return log == null ? Optional.empty() : Optional.of(EventLog.parse(log));
  }

  /**
   * The TPM part of a first enrollment request for the device key {@code deviceKey}: EK
   * certificate, EK and AK public areas, and the certify of the device key.
   */
  public TpmEnrollment enrollment(ECPublicKey deviceKey) {
    if (ekCertificate == null) {
      throw new IllegalStateException("a restored TPM has no endorsement key to enroll with");
    }
    Base64.Encoder b64 = Base64.getEncoder();
    return new TpmEnrollment(
        Pem.certificate(ekCertificate),
        List.of(),
        b64.encodeToString(ekPublic.marshal()),
        b64.encodeToString(akPublic.marshal()),
        certify(deviceKey),
        null,
        null);
  }

  /**
   * The repeated enrollment request answering the controller's {@code challenge}: the activated
   * credential and a quote over the challenge's nonce.
   *
   * @throws TpmFormatException when the credential was not made for this TPM
   */
  public TpmEnrollment activated(TpmEnrollment first, TpmChallenge challenge) {
    Base64.Decoder d = Base64.getDecoder();
    byte[] credential =
        activate(d.decode(challenge.credentialBlob()), d.decode(challenge.encryptedSecret()));
    TpmQuote quote = quote(d.decode(challenge.nonce()), challenge.pcrs());
    return new TpmEnrollment(
        first.ekCertificatePem(),
        first.ekChainPem(),
        first.ekPublic(),
        first.akPublic(),
        first.deviceKey(),
        Base64.getEncoder().encodeToString(credential),
        quote);
  }

  /**
   * The event log of a plausible UEFI boot with Secure Boot on (S-CRTM, firmware volumes,
   * configuration, the Secure Boot variables, shim, GRUB, a kernel and its command line): the same
   * events, so the same PCR values, on every call.
   */
  public static EventLog sampleBoot() {
    byte[] none = new byte[0];
    EventLog.Builder b =
        EventLog.builder()
            .startupLocality(0)
            .event(0, EventTypes.EV_S_CRTM_VERSION, "1.00\0".getBytes(StandardCharsets.UTF_16LE))
            .event(0, 0x80000008L, EventLog.sha256("firmware volume 0".getBytes()), new byte[16])
            .event(0, 0x80000008L, EventLog.sha256("firmware volume 1".getBytes()), new byte[16])
            .efiVariable(1, 0x80000001L, "BootOrder", new byte[] {1, 0})
            .efiVariable(1, EventTypes.EV_EFI_VARIABLE_BOOT, "Boot0001", new byte[64])
            .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "SecureBoot", new byte[] {1})
            .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "PK", new byte[64])
            .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "KEK", new byte[64])
            .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "db", new byte[64])
            .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "dbx", new byte[64]);
    for (int pcr = 0; pcr <= 7; pcr++) {
      b.separator(pcr);
    }
    b.text(4, EventTypes.EV_EFI_ACTION, "Calling EFI Application from Boot Option")
        .efiApplication(4, "\\EFI\\BOOT\\BOOTX64.EFI", EventLog.sha256("shim".getBytes()))
        .efiVariable(7, EventTypes.EV_EFI_VARIABLE_AUTHORITY, "db", new byte[32])
        .efiApplication(4, "\\EFI\\debian\\grubx64.efi", EventLog.sha256("grub".getBytes()))
        .text(8, EventTypes.EV_IPL, "grub_cmd: linux /boot/vmlinuz root=/dev/sda2 ro quiet")
        .event(
            9, EventTypes.EV_IPL, EventLog.sha256("vmlinuz".getBytes()), "/boot/vmlinuz".getBytes())
        .event(
            9,
            EventTypes.EV_IPL,
            EventLog.sha256("initrd".getBytes()),
            "/boot/initrd.img".getBytes())
        .text(8, EventTypes.EV_IPL, "kernel_cmdline: /boot/vmlinuz root=/dev/sda2 ro quiet")
        .event(4, EventTypes.EV_POST_CODE, none);
    return b.build();
  }

  private long clock() {
    return (System.nanoTime() - started) / 1_000_000;
  }

  /** The qualified name of a primary object of {@code hierarchy}: H(hierarchy handle || name). */
  static byte[] qualifiedName(int hierarchy, TpmPublic object) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(new TpmBuffer.Writer().u32(hierarchy & 0xffffffffL).toBytes());
      sha.update(object.name());
      return new TpmBuffer.Writer().u16(TpmAlg.SHA256).bytes(sha.digest()).toBytes();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
