package io.edgefleet.protocol.tls;

import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** PEM encoding of certificates and PKCS#8 private keys using only the JDK. */
public final class Pem {
  private static final Pattern BLOCK =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----", Pattern.DOTALL);

  private Pem() {}

  public static String encode(String type, byte[] der) {
    String body = Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
  }

  public static String certificate(X509Certificate cert) {
    try {
      return encode("CERTIFICATE", cert.getEncoded());
    } catch (CertificateException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String privateKey(PrivateKey key) {
    return encode("PRIVATE KEY", key.getEncoded());
  }

  /** Decodes the blocks of the given type, in order. */
  public static List<byte[]> decode(String pem, String type) {
    List<byte[]> out = new ArrayList<>();
    Matcher m = BLOCK.matcher(pem == null ? "" : pem);
    while (m.find()) {
      if (m.group(1).equals(type)) {
        try {
          out.add(Base64.getMimeDecoder().decode(m.group(2).trim()));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("PEM " + type + " block is not valid base64", e);
        }
      }
    }
    return out;
  }

  public static List<X509Certificate> certificates(String pem) {
    List<X509Certificate> certs = new ArrayList<>();
    try {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      for (byte[] der : decode(pem, "CERTIFICATE")) {
        certs.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(der)));
      }
    } catch (CertificateException e) {
      throw new IllegalArgumentException("not a valid X.509 certificate: " + e.getMessage(), e);
    }
    if (certs.isEmpty()) {
      throw new IllegalArgumentException("no CERTIFICATE block found");
    }
    return certs;
  }

  public static X509Certificate certificateOf(String pem) {
    return certificates(pem).getFirst();
  }

  /** Reads a PKCS#8 private key of the given algorithm ("EC", "Ed25519"). */
  public static PrivateKey privateKey(String pem, String algorithm) {
    List<byte[]> blocks = decode(pem, "PRIVATE KEY");
    if (blocks.isEmpty()) {
      throw new IllegalArgumentException("no PRIVATE KEY block found");
    }
    try {
      return KeyFactory.getInstance(algorithm)
          .generatePrivate(new PKCS8EncodedKeySpec(blocks.getFirst()));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("not a valid " + algorithm + " private key", e);
    }
  }
}
