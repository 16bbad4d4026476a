package io.edgefleet.protocol.tpm;

/** TPM 2.0 algorithm ids, curve ids and object attribute bits this project uses. */
public final class TpmAlg {
  public static final int RSA = 0x0001;
  public static final int SHA1 = 0x0004;
  public static final int HMAC = 0x0005;
  public static final int AES = 0x0006;
  public static final int KEYEDHASH = 0x0008;
  public static final int SHA256 = 0x000B;
  public static final int SHA384 = 0x000C;
  public static final int SHA512 = 0x000D;
  public static final int NULL = 0x0010;
  public static final int RSASSA = 0x0014;
  public static final int RSAES = 0x0015;
  public static final int RSAPSS = 0x0016;
  public static final int OAEP = 0x0017;
  public static final int ECDSA = 0x0018;
  public static final int ECDH = 0x0019;
  public static final int ECDAA = 0x001A;
  public static final int ECC = 0x0023;
  public static final int CFB = 0x0043;

  public static final int ECC_NIST_P256 = 0x0003;
  public static final int ECC_NIST_P384 = 0x0004;

  // TPMA_OBJECT bits.
  public static final int FIXED_TPM = 1 << 1;
  public static final int ST_CLEAR = 1 << 2;
  public static final int FIXED_PARENT = 1 << 4;
  public static final int SENSITIVE_DATA_ORIGIN = 1 << 5;
  public static final int USER_WITH_AUTH = 1 << 6;
  public static final int ADMIN_WITH_POLICY = 1 << 7;
  public static final int NO_DA = 1 << 10;
  public static final int RESTRICTED = 1 << 16;
  public static final int DECRYPT = 1 << 17;
  public static final int SIGN_ENCRYPT = 1 << 18;

  /** Size in bytes of a digest of {@code hashAlg}. */
  public static int digestSize(int hashAlg) {
    return switch (hashAlg) {
      case SHA1 -> 20;
      case SHA256 -> 32;
      case SHA384 -> 48;
      case SHA512 -> 64;
      default -> throw new TpmFormatException("unsupported hash algorithm 0x" + hex(hashAlg));
    };
  }

  /** The Java name of {@code hashAlg}: {@code SHA-256}. */
  public static String javaDigest(int hashAlg) {
    return switch (hashAlg) {
      case SHA1 -> "SHA-1";
      case SHA256 -> "SHA-256";
      case SHA384 -> "SHA-384";
      case SHA512 -> "SHA-512";
      default -> throw new TpmFormatException("unsupported hash algorithm 0x" + hex(hashAlg));
    };
  }

  static String hex(int v) {
    return Integer.toHexString(v);
  }

  private TpmAlg() {}
}
