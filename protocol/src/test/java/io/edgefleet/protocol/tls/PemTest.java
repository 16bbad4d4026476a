package io.edgefleet.protocol.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.StringWriter;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.junit.jupiter.api.Test;

class PemTest {

  /** PKCS#1, as OpenSSL's traditional format writes an RSA key. */
  private static String traditional(KeyPair pair) throws Exception {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(pair);
    }
    return out.toString();
  }

  /** SEC1 with the named curve, as OpenSSL and Go's x509.MarshalECPrivateKey (K3s) write it. */
  private static String sec1(KeyPair pair) throws Exception {
    ECPrivateKey key = (ECPrivateKey) pair.getPrivate();
    PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
    ASN1ObjectIdentifier curve =
        ASN1ObjectIdentifier.getInstance(info.getPrivateKeyAlgorithm().getParameters());
    int bits = key.getParams().getOrder().bitLength();
    return Pem.encode(
        "EC PRIVATE KEY",
        new org.bouncycastle.asn1.sec.ECPrivateKey(bits, key.getS(), curve).getEncoded());
  }

  private static void assertSigns(KeyPair pair, java.security.PrivateKey read, String alg)
      throws Exception {
    Signature s = Signature.getInstance(alg);
    s.initSign(read);
    s.update(new byte[] {1, 2, 3});
    byte[] sig = s.sign();
    Signature v = Signature.getInstance(alg);
    v.initVerify(pair.getPublic());
    v.update(new byte[] {1, 2, 3});
    assertThat(v.verify(sig)).isTrue();
  }

  @Test
  void readsSec1EcKeysOnEveryCommonCurve() throws Exception {
    for (String curve : new String[] {"secp256r1", "secp384r1", "secp521r1"}) {
      KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
      gen.initialize(new ECGenParameterSpec(curve));
      KeyPair pair = gen.generateKeyPair();
      String pem = sec1(pair);
      assertSigns(pair, Pem.anyPrivateKey(pem), "SHA256withECDSA");
    }
  }

  @Test
  void readsPkcs1RsaAndPkcs8Keys() throws Exception {
    KeyPair rsa = KeyPairGenerator.getInstance("RSA").generateKeyPair();
    String pkcs1 = traditional(rsa);
    assertThat(pkcs1).startsWith("-----BEGIN RSA PRIVATE KEY-----");
    assertSigns(rsa, Pem.anyPrivateKey(pkcs1), "SHA256withRSA");
    assertSigns(rsa, Pem.anyPrivateKey(Pem.privateKey(rsa.getPrivate())), "SHA256withRSA");

    KeyPair ec = KeyPairGenerator.getInstance("EC").generateKeyPair();
    assertSigns(ec, Pem.anyPrivateKey(Pem.privateKey(ec.getPrivate())), "SHA256withECDSA");
    KeyPair ed = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    assertSigns(ed, Pem.anyPrivateKey(Pem.privateKey(ed.getPrivate())), "Ed25519");
  }

  @Test
  void aKeyAfterACertificateInTheSameFileIsFound() throws Exception {
    KeyPair ec = KeyPairGenerator.getInstance("EC").generateKeyPair();
    String pem = Pem.encode("CERTIFICATE", new byte[] {0x30, 0}) + sec1(ec);
    assertSigns(ec, Pem.anyPrivateKey(pem), "SHA256withECDSA");
  }

  @Test
  void whatIsNotAUsableKeyIsRefusedWithAReason() {
    assertThatThrownBy(() -> Pem.anyPrivateKey("")).hasMessage("no PEM private key found");
    assertThatThrownBy(() -> Pem.anyPrivateKey(null)).hasMessage("no PEM private key found");
    assertThatThrownBy(
            () -> Pem.anyPrivateKey(Pem.encode("ENCRYPTED PRIVATE KEY", new byte[] {0x30, 0})))
        .hasMessageContaining("encrypted");
    assertThatThrownBy(
            () ->
                Pem.anyPrivateKey(
                    "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                        + "DEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
        .hasMessageContaining("encrypted");
    assertThatThrownBy(() -> Pem.anyPrivateKey(Pem.encode("EC PRIVATE KEY", new byte[] {1, 2})))
        .hasMessageContaining("EC PRIVATE KEY block is not a valid private key");
    // A SEC1 key without its curve cannot be used.
    byte[] noCurve = Der.sequence(Der.integer(1), Der.octets(new byte[32]));
    assertThatThrownBy(() -> Pem.anyPrivateKey(Pem.encode("EC PRIVATE KEY", noCurve)))
        .hasMessageContaining("does not name its curve");
    byte[] dsa =
        Der.sequence(
            Der.integer(0), Der.sequence(Der.oid("1.2.840.10040.4.1")), Der.octets(new byte[4]));
    assertThatThrownBy(() -> Pem.anyPrivateKey(Pem.encode("PRIVATE KEY", dsa)))
        .hasMessageContaining("unsupported key algorithm 1.2.840.10040.4.1");
  }
}
