package io.edgefleet.controller.pki;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.Optional;
import org.conscrypt.Conscrypt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The provider of the PKI's ECDSA operations (CSR checks, certificate signatures): BoringSSL
 * through Conscrypt where its native library loads and a probe signature it makes verifies with the
 * JDK, else the JDK's own. ECDSA in the JDK costs several times BoringSSL's CPU and dominates an
 * enrollment's cost (see docs/benchmarks.md, "Enrollment"). {@code EDGEFLEET_CRYPTO=jdk} in the
 * environment keeps the JDK's.
 */
final class SignatureProvider {
  private static final Logger LOG = LoggerFactory.getLogger(SignatureProvider.class);
  private static final Optional<Provider> NATIVE = load(System.getenv("EDGEFLEET_CRYPTO"));

  private SignatureProvider() {}

  /** BoringSSL's provider when it is in use; empty: the JDK's. */
  static Optional<Provider> nativeProvider() {
    return NATIVE;
  }

  static Optional<Provider> load(String setting) {
    if ("jdk".equalsIgnoreCase(setting)) {
      LOG.info("ECDSA of the PKI: the JDK's (EDGEFLEET_CRYPTO=jdk)");
      return Optional.empty();
    }
    try {
      Provider p = Conscrypt.newProvider();
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair k = g.generateKeyPair();
      byte[] probe = "edgefleet".getBytes(StandardCharsets.US_ASCII);
      Signature s = Signature.getInstance("SHA256withECDSA", p);
      s.initSign(k.getPrivate());
      s.update(probe);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance("SHA256withECDSA");
      v.initVerify(k.getPublic());
      v.update(probe);
      if (!v.verify(sig)) {
        LOG.warn("ECDSA of the PKI: BoringSSL's probe signature did not verify; using the JDK's");
        return Optional.empty();
      }
      LOG.debug("ECDSA of the PKI: BoringSSL (Conscrypt {})", p.getVersionStr());
      return Optional.of(p);
    } catch (Throwable e) {
      // No native library for this platform, or native access refused: the JDK's still works.
      LOG.info("ECDSA of the PKI: the JDK's (BoringSSL unavailable: {})", e.toString());
      return Optional.empty();
    }
  }
}
