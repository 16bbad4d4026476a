package io.edgefleet.device.tpm;

import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tpm.TpmBuffer;
import io.edgefleet.protocol.tpm.TpmFormatException;
import io.edgefleet.protocol.tpm.TpmPublic;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The device's keys in its TPM and what it does with them: the endorsement key (persistent at
 * {@link Tpm#EK_PERSISTENT}, else recreated from the TCG template) and its certificate, the
 * attestation key (a primary in the endorsement hierarchy), device keys (primaries in the owner
 * hierarchy, one per salt), credential activation, certify, quote, sign and ECDH.
 *
 * <p>Primaries are recreated for each operation and flushed right after it, so at most three
 * transient objects are loaded at any time and none is left behind: a TPM without a resource
 * manager (swtpm, {@code /dev/tpm0}) holds only a few. Thread-safe: one operation at a time.
 */
public final class TpmDevice implements AutoCloseable {
  /** Most PCRs a quote covers: all 24 of the SHA-256 bank. */
  public static final int MAX_PCRS = 24;

  private static final int MAX_EK_CERT = 4096;

  private final Tpm tpm;

  public TpmDevice(Tpm tpm) {
    this.tpm = tpm;
  }

  /** Opens the TPM at {@code spec} (see {@link TpmTransport#open}). */
  public static TpmDevice open(String spec) throws java.io.IOException {
    return new TpmDevice(Tpm.open(spec));
  }

  public Tpm tpm() {
    return tpm;
  }

  /** Where the TPM is. */
  public String endpoint() {
    return tpm.transport().endpoint();
  }

  // ------------------------------------------------------------------ identity

  /** The EK's public area. */
  public synchronized TpmPublic ekPublic() {
    return withEk(ek -> ek.publicArea());
  }

  /** The RSA EK certificate from NV index {@link Tpm#EK_CERT_NV}. */
  public synchronized X509Certificate ekCertificate() {
    byte[] nv = tpm.nvRead(Tpm.EK_CERT_NV, MAX_EK_CERT);
    byte[] der = derPrefix(nv);
    try {
      return (X509Certificate)
          CertificateFactory.getInstance("X.509")
              .generateCertificate(new ByteArrayInputStream(der));
    } catch (CertificateException e) {
      throw new TpmException(
          "TPM2_NV_Read",
          -1,
          "NV index 0x01c00002 does not hold a readable EK certificate: " + e.getMessage(),
          e);
    }
  }

  /** The EK certificate as PEM. */
  public String ekCertificatePem() {
    return Pem.certificate(ekCertificate());
  }

  /** The attestation key's public area. */
  public synchronized TpmPublic akPublic() {
    return withPrimary(Tpm.RH_ENDORSEMENT, TpmTemplates.attestationKey(), Tpm.Loaded::publicArea);
  }

  /** The public area of the device key for {@code salt}. */
  public synchronized TpmPublic devicePublic(byte[] salt) {
    return withPrimary(Tpm.RH_OWNER, TpmTemplates.deviceKey(salt), Tpm.Loaded::publicArea);
  }

  /** Evidence that the device key for {@code salt} lives in this TPM: certified by the AK. */
  public synchronized TpmKeyProof certifyDeviceKey(byte[] salt) {
    return withPrimary(
        Tpm.RH_ENDORSEMENT,
        TpmTemplates.attestationKey(),
        ak ->
            withPrimary(
                Tpm.RH_OWNER,
                TpmTemplates.deviceKey(salt),
                key -> {
                  Tpm.Signed s = tpm.certify(key.handle(), ak.handle(), new byte[0]);
                  Base64.Encoder b64 = Base64.getEncoder();
                  return new TpmKeyProof(
                      b64.encodeToString(key.publicArea().marshal()),
                      b64.encodeToString(s.attest()),
                      b64.encodeToString(s.signature()));
                }));
  }

  /**
   * Unwraps the controller's credential: TPM2_ActivateCredential with the AK (password) and the EK
   * (policy session with PolicySecret of the endorsement hierarchy).
   *
   * @throws TpmException if the credential is not for this TPM's EK and AK ({@code
   *     TPM_RC_INTEGRITY}, ...)
   * @throws IllegalArgumentException if the challenge is malformed
   */
  public synchronized byte[] activateCredential(TpmChallenge challenge) {
    byte[] blob = sized(challenge.credentialBlob(), "credentialBlob");
    byte[] secret = sized(challenge.encryptedSecret(), "encryptedSecret");
    return withPrimary(
        Tpm.RH_ENDORSEMENT,
        TpmTemplates.attestationKey(),
        ak ->
            withEk(
                ek -> {
                  int session = tpm.startPolicySession();
                  try {
                    tpm.policySecret(Tpm.RH_ENDORSEMENT, session);
                    return tpm.activateCredential(ak.handle(), ek.handle(), session, blob, secret);
                  } finally {
                    tpm.flushQuietly(session);
                  }
                }));
  }

  /**
   * A quote of the SHA-256 {@code pcrs} over {@code nonce} by the AK, with the PCR values read
   * right after it and {@code eventLog} (may be null).
   */
  public synchronized TpmQuote quote(byte[] nonce, List<Integer> pcrs, byte[] eventLog) {
    if (nonce.length > 64) {
      throw new IllegalArgumentException("a quote nonce has at most 64 bytes, not " + nonce.length);
    }
    if (pcrs.isEmpty() || pcrs.size() > MAX_PCRS) {
      throw new IllegalArgumentException("a quote covers 1 to 24 PCRs, not " + pcrs.size());
    }
    Tpm.Signed s =
        withPrimary(
            Tpm.RH_ENDORSEMENT,
            TpmTemplates.attestationKey(),
            ak -> tpm.quote(ak.handle(), nonce, pcrs));
    Map<Integer, String> values = new LinkedHashMap<>();
    tpm.pcrRead(pcrs).forEach((i, v) -> values.put(i, HexFormat.of().formatHex(v)));
    Base64.Encoder b64 = Base64.getEncoder();
    return new TpmQuote(
        b64.encodeToString(s.attest()),
        b64.encodeToString(s.signature()),
        values,
        eventLog == null ? null : b64.encodeToString(eventLog));
  }

  /** The SHA-256 PCR values of {@code pcrs}. */
  public synchronized Map<Integer, byte[]> pcrs(List<Integer> pcrs) {
    return tpm.pcrRead(pcrs);
  }

  // ------------------------------------------------------------------ device key in use

  /** ECDSA over the SHA-256 {@code digest} with the device key for {@code salt}; DER for JCA. */
  public synchronized byte[] sign(byte[] salt, byte[] digest) {
    return withPrimary(
        Tpm.RH_OWNER,
        TpmTemplates.deviceKey(salt),
        key -> EcdsaSignatures.toDer(tpm.signEcdsaSha256(key.handle(), digest)));
  }

  /** ECDH of the device key for {@code salt} with {@code peer}: the shared x coordinate. */
  public synchronized byte[] agree(byte[] salt, ECPublicKey peer) {
    byte[] x = fixed(peer.getW().getAffineX());
    byte[] y = fixed(peer.getW().getAffineY());
    return withPrimary(
        Tpm.RH_OWNER,
        TpmTemplates.deviceKey(salt),
        key -> fixedLength(tpm.ecdhZGen(key.handle(), x, y)));
  }

  // ------------------------------------------------------------------ plumbing

  private <T> T withPrimary(
      int hierarchy, TpmPublic template, java.util.function.Function<Tpm.Loaded, T> use) {
    Tpm.Loaded key = tpm.createPrimary(hierarchy, template);
    try {
      return use.apply(key);
    } finally {
      tpm.flushQuietly(key.handle());
    }
  }

  /** Runs {@code use} with the persistent EK, or one recreated from the template and flushed. */
  private <T> T withEk(java.util.function.Function<Tpm.Loaded, T> use) {
    Tpm.Loaded persistent;
    try {
      persistent = tpm.readPublic(Tpm.EK_PERSISTENT);
    } catch (TpmException e) {
      if (!"TPM_RC_HANDLE".equals(e.responseName())) {
        throw e;
      }
      return withPrimary(Tpm.RH_ENDORSEMENT, TpmPublic.rsaEkTemplate(), use);
    }
    return use.apply(persistent);
  }

  private static byte[] sized(String base64, String field) {
    byte[] b;
    try {
      b = Base64.getDecoder().decode(base64 == null ? "" : base64);
      TpmBuffer.Reader r = new TpmBuffer.Reader(b);
      r.sized();
      r.end(field);
    } catch (IllegalArgumentException | TpmFormatException e) {
      throw new IllegalArgumentException(
          "the challenge's " + field + " is not a base64 TPM2B: " + e.getMessage(), e);
    }
    return b;
  }

  /** The DER certificate at the start of {@code nv} (NV indexes may be padded). */
  private static byte[] derPrefix(byte[] nv) {
    if (nv.length < 4 || (nv[0] & 0xff) != 0x30) {
      throw new TpmException("TPM2_NV_Read", -1, "the EK certificate index holds no DER", null);
    }
    int len = nv[1] & 0xff;
    int header = 2;
    if (len >= 0x80) {
      int n = len & 0x7f;
      len = 0;
      for (int i = 0; i < n; i++) {
        len = (len << 8) | (nv[2 + i] & 0xff);
      }
      header = 2 + n;
    }
    return java.util.Arrays.copyOf(nv, Math.min(nv.length, header + len));
  }

  private static byte[] fixed(BigInteger v) {
    return fixedLength(v.toByteArray());
  }

  private static byte[] fixedLength(byte[] v) {
    byte[] out = new byte[32];
    int n = Math.min(v.length, 32);
    System.arraycopy(v, v.length - n, out, 32 - n, n);
    return out;
  }

  /** SHA-256 of {@code data}. */
  public static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    tpm.close();
  }
}
