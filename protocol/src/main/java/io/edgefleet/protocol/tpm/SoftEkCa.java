package io.edgefleet.protocol.tpm;

import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.tls.Pem;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.DERSet;
import org.bouncycastle.asn1.DERUTF8String;
import org.bouncycastle.asn1.x500.AttributeTypeAndValue;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A software TPM manufacturer: a self-signed ECDSA P-256 root that issues endorsement key
 * certificates shaped as the TCG EK Credential Profile says (empty subject, critical subject
 * alternative name with the TPM's manufacturer, model and version, key usage keyEncipherment,
 * extended key usage tcg-kp-EKCertificate). One CA serves a whole simulated fleet. Thread-safe.
 */
public final class SoftEkCa {
  private static final ASN1ObjectIdentifier TPM_MANUFACTURER =
      new ASN1ObjectIdentifier("2.23.133.2.1");
  private static final ASN1ObjectIdentifier TPM_MODEL = new ASN1ObjectIdentifier("2.23.133.2.2");
  private static final ASN1ObjectIdentifier TPM_VERSION = new ASN1ObjectIdentifier("2.23.133.2.3");
  private static final KeyPurposeId EK_CERTIFICATE =
      KeyPurposeId.getInstance(new ASN1ObjectIdentifier("2.23.133.8.1"));
  private static final SecureRandom RANDOM = new SecureRandom();

  private final KeyPair keys;
  private final X509Certificate root;

  private SoftEkCa(KeyPair keys, X509Certificate root) {
    this.keys = keys;
    this.root = root;
  }

  /** A new CA whose root certificate has the common name {@code name}. */
  public static SoftEkCa create(String name) {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair keys = g.generateKeyPair();
      X500Name subject = new X500Name("CN=" + name.replace(",", "\\,"));
      Instant now = Instant.now();
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              subject,
              new BigInteger(64, RANDOM),
              Date.from(now.minus(Duration.ofDays(1))),
              Date.from(now.plus(Duration.ofDays(365 * 30))),
              subject,
              keys.getPublic());
      JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      b.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      b.addExtension(
          Extension.subjectKeyIdentifier,
          false,
          utils.createSubjectKeyIdentifier(keys.getPublic()));
      return new SoftEkCa(keys, convert(b.build(signer(keys))));
    } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
      throw new IllegalStateException("cannot create a software EK CA: " + e.getMessage(), e);
    }
  }

  /** File name of the root certificate in a directory {@link #save} writes. */
  public static final String ROOT_FILE = "ek-ca.pem";

  /**
   * File name of the CA's private key next to it; not a certificate file name, so the directory can
   * be handed to a controller as its directory of trusted EK roots as it is.
   */
  public static final String KEY_FILE = "ek-ca.key";

  /**
   * The CA saved in {@code dir}, or a new one saved there ({@link #ROOT_FILE}, {@link #KEY_FILE}
   * mode 0600) when the directory has none.
   */
  public static synchronized SoftEkCa loadOrCreate(Path dir, String name) throws IOException {
    Path cert = dir.resolve(ROOT_FILE);
    Path key = dir.resolve(KEY_FILE);
    if (Files.exists(cert) && Files.exists(key)) {
      try {
        X509Certificate root = Pem.certificateOf(Files.readString(cert));
        java.security.PrivateKey k = Pem.privateKey(Files.readString(key), "EC");
        return new SoftEkCa(new KeyPair(root.getPublicKey(), k), root);
      } catch (RuntimeException e) {
        throw new IOException(
            "cannot read the software EK CA in " + dir + ": " + e.getMessage(), e);
      }
    }
    SoftEkCa ca = create(name);
    Files.createDirectories(dir);
    SecureFiles.writeSecret(key, Pem.privateKey(ca.keys.getPrivate()));
    SecureFiles.writePublic(cert, Pem.certificate(ca.root));
    return ca;
  }

  /** The root certificate a controller trusts (its --tpm-ca directory holds it). */
  public X509Certificate root() {
    return root;
  }

  /** Writes the root certificate as PEM to {@code dir}/{@code fileName}. */
  public Path writeRoot(Path dir, String fileName) throws IOException {
    Files.createDirectories(dir);
    return Files.writeString(dir.resolve(fileName), Pem.certificate(root));
  }

  /** An EK certificate for {@code ek}, valid from a day ago for 30 years. */
  public X509Certificate issue(PublicKey ek) {
    try {
      Instant now = Instant.now();
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              X500Name.getInstance(root.getSubjectX500Principal().getEncoded()),
              new BigInteger(64, RANDOM),
              Date.from(now.minus(Duration.ofDays(1))),
              Date.from(now.plus(Duration.ofDays(365 * 30))),
              new X500Name(new RDN[0]),
              ek);
      JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
      b.addExtension(Extension.subjectAlternativeName, true, tpmNames());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyEncipherment));
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(EK_CERTIFICATE));
      b.addExtension(
          Extension.authorityKeyIdentifier,
          false,
          utils.createAuthorityKeyIdentifier(root.getPublicKey()));
      return convert(b.build(signer(keys)));
    } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
      throw new IllegalStateException("cannot issue an EK certificate: " + e.getMessage(), e);
    }
  }

  /** The SAN's directoryName of TPM attributes (TCG EK Credential Profile §3.2.9). */
  private static GeneralNames tpmNames() {
    ASN1EncodableVector attrs = new ASN1EncodableVector();
    attrs.add(
        new DERSet(new AttributeTypeAndValue(TPM_MANUFACTURER, new DERUTF8String("id:45444745"))));
    attrs.add(new DERSet(new AttributeTypeAndValue(TPM_MODEL, new DERUTF8String("soft-tpm"))));
    attrs.add(new DERSet(new AttributeTypeAndValue(TPM_VERSION, new DERUTF8String("id:00010000"))));
    X500Name dirName = X500Name.getInstance(new DERSequence(attrs));
    return new GeneralNames(new GeneralName(GeneralName.directoryName, dirName));
  }

  private static ContentSigner signer(KeyPair keys) throws OperatorCreationException {
    return new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate());
  }

  private static X509Certificate convert(org.bouncycastle.cert.X509CertificateHolder h)
      throws GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(h);
  }
}
