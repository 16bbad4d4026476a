package io.edgefleet.agent.runtime.kubernetes;

import io.edgefleet.protocol.tls.Pem;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS access to the parts of a K3s node outside the workload runtime: the API server through a
 * kubeconfig K3s wrote, and the embedded etcd through its client certificate files.
 */
public final class TlsAccess {
  private static final char[] EPHEMERAL = "edgefleet".toCharArray();

  private TlsAccess() {}

  /**
   * An API server as a kubeconfig reaches it.
   *
   * @param server its base URL
   * @param ssl its CA and the client key
   * @param token a bearer token, if the kubeconfig holds one
   */
  public record Api(URI server, SSLContext ssl, Optional<String> token) {}

  /**
   * Reads a kubeconfig.
   *
   * @throws IllegalArgumentException with a message for a person if it is missing or unusable
   */
  public static Api kubeconfig(Path file) {
    Kubeconfig k = Kubeconfig.load(file);
    return new Api(k.server(), k.sslContext(), k.token());
  }

  /**
   * Mutual TLS from PEM files: trusting {@code ca} only, presenting {@code cert} with {@code key}
   * (PKCS#8, PKCS#1 or SEC1).
   *
   * @throws IOException if a file cannot be read or holds no usable PEM
   */
  public static SSLContext mutual(Path ca, Path cert, Path key) throws IOException {
    try {
      List<X509Certificate> cas = Pem.certificates(read(ca));
      List<X509Certificate> chain = Pem.certificates(read(cert));
      if (cas.isEmpty() || chain.isEmpty()) {
        throw new IOException("no certificate in " + (cas.isEmpty() ? ca : cert));
      }
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry(
          "client",
          Kubeconfig.privateKey(read(key)),
          EPHEMERAL,
          chain.toArray(X509Certificate[]::new));
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, EPHEMERAL);
      KeyStore ts = KeyStore.getInstance("PKCS12");
      ts.load(null, null);
      for (int i = 0; i < cas.size(); i++) {
        ts.setCertificateEntry("ca-" + i, cas.get(i));
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ts);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
      return ctx;
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IOException("cannot use the certificates " + cert + " and " + key + ": " + e, e);
    }
  }

  private static String read(Path p) throws IOException {
    return Files.readString(p, StandardCharsets.US_ASCII);
  }
}
