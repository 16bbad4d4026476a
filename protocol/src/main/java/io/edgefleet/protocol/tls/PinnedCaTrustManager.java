package io.edgefleet.protocol.tls;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trusts a server only if its chain contains the CA whose SHA-256 fingerprint is pinned, and the
 * chain validates against that CA with the usual PKIX and host-name checks. This lets a device that
 * knows nothing but a fingerprint (from its bootstrap file) connect safely on first contact.
 * Thread-safe.
 */
public final class PinnedCaTrustManager extends X509ExtendedTrustManager {
  private final String pinnedFingerprint;
  private volatile X509ExtendedTrustManager delegate;
  private volatile X509Certificate pinnedCa;

  public PinnedCaTrustManager(String pinnedFingerprint) {
    this.pinnedFingerprint = pinnedFingerprint;
  }

  /** Starts with the CA already known (after enrollment); the fingerprint must still match. */
  public PinnedCaTrustManager(String pinnedFingerprint, X509Certificate knownCa) {
    this(pinnedFingerprint);
    if (!Fingerprints.of(knownCa).equals(pinnedFingerprint)) {
      throw new IllegalArgumentException(
          "stored CA certificate does not match the pinned fingerprint");
    }
    this.delegate = pkixFor(knownCa);
    this.pinnedCa = knownCa;
  }

  /** The pinned CA certificate, once a server has presented it. */
  public Optional<X509Certificate> pinnedCa() {
    return Optional.ofNullable(pinnedCa);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    delegateFor(chain).checkServerTrusted(chain, authType, engine);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    delegateFor(chain).checkServerTrusted(chain, authType, socket);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    delegateFor(chain).checkServerTrusted(chain, authType);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    throw new CertificateException("this trust manager only checks servers");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    throw new CertificateException("this trust manager only checks servers");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    throw new CertificateException("this trust manager only checks servers");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    X509Certificate ca = pinnedCa;
    return ca == null ? new X509Certificate[0] : new X509Certificate[] {ca};
  }

  private X509ExtendedTrustManager delegateFor(X509Certificate[] chain)
      throws CertificateException {
    X509ExtendedTrustManager current = delegate;
    if (current != null) {
      return current;
    }
    List<String> seen = new ArrayList<>();
    for (X509Certificate cert : chain) {
      String fp = Fingerprints.of(cert);
      if (fp.equals(pinnedFingerprint)) {
        X509ExtendedTrustManager pkix = pkixFor(cert);
        pinnedCa = cert;
        delegate = pkix;
        return pkix;
      }
      seen.add(fp);
    }
    throw new PinMismatchException(
        "controller CA fingerprint mismatch: the bootstrap pins "
            + pinnedFingerprint
            + " but the controller presented "
            + seen);
  }

  private static X509ExtendedTrustManager pkixFor(X509Certificate ca) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setCertificateEntry("edgefleet-ca", ca);
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509ExtendedTrustManager x) {
          return x;
        }
      }
      throw new IllegalStateException("no X509ExtendedTrustManager available");
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new IllegalStateException("cannot build trust store for the pinned CA", e);
    }
  }

  /** The server did not present the pinned CA: wrong controller or wrong bootstrap file. */
  public static final class PinMismatchException extends CertificateException {
    public PinMismatchException(String message) {
      super(message);
    }
  }
}
