package io.edgefleet.protocol.tls;

import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

/** Builds client {@link SSLContext}s: pinned server trust, optionally a client certificate. */
public final class TlsContexts {
  private static final char[] EPHEMERAL = "edgefleet".toCharArray();

  private TlsContexts() {}

  /** A client context that trusts only the pinned CA and presents no certificate. */
  public static SSLContext pinned(PinnedCaTrustManager trust) {
    return build(null, trust);
  }

  /**
   * A client context for mutual TLS: the given key and chain, trusting only the pinned CA. A key
   * without an encoding (held by a TPM) is presented as it is; its signatures are made by the JCA
   * provider that accepts it.
   */
  public static SSLContext mutual(
      PrivateKey key, X509Certificate[] chain, PinnedCaTrustManager trust) {
    if (key.getEncoded() == null) {
      return build(new KeyManager[] {new FixedKeyManager(key, chain)}, trust);
    }
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("device", key, EPHEMERAL, chain);
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, EPHEMERAL);
      return build(kmf.getKeyManagers(), trust);
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new IllegalStateException("cannot build the client TLS context", e);
    }
  }

  private static SSLContext build(KeyManager[] keyManagers, PinnedCaTrustManager trust) {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(keyManagers, new TrustManager[] {trust}, new SecureRandom());
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot build the client TLS context", e);
    }
  }
}
