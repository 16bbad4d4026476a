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

/**
 * PEM encoding of certificates and private keys using only the JDK: PKCS#8, and for reading also
 * the older PKCS#1 (RSA) and SEC1 (EC) forms that Kubernetes distributions write.
 */
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

  private static final String OID_EC = "1.2.840.10045.2.1";
  private static final String OID_RSA = "1.2.840.113549.1.1.1";
  private static final String OID_ED25519 = "1.3.101.112";
  private static final String ENCRYPTED =
      "the private key is encrypted; give an unencrypted one (openssl pkey -in KEY -out PLAIN.pem)";

  /**
   * The first unencrypted private key in {@code pem}: PKCS#8 ({@code PRIVATE KEY}, EC, RSA or
   * Ed25519), PKCS#1 ({@code RSA PRIVATE KEY}) or SEC1 ({@code EC PRIVATE KEY}, with its named
   * curve).
   *
   * @throws IllegalArgumentException naming what is wrong, if there is no such key
   */
  public static PrivateKey anyPrivateKey(String pem) {
    Matcher m = BLOCK.matcher(pem == null ? "" : pem);
    while (m.find()) {
      String type = m.group(1);
      if (!type.equals("PRIVATE KEY")
          && !type.equals("EC PRIVATE KEY")
          && !type.equals("RSA PRIVATE KEY")
          && !type.equals("ENCRYPTED PRIVATE KEY")) {
        continue;
      }
      if (type.equals("ENCRYPTED PRIVATE KEY")) {
        throw new IllegalArgumentException(ENCRYPTED);
      }
      byte[] der;
      try {
        der = Base64.getMimeDecoder().decode(m.group(2).trim());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("PEM " + type + " block is not valid base64", e);
      }
      try {
        return switch (type) {
          case "EC PRIVATE KEY" -> fromPkcs8(OID_EC, sec1ToPkcs8(der));
          case "RSA PRIVATE KEY" ->
              fromPkcs8(
                  OID_RSA,
                  Der.sequence(
                      Der.integer(0),
                      Der.sequence(Der.oid(OID_RSA), Der.nullValue()),
                      Der.octets(der)));
          default -> fromPkcs8(pkcs8Algorithm(der), der);
        };
      } catch (GeneralSecurityException | IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "the " + type + " block is not a valid private key: " + e.getMessage(), e);
      }
    }
    if (pem != null && pem.contains("ENCRYPTED")) {
      throw new IllegalArgumentException(ENCRYPTED);
    }
    throw new IllegalArgumentException("no PEM private key found");
  }

  /** SEC1 ECPrivateKey (RFC 5915) wrapped as PKCS#8, its curve taken from its parameters. */
  private static byte[] sec1ToPkcs8(byte[] sec1) {
    String curve = null;
    for (Der.Element e : Der.parse(sec1).expect(Der.SEQUENCE).children()) {
      if (e.tag() == 0xa0) {
        curve = e.children().getFirst().oid();
      }
    }
    if (curve == null) {
      throw new IllegalArgumentException("the EC key does not name its curve");
    }
    return Der.sequence(
        Der.integer(0), Der.sequence(Der.oid(OID_EC), Der.oid(curve)), Der.octets(sec1));
  }

  private static String pkcs8Algorithm(byte[] pkcs8) {
    List<Der.Element> parts = Der.parse(pkcs8).expect(Der.SEQUENCE).children();
    if (parts.size() < 3) {
      throw new IllegalArgumentException("truncated PKCS#8 structure");
    }
    return parts.get(1).expect(Der.SEQUENCE).children().getFirst().oid();
  }

  private static PrivateKey fromPkcs8(String algorithmOid, byte[] pkcs8)
      throws GeneralSecurityException {
    String algorithm =
        switch (algorithmOid) {
          case OID_EC -> "EC";
          case OID_RSA -> "RSA";
          case OID_ED25519 -> "Ed25519";
          default ->
              throw new IllegalArgumentException("unsupported key algorithm " + algorithmOid);
        };
    return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
  }
}
