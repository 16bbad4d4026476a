package io.edgefleet.controller.pki;

import io.edgefleet.controller.common.Lru;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Date;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Remembers client certificate chains the controller's trust manager has accepted, so that a device
 * reconnecting with the same certificate (every device, after a controller restart or a network
 * outage) does not cost a second signature verification of its certificate. A remembered chain is
 * only accepted again with exactly the same bytes and the same authentication type, and while every
 * certificate in it is within its validity period. The TLS handshake still verifies that the device
 * holds the certificate's key (CertificateVerify); whether the device may connect at all is decided
 * afterwards from the database, as for every connection.
 *
 * <p>Bounded: past {@code capacity} chains the least recently seen is forgotten.
 */
public final class RememberingTrustManager extends X509ExtendedTrustManager {
  private record Key(String authType, long a, long b, long c, long d) {}

  private final X509ExtendedTrustManager delegate;
  private final Clock clock;
  private final Lru<Key, Boolean> accepted;

  public RememberingTrustManager(X509ExtendedTrustManager delegate, Clock clock, int capacity) {
    this.delegate = delegate;
    this.clock = clock;
    this.accepted = Lru.ofEntries(capacity);
  }

  /** Wraps every X.509 trust manager of {@code managers}; others are returned as they are. */
  public static TrustManager[] wrap(TrustManager[] managers, Clock clock, int capacity) {
    TrustManager[] out = managers.clone();
    for (int i = 0; i < out.length; i++) {
      if (out[i] instanceof X509ExtendedTrustManager x) {
        out[i] = new RememberingTrustManager(x, clock, capacity);
      }
    }
    return out;
  }

  /** Chains remembered now. */
  public int remembered() {
    return accepted.size();
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    Key key = key(chain, authType);
    if (!rememberedAndValid(key, chain)) {
      delegate.checkClientTrusted(chain, authType, engine);
      remember(key);
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    Key key = key(chain, authType);
    if (!rememberedAndValid(key, chain)) {
      delegate.checkClientTrusted(chain, authType, socket);
      remember(key);
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    Key key = key(chain, authType);
    if (!rememberedAndValid(key, chain)) {
      delegate.checkClientTrusted(chain, authType);
      remember(key);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    delegate.checkServerTrusted(chain, authType, engine);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    delegate.checkServerTrusted(chain, authType, socket);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    delegate.checkServerTrusted(chain, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return delegate.getAcceptedIssuers();
  }

  private boolean rememberedAndValid(Key key, X509Certificate[] chain) throws CertificateException {
    if (key == null || accepted.get(key).isEmpty()) {
      return false;
    }
    Date now = Date.from(clock.instant());
    for (X509Certificate c : chain) {
      c.checkValidity(now); // expired or not yet valid: refused, as the full check would
    }
    return true;
  }

  private void remember(Key key) {
    if (key != null) {
      accepted.put(key, true);
    }
  }

  /** SHA-256 over every certificate's DER (length-prefixed), or null for an empty chain. */
  private static Key key(X509Certificate[] chain, String authType) {
    if (chain == null || chain.length == 0 || authType == null) {
      return null;
    }
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (X509Certificate c : chain) {
        byte[] der = c.getEncoded();
        sha.update(ByteBuffer.allocate(4).putInt(der.length).array());
        sha.update(der);
      }
      ByteBuffer d = ByteBuffer.wrap(sha.digest());
      return new Key(authType, d.getLong(), d.getLong(), d.getLong(), d.getLong());
    } catch (CertificateEncodingException | NoSuchAlgorithmException e) {
      return null;
    }
  }
}
