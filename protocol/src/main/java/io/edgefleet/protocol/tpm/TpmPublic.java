package io.edgefleet.protocol.tpm;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.Arrays;

/**
 * A TPMT_PUBLIC for the two key types used here, RSA and ECC: the template a key is created from
 * and the public area the TPM answers with. {@link #marshal} and {@link #parse} are exact inverses,
 * so {@link #name} computed from a parsed area matches the name the TPM computes.
 *
 * @param type {@link TpmAlg#RSA} or {@link TpmAlg#ECC}
 * @param nameAlg hash of the name, {@link TpmAlg#SHA256}
 * @param attributes TPMA_OBJECT bits
 * @param authPolicy policy digest; empty for none
 * @param symmetric symmetric algorithm of a storage key ({@link TpmAlg#AES}) or {@link TpmAlg#NULL}
 * @param symmetricBits its key size (ignored when NULL)
 * @param symmetricMode its mode, {@link TpmAlg#CFB} (ignored when NULL)
 * @param scheme signing or encryption scheme, or {@link TpmAlg#NULL}
 * @param schemeHash the scheme's hash (ignored when NULL)
 * @param keyBitsOrCurve RSA modulus size in bits, or the ECC curve id
 * @param exponent RSA public exponent, 0 for the default 65537; 0 for ECC
 * @param kdf ECC key derivation scheme, {@link TpmAlg#NULL}; NULL for RSA
 * @param unique RSA modulus, or the ECC point's x (empty in a template)
 * @param uniqueY the ECC point's y (empty in a template); empty for RSA
 */
