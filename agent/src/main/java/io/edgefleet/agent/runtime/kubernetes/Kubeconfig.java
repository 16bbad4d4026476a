package io.edgefleet.agent.runtime.kubernetes;

import io.edgefleet.protocol.tls.Pem;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * The parts of a kubeconfig's current context that the runtime uses: server URL, CA, client
 * certificate and key (what K3s writes), or a bearer token; default namespace. Exec and
 * auth-provider plugins are not supported. Immutable; thread-safe.
 *
 * @param caCertificates trusted CAs; empty means the JDK's default trust store
 * @param insecure {@code insecure-skip-tls-verify}: trust any server certificate and name
 */
record Kubeconfig(
    URI server,
    List<X509Certificate> caCertificates,
    boolean insecure,
    Optional<ClientKey> clientKey,
    Optional<String> token,
    String namespace) {

  /** A client certificate chain and its private key. */
  record ClientKey(PrivateKey key, List<X509Certificate> chain) {}

  private static final char[] EPHEMERAL = "edgefleet".toCharArray();

  /** Without the credentials: safe to log. */
  @Override
  public String toString() {
    return "Kubeconfig[server="
        + server
        + ", namespace="
        + namespace
        + ", clientCertificate="
        + clientKey.isPresent()
        + ", token="
        + token.isPresent()
        + "]";
  }

  /**
   * Reads and checks a kubeconfig file.
   *
   * @throws IllegalArgumentException with a message for a person if the file is missing,
   *     unreadable, or not a usable kubeconfig
   */
  static Kubeconfig load(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(
          "kubeconfig " + file + " does not exist (is K3s installed and running on this node?)", e);
    } catch (AccessDeniedException e) {
      throw new IllegalArgumentException(
          "kubeconfig "
              + file
              + " is not readable by this user (K3s writes it for root only unless started with"
              + " --write-kubeconfig-mode)",
          e);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read kubeconfig " + file + ": " + e, e);
    }
    try {
      return parse(text, file.toAbsolutePath().getParent());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "kubeconfig " + file + " is not a usable kubeconfig: " + e.getMessage(), e);
    }
  }

  /** Parses kubeconfig text; relative file names are resolved against {@code dir}. */
  static Kubeconfig parse(String text, Path dir) {
    Object doc;
    try {
      doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
    } catch (YAMLException e) {
      throw new IllegalArgumentException("invalid YAML: " + e.getMessage(), e);
    }
    Map<String, Object> root = map(doc, "the document");
    String current = string(root, "current-context");
    if (current.isEmpty()) {
      throw new IllegalArgumentException("no current-context");
    }
    Map<String, Object> context = named(root, "contexts", current, "context");
    Map<String, Object> cluster = named(root, "clusters", string(context, "cluster"), "cluster");
    String userName = string(context, "user");
    Map<String, Object> user =
        userName.isEmpty() ? Map.of() : named(root, "users", userName, "user");

    String server = string(cluster, "server");
    if (server.isEmpty()) {
      throw new IllegalArgumentException(
          "cluster " + string(context, "cluster") + " has no server");
    }
    if (user.containsKey("exec") || user.containsKey("auth-provider")) {
      throw new IllegalArgumentException(
          "user "
              + userName
              + " uses a credential plugin (exec/auth-provider), which edgefleet does not support;"
              + " use a client certificate or a token");
    }
    List<X509Certificate> ca = List.of();
    String caPem = pemOf(cluster, "certificate-authority-data", "certificate-authority", dir);
    if (!caPem.isEmpty()) {
      ca = Pem.certificates(caPem);
    }
    Optional<ClientKey> clientKey = Optional.empty();
    String certPem = pemOf(user, "client-certificate-data", "client-certificate", dir);
    String keyPem = pemOf(user, "client-key-data", "client-key", dir);
    if (!certPem.isEmpty() || !keyPem.isEmpty()) {
      if (certPem.isEmpty() || keyPem.isEmpty()) {
        throw new IllegalArgumentException(
            "user " + userName + " has a client certificate or key but not both");
      }
      clientKey = Optional.of(new ClientKey(privateKey(keyPem), Pem.certificates(certPem)));
    }
    Optional<String> token = Optional.empty();
    if (!string(user, "token").isEmpty()) {
      token = Optional.of(string(user, "token"));
    } else if (!string(user, "tokenFile").isEmpty()) {
      token = Optional.of(read(dir.resolve(string(user, "tokenFile"))).trim());
    }
    String namespace = string(context, "namespace");
    return new Kubeconfig(
        URI.create(server),
        ca,
        Boolean.TRUE.equals(cluster.get("insecure-skip-tls-verify")),
        clientKey,
        token,
        namespace.isEmpty() ? "default" : namespace);
  }

  /** TLS for this cluster: its CA (or any server when insecure) and the client key, if any. */
  SSLContext sslContext() {
    try {
      KeyManager[] keyManagers = null;
      if (clientKey.isPresent()) {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry(
            "client",
            clientKey.get().key(),
            EPHEMERAL,
            clientKey.get().chain().toArray(X509Certificate[]::new));
        KeyManagerFactory kmf =
            KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, EPHEMERAL);
        keyManagers = kmf.getKeyManagers();
      }
      TrustManager[] trust = null;
      if (insecure) {
        trust = new TrustManager[] {new TrustingAnyServer()};
      } else if (!caCertificates.isEmpty()) {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        for (int i = 0; i < caCertificates.size(); i++) {
          ts.setCertificateEntry("ca-" + i, caCertificates.get(i));
        }
        TrustManagerFactory tmf =
            TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        trust = tmf.getTrustManagers();
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(keyManagers, trust, new SecureRandom());
      return ctx;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot build the TLS context for the API server", e);
    }
  }

  /** PKCS#8, PKCS#1 (RSA) or SEC1 (EC, what K3s writes) PEM. */
  static PrivateKey privateKey(String pem) {
    try {
      return Pem.anyPrivateKey(pem);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the client key: " + e.getMessage(), e);
    }
  }

  private static String pemOf(Map<String, Object> m, String dataKey, String fileKey, Path dir) {
    String data = string(m, dataKey);
    if (!data.isEmpty()) {
      try {
        return new String(Base64.getMimeDecoder().decode(data), StandardCharsets.US_ASCII);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(dataKey + " is not valid base64", e);
      }
    }
    String file = string(m, fileKey);
    return file.isEmpty() ? "" : read(dir.resolve(file));
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e, e);
    }
  }

  /** The {@code field} of the entry named {@code name} in the list {@code listKey}. */
  private static Map<String, Object> named(
      Map<String, Object> root, String listKey, String name, String field) {
    if (root.get(listKey) instanceof List<?> list) {
      for (Object entry : list) {
        Map<String, Object> e = map(entry, listKey + " entry");
        if (name.equals(string(e, "name"))) {
          return map(e.get(field), field + " " + name);
        }
      }
    }
    throw new IllegalArgumentException("no " + field + " named '" + name + "' in " + listKey);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o, String what) {
    if (o instanceof Map<?, ?> m) {
      return (Map<String, Object>) m;
    }
    throw new IllegalArgumentException(what + " is not a mapping");
  }

  private static String string(Map<String, Object> m, String key) {
    Object v = m.get(key);
    return v == null ? "" : v.toString();
  }

  /** For {@code insecure-skip-tls-verify}: no certificate or host name check at all. */
  private static final class TrustingAnyServer extends X509ExtendedTrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {}

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
