package io.edgefleet.agent.artifacts;

import io.edgefleet.agent.IdentityStore;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.Supplier;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * TLS between the devices of a site: each side presents its own device certificate (issued by the
 * fleet CA for the client role) and accepts only a device certificate of the same CA; a neighbour
 * also accepts only the certificate of the device its desired state names as the cache ({@code
 * CN=<device id>}), and the cache only those of the neighbours its desired state names. Host names
 * are not checked: a site's addresses are LAN addresses no certificate names, and the device id is
 * the identity that matters.
 *
 * <p>The identity is read at each handshake, so a renewed certificate is used from the next
 * connection on.
 */
final class SiteTls {
  private static final String ALIAS = "device";

  private SiteTls() {}

  /**
   * The cache's server context: its device certificate; a device certificate required of peers, of
   * a device {@code admitted} accepts (asked at each handshake).
   */
  static SSLContext server(
      Supplier<Optional<IdentityStore.Identity>> identity, Predicate<String> admitted) {
    return build(identity, Optional.empty(), admitted);
  }

  /** A neighbour's client context: its device certificate; the peer must be {@code cacheId}. */
  static SSLContext client(Supplier<Optional<IdentityStore.Identity>> identity, String cacheId) {
    return build(identity, Optional.of(cacheId), id -> true);
  }

  private static SSLContext build(
      Supplier<Optional<IdentityStore.Identity>> identity,
      Optional<String> peer,
      Predicate<String> admitted) {
    try {
      SSLContext ctx = SSLContext.getInstance("TLSv1.3");
      ctx.init(
          new KeyManager[] {new Keys(identity)},
          new TrustManager[] {new Peers(identity, peer, admitted)},
          new SecureRandom());
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot build the site cache's TLS context", e);
    }
  }

  /** The {@code CN} of a certificate's subject, if it has one. */
  static Optional<String> commonName(X509Certificate cert) {
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          return Optional.of(String.valueOf(rdn.getValue()));
        }
      }
    } catch (InvalidNameException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }

  /** Presents the device key and certificate in both roles (a TPM key has no encoding). */
  private static final class Keys extends X509ExtendedKeyManager {
    private final Supplier<Optional<IdentityStore.Identity>> identity;

    Keys(Supplier<Optional<IdentityStore.Identity>> identity) {
      this.identity = identity;
    }

    private String alias(String keyType) {
      return identity
          .get()
          .filter(i -> keyType == null || keyType.equals(i.key().getPrivate().getAlgorithm()))
          .map(i -> ALIAS)
          .orElse(null);
    }

    private String alias(String[] keyTypes) {
      if (keyTypes == null) {
        return alias((String) null);
      }
      for (String t : keyTypes) {
        String a = alias(t);
        if (a != null) {
          return a;
        }
      }
      return null;
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
      String a = alias(keyType);
      return a == null ? null : new String[] {a};
    }

    @Override
    public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
      return alias(keyTypes);
    }

    @Override
    public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine e) {
      return alias(keyTypes);
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
      return getClientAliases(keyType, issuers);
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
      return alias(keyType);
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine e) {
      return alias(keyType);
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
      return identity
          .get()
          .filter(i -> ALIAS.equals(alias))
          .map(i -> new X509Certificate[] {i.certificate(), i.ca()})
          .orElse(null);
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
      return identity
          .get()
          .filter(i -> ALIAS.equals(alias))
          .map(i -> i.key().getPrivate())
          .orElse(null);
    }
  }

  /**
   * Accepts a device certificate of the fleet CA (the PKIX checks of a TLS client certificate:
   * chain, validity, key usage, {@code clientAuth}), in both roles; as a client, only {@code
   * peer}'s; as a server, only an admitted device's.
   */
  private static final class Peers extends X509ExtendedTrustManager {
    private final Supplier<Optional<IdentityStore.Identity>> identity;
    private final Optional<String> peer;
    private final Predicate<String> admitted;

    Peers(
        Supplier<Optional<IdentityStore.Identity>> identity,
        Optional<String> peer,
        Predicate<String> admitted) {
      this.identity = identity;
      this.peer = peer;
      this.admitted = admitted;
    }

    private void neighbour(X509Certificate[] chain) throws CertificateException {
      device(chain);
      String got = commonName(chain[0]).orElse("");
      if (!admitted.test(got)) {
        throw new CertificateException(
            "device "
                + got
                + " is not served by this site cache: it is not of this site, or it is revoked or"
                + " quarantined");
      }
    }

    private void device(X509Certificate[] chain) throws CertificateException {
      if (chain == null || chain.length == 0) {
        throw new CertificateException("the peer presented no certificate");
      }
      IdentityStore.Identity me =
          identity
              .get()
              .orElseThrow(() -> new CertificateException("this device is not enrolled yet"));
      pkix(me.ca()).checkClientTrusted(chain, "UNKNOWN");
    }

    private static X509ExtendedTrustManager pkix(X509Certificate ca) throws CertificateException {
      try {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("fleet-ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        for (TrustManager tm : tmf.getTrustManagers()) {
          if (tm instanceof X509ExtendedTrustManager x) {
            return x;
          }
        }
        throw new CertificateException("no PKIX trust manager available");
      } catch (GeneralSecurityException | java.io.IOException e) {
        throw new CertificateException("cannot trust the fleet CA: " + e.getMessage(), e);
      }
    }

    private void server(X509Certificate[] chain) throws CertificateException {
      device(chain);
      String want = peer.orElseThrow(() -> new CertificateException("not a client context"));
      String got = commonName(chain[0]).orElse("");
      if (!want.equals(got)) {
        throw new CertificateException(
            "the site cache presented the certificate of device "
                + got
                + ", the desired state names "
                + want);
      }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      neighbour(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      neighbour(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      neighbour(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      server(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      server(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      server(chain);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return identity.get().map(i -> new X509Certificate[] {i.ca()}).orElse(new X509Certificate[0]);
    }
  }
}
