package io.edgefleet.testkit.k3s;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** Keys and certificates of the stand-in, made with {@code openssl} (EC P-256 keys). */
final class Pki {
  private Pki() {}

  /** Creates a self-signed CA {@code dir/NAME.crt} + {@code dir/NAME.key}. */
  static void ca(Path dir, String name, String cn) {
    mkdirs(dir);
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "3650",
        "-keyout",
        dir.resolve(name + ".key").toString(),
        "-out",
        dir.resolve(name + ".crt").toString(),
        "-subj",
        "/CN=" + cn,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign");
    restrict(dir.resolve(name + ".key"));
  }

  /**
   * Issues {@code dir/NAME.crt} + {@code dir/NAME.key} signed by the CA {@code caCrt}/{@code
   * caKey}. {@code sans} like {@code IP:127.0.0.1,DNS:localhost} (may be empty); {@code usage}
   * {@code serverAuth}, {@code clientAuth} or both comma-separated.
   */
  static void issue(
      Path dir, String name, String subject, String sans, String usage, Path caCrt, Path caKey) {
    mkdirs(dir);
    Path key = dir.resolve(name + ".key");
    Path csr = dir.resolve(name + ".csr");
    Path ext = dir.resolve(name + ".ext");
    openssl(
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key.toString(),
        "-out",
        csr.toString(),
        "-subj",
        subject);
    String extText =
        "basicConstraints=critical,CA:FALSE\n"
            + "keyUsage=critical,digitalSignature,keyEncipherment\n"
            + "extendedKeyUsage="
            + usage
            + "\n"
            + (sans.isEmpty() ? "" : "subjectAltName=" + sans + "\n");
    try {
      Files.writeString(ext, extText);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    openssl(
        "x509",
        "-req",
        "-in",
        csr.toString(),
        "-CA",
        caCrt.toString(),
        "-CAkey",
        caKey.toString(),
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        ext.toString(),
        "-out",
        dir.resolve(name + ".crt").toString());
    // The traditional EC key format ("EC PRIVATE KEY"), as K3s writes it and as Kubernetes
    // clients detect it.
    openssl("ec", "-in", key.toString(), "-out", key.toString());
    restrict(key);
    try {
      Files.deleteIfExists(csr);
      Files.deleteIfExists(ext);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** An EC signing key pair for service-account tokens: {@code dir/service.key} + {@code .pub}. */
  static void serviceKey(Path dir) {
    mkdirs(dir);
    openssl(
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        dir.resolve("service.key").toString());
    openssl(
        "ec",
        "-in",
        dir.resolve("service.key").toString(),
        "-pubout",
        "-out",
        dir.resolve("service.pub").toString());
    restrict(dir.resolve("service.key"));
  }

  /**
   * A TLS context trusting {@code caCrt} and, when {@code crt} is not null, presenting {@code
   * crt}/{@code key}.
   */
  static SSLContext tls(Path caCrt, Path crt, Path key) {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      try (InputStream in = Files.newInputStream(caCrt)) {
        int i = 0;
        for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
          trust.setCertificateEntry("ca" + i++, c);
        }
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      KeyManagerFactory kmf = null;
      if (crt != null) {
        kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore(crt, key), "standin".toCharArray());
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("TLS setup failed: " + e.getMessage(), e);
    }
  }

  /** A PKCS#12 key store (password {@code standin}) holding {@code crt} + {@code key}. */
  static KeyStore keyStore(Path crt, Path key) throws IOException, GeneralSecurityException {
    Path p12 = Files.createTempFile("standin", ".p12");
    try {
      openssl(
          "pkcs12",
          "-export",
          "-in",
          crt.toString(),
          "-inkey",
          key.toString(),
          "-out",
          p12.toString(),
          "-passout",
          "pass:standin");
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(new ByteArrayInputStream(Files.readAllBytes(p12)), "standin".toCharArray());
      return ks;
    } finally {
      Files.deleteIfExists(p12);
    }
  }

  static void restrict(Path file) {
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void mkdirs(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void openssl(String... args) {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    try {
      NodeNetwork.run(new ProcessBuilder(cmd));
    } catch (UncheckedIOException e) {
      throw new IllegalStateException(
          "openssl is needed by the k3s stand-in: " + e.getMessage(), e);
    }
  }
}
