package io.edgefleet.bench.tls;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import javax.crypto.KeyAgreement;

/**
 * The public-key operations a server does in a TLS 1.3 handshake with a device, timed one provider
 * at a time: an ECDSA P-256 signature (CertificateVerify), an ECDSA P-256 verification (the
 * device's CertificateVerify, and again the CA's signature on the device certificate), and an
 * X25519 key pair plus agreement (the key share). Keys are the provider's own, converted once.
 */
final class CryptoPieces {
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

  /** The operations; {@code ops} of each are timed together. */
  enum Piece {
    ECDSA_P256_SIGN,
    ECDSA_P256_VERIFY,
    X25519_KEYGEN_AND_AGREE
  }

  private final Provider provider;
  private final String xdh;
  private final PrivateKey ecPrivate;
  private final PublicKey ecPublic;
  private final PublicKey peerX25519;
  private final byte[] message = new byte[130]; // the size of a TLS 1.3 CertificateVerify input
  private final byte[] signature;
  private long sink;

  CryptoPieces(Provider provider) throws Exception {
    this.provider = provider;
    this.xdh = provider.getName().equals("SunEC") ? "X25519" : "XDH";
    KeyPairGenerator ec = KeyPairGenerator.getInstance("EC", "SunEC");
    ec.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair k = ec.generateKeyPair();
    KeyFactory f = KeyFactory.getInstance("EC", provider);
    ecPrivate = f.generatePrivate(new PKCS8EncodedKeySpec(k.getPrivate().getEncoded()));
    ecPublic = f.generatePublic(new X509EncodedKeySpec(k.getPublic().getEncoded()));
    KeyPairGenerator x = KeyPairGenerator.getInstance("X25519", "SunEC");
    peerX25519 =
        KeyFactory.getInstance(xdh, provider)
            .generatePublic(new X509EncodedKeySpec(x.generateKeyPair().getPublic().getEncoded()));
    Signature s = Signature.getInstance("SHA256withECDSA", provider);
    s.initSign(ecPrivate);
    s.update(message);
    signature = s.sign();
  }

  String provider() {
    return provider.getName();
  }

  /** Thread CPU nanoseconds per operation, over {@code ops} operations. */
  double nanosPerOp(Piece piece, int ops) throws Exception {
    long t0 = CPU.getCurrentThreadCpuTime();
    for (int i = 0; i < ops; i++) {
      sink += once(piece);
    }
    return (CPU.getCurrentThreadCpuTime() - t0) / (double) ops;
  }

  private int once(Piece piece) throws Exception {
    switch (piece) {
      case ECDSA_P256_SIGN -> {
        Signature s = Signature.getInstance("SHA256withECDSA", provider);
        s.initSign(ecPrivate);
        s.update(message);
        return s.sign().length;
      }
      case ECDSA_P256_VERIFY -> {
        Signature s = Signature.getInstance("SHA256withECDSA", provider);
        s.initVerify(ecPublic);
        s.update(message);
        if (!s.verify(signature)) {
          throw new IllegalStateException("signature did not verify");
        }
        return 1;
      }
      case X25519_KEYGEN_AND_AGREE -> {
        // SunEC names the curve in the algorithm; Conscrypt's XDH is X25519 only.
        KeyPairGenerator g = KeyPairGenerator.getInstance(xdh, provider);
        KeyPair mine = g.generateKeyPair();
        KeyAgreement a = KeyAgreement.getInstance(xdh, provider);
        a.init(mine.getPrivate());
        a.doPhase(peerX25519, true);
        return a.generateSecret().length;
      }
      default -> throw new IllegalArgumentException(piece.name());
    }
  }

  /** Keeps the JIT from dropping the work. */
  long sink() {
    return sink;
  }
}