public record TpmPublic(
    int type,
    int nameAlg,
    int attributes,
    byte[] authPolicy,
    int symmetric,
    int symmetricBits,
    int symmetricMode,
    int scheme,
    int schemeHash,
    int keyBitsOrCurve,
    long exponent,
    int kdf,
    byte[] unique,
    byte[] uniqueY) {

  /** The policy digest of PolicySecret(TPM_RH_ENDORSEMENT): the auth policy of a standard EK. */
  public static final byte[] EK_POLICY =
      java.util.HexFormat.of()
          .parseHex("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");

  public TpmPublic {
    if (type != TpmAlg.RSA && type != TpmAlg.ECC) {
      throw new TpmFormatException("unsupported key type 0x" + Integer.toHexString(type));
    }
    authPolicy = authPolicy == null ? new byte[0] : authPolicy.clone();
    unique = unique == null ? new byte[0] : unique.clone();
    uniqueY = uniqueY == null ? new byte[0] : uniqueY.clone();
  }

  /**
   * The RSA 2048 endorsement key template of the TCG EK Credential Profile (template L-1), with
   * which a TPM recreates the EK its EK certificate was issued for.
   */
  public static TpmPublic rsaEkTemplate() {
    return new TpmPublic(
        TpmAlg.RSA,
        TpmAlg.SHA256,
        TpmAlg.FIXED_TPM
            | TpmAlg.FIXED_PARENT
            | TpmAlg.SENSITIVE_DATA_ORIGIN
            | TpmAlg.ADMIN_WITH_POLICY
            | TpmAlg.RESTRICTED
            | TpmAlg.DECRYPT,
        EK_POLICY,
        TpmAlg.AES,
        128,
        TpmAlg.CFB,
        TpmAlg.NULL,
        0,
        2048,
        0,
        TpmAlg.NULL,
        new byte[256],
        new byte[0]);
  }

  /** Whether every bit of {@code bits} is set in the attributes. */
  public boolean has(int bits) {
    return (attributes & bits) == bits;
  }

  /** The TPMT_PUBLIC bytes. */
  public byte[] marshal() {
    TpmBuffer.Writer w = new TpmBuffer.Writer();
    w.u16(type).u16(nameAlg).u32(attributes & 0xffffffffL).sized(authPolicy);
    w.u16(symmetric);
    if (symmetric != TpmAlg.NULL) {
      w.u16(symmetricBits).u16(symmetricMode);
    }
    w.u16(scheme);
    if (scheme != TpmAlg.NULL) {
      w.u16(schemeHash);
    }
    if (type == TpmAlg.RSA) {
      w.u16(keyBitsOrCurve).u32(exponent).sized(unique);
    } else {
      w.u16(keyBitsOrCurve).u16(kdf);
      if (kdf != TpmAlg.NULL) {
        w.u16(TpmAlg.SHA256);
      }
      w.sized(unique).sized(uniqueY);
    }
    return w.toBytes();
  }

  /** The TPM2B_PUBLIC bytes: the size, then {@link #marshal}. */
  public byte[] marshalSized() {
    return new TpmBuffer.Writer().sized(marshal()).toBytes();
  }

  /** Parses exactly one TPMT_PUBLIC. */
  public static TpmPublic parse(byte[] tpmtPublic) {
    TpmBuffer.Reader r = new TpmBuffer.Reader(tpmtPublic);
    TpmPublic p = read(r);
    r.end("TPMT_PUBLIC");
    return p;
  }

  /** Parses a TPM2B_PUBLIC (size, then TPMT_PUBLIC). */
  public static TpmPublic parseSized(byte[] tpm2bPublic) {
    TpmBuffer.Reader r = new TpmBuffer.Reader(tpm2bPublic);
    byte[] inner = r.sized();
    r.end("TPM2B_PUBLIC");
    return parse(inner);
  }

  /** Reads one TPMT_PUBLIC at the reader's position. */
  public static TpmPublic read(TpmBuffer.Reader r) {
    int type = r.u16();
    int nameAlg = r.u16();
    int attributes = (int) r.u32();
    byte[] policy = r.sized();
    int sym = r.u16();
    int symBits = 0;
    int symMode = 0;
    if (sym != TpmAlg.NULL) {
      symBits = r.u16();
      symMode = r.u16();
    }
    int scheme = r.u16();
    int schemeHash = 0;
    if (scheme != TpmAlg.NULL) {
      schemeHash = r.u16();
      if (scheme == TpmAlg.ECDAA) {
        throw new TpmFormatException("ECDAA keys are not supported");
      }
    }
    if (type == TpmAlg.RSA) {
      int bits = r.u16();
      long exponent = r.u32();
      byte[] modulus = r.sized();
      return new TpmPublic(
          type,
          nameAlg,
          attributes,
          policy,
          sym,
          symBits,
          symMode,
          scheme,
          schemeHash,
          bits,
          exponent,
          TpmAlg.NULL,
          modulus,
          new byte[0]);
    }
    if (type == TpmAlg.ECC) {
      int curve = r.u16();
      int kdf = r.u16();
      if (kdf != TpmAlg.NULL) {
        r.u16();
      }
      byte[] x = r.sized();
      byte[] y = r.sized();
      return new TpmPublic(
          type,
          nameAlg,
          attributes,
          policy,
          sym,
          symBits,
          symMode,
          scheme,
          schemeHash,
          curve,
          0,
          kdf,
          x,
          y);
    }
    throw new TpmFormatException("unsupported key type 0x" + Integer.toHexString(type));
  }

  /** The TPM name: nameAlg, then the nameAlg digest of the TPMT_PUBLIC. */
  public byte[] name() {
    try {
      byte[] digest = MessageDigest.getInstance(TpmAlg.javaDigest(nameAlg)).digest(marshal());
      return new TpmBuffer.Writer().u16(nameAlg).bytes(digest).toBytes();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The Java public key: RSA, or EC on P-256 / P-384. */
  public PublicKey toPublicKey() {
    try {
      if (type == TpmAlg.RSA) {
        BigInteger e = BigInteger.valueOf(exponent == 0 ? 65537 : exponent);
        return KeyFactory.getInstance("RSA")
            .generatePublic(new RSAPublicKeySpec(new BigInteger(1, unique), e));
      }
      String curve =
          switch (keyBitsOrCurve) {
            case TpmAlg.ECC_NIST_P256 -> "secp256r1";
            case TpmAlg.ECC_NIST_P384 -> "secp384r1";
            default ->
                throw new TpmFormatException(
                    "unsupported ECC curve 0x" + Integer.toHexString(keyBitsOrCurve));
          };
      AlgorithmParameters params = AlgorithmParameters.getInstance("EC");
      params.init(new ECGenParameterSpec(curve));
      ECParameterSpec spec = params.getParameterSpec(ECParameterSpec.class);
      ECPoint point = new ECPoint(new BigInteger(1, unique), new BigInteger(1, uniqueY));
      return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(point, spec));
    } catch (GeneralSecurityException e) {
      throw new TpmFormatException("not a usable public key: " + e.getMessage());
    }
  }

  /** Whether this area holds {@code key} (same modulus, or same EC point). */
  public boolean holds(PublicKey key) {
    if (key instanceof RSAPublicKey rsa && type == TpmAlg.RSA) {
      return new BigInteger(1, unique).equals(rsa.getModulus());
    }
    if (key instanceof ECPublicKey ec && type == TpmAlg.ECC) {
      return new BigInteger(1, unique).equals(ec.getW().getAffineX())
          && new BigInteger(1, uniqueY).equals(ec.getW().getAffineY());
    }
    return false;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TpmPublic p && Arrays.equals(marshal(), p.marshal());
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(marshal());
  }

  @Override
  public String toString() {
    return "TpmPublic[type=0x"
        + Integer.toHexString(type)
        + ", attributes=0x"
        + Integer.toHexString(attributes)
        + "]";
  }
}
