package io.edgefleet.controller.pki;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemReader;

/**
 * The controller's key material, kept in its data directory: an EC P-256 certificate authority, the
 * TLS server certificate it issues to itself, and the Ed25519 keys that sign desired state ({@link
 * SigningKeys}). Created on first start, reused afterwards; the server certificate is re-issued
 * when the names it must cover change. Device certificates are issued from CSRs. Thread-safe after
 * {@link #open}.
 */
public final class ControllerPki {
  private static final Duration CA_VALIDITY = Duration.ofDays(3650);
  private static final Duration SERVER_VALIDITY = Duration.ofDays(825);
  private static final Duration DEVICE_VALIDITY = Duration.ofDays(365);
  private static final int MAX_CSR_BYTES = 16 * 1024;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Clock clock;
  private final X509Certificate caCert;
  private final PrivateKey caKey;
  private final X509Certificate serverCert;
  private final PrivateKey serverKey;
  private final SigningKeys signingKeys;

  private ControllerPki(
      Clock clock,
      X509Certificate caCert,
      PrivateKey caKey,
      X509Certificate serverCert,
      PrivateKey serverKey,
      SigningKeys signingKeys) {
    this.clock = clock;
    this.caCert = caCert;
    this.caKey = caKey;
    this.serverCert = serverCert;
    this.serverKey = serverKey;
    this.signingKeys = signingKeys;
  }

  /**
   * Loads the key material from {@code dir}, creating what is missing.
   *
   * @param serverNames DNS names and IP addresses the server certificate must cover
   */
  public static ControllerPki open(Path dir, Collection<String> serverNames, Clock clock) {
    try {
      Files.createDirectories(dir);
      Path caKeyFile = dir.resolve("ca.key");
      Path caCertFile = dir.resolve("ca.crt");
      X509Certificate caCert;
      PrivateKey caKey;
      if (Files.exists(caKeyFile) && Files.exists(caCertFile)) {
        caKey = Pem.privateKey(Files.readString(caKeyFile), "EC");
        caCert = Pem.certificateOf(Files.readString(caCertFile));
      } else {
        KeyPair ca = newEcKey();
        caKey = ca.getPrivate();
        caCert = selfSignedCa(ca, clock.instant());
        SecureFiles.writeSecret(caKeyFile, Pem.privateKey(caKey));
        SecureFiles.writePublic(caCertFile, Pem.certificate(caCert));
      }

      Path serverKeyFile = dir.resolve("server.key");
      Path serverCertFile = dir.resolve("server.crt");
      Set<String> names = new LinkedHashSet<>(serverNames);
      X509Certificate serverCert = null;
      PrivateKey serverKey = null;
      if (Files.exists(serverKeyFile) && Files.exists(serverCertFile)) {
        serverKey = Pem.privateKey(Files.readString(serverKeyFile), "EC");
        serverCert = Pem.certificateOf(Files.readString(serverCertFile));
        boolean stale =
            !covers(serverCert, names)
                || !serverCert.getIssuerX500Principal().equals(caCert.getSubjectX500Principal())
                || serverCert
                    .getNotAfter()
                    .toInstant()
                    .isBefore(clock.instant().plus(Duration.ofDays(30)));
        if (stale) {
          serverCert = null;
        }
      }
      if (serverCert == null) {
        KeyPair server = newEcKey();
        serverKey = server.getPrivate();
        serverCert = issueServer(server.getPublic(), names, caCert, caKey, clock.instant());
        SecureFiles.writeSecret(serverKeyFile, Pem.privateKey(serverKey));
        SecureFiles.writePublic(serverCertFile, Pem.certificate(serverCert));
      }

      SigningKeys signing = SigningKeys.open(dir, clock);
      return new ControllerPki(clock, caCert, caKey, serverCert, serverKey, signing);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or write key material in " + dir, e);
    } catch (Exception e) {
      throw new IllegalStateException("cannot create key material in " + dir + ": " + e, e);
    }
  }

  public X509Certificate caCertificate() {
    return caCert;
  }

  public String caFingerprint() {
    return Fingerprints.of(caCert);
  }

  public X509Certificate serverCertificate() {
    return serverCert;
  }

  public PrivateKey serverKey() {
    return serverKey;
  }

  /** The keys that sign desired state. */
  public SigningKeys signingKeys() {
    return signingKeys;
  }

  /**
   * Validates a PEM CSR: well-formed, signature valid (proof of possession), EC P-256 key.
   *
   * @throws ControllerException with {@link ErrorCode#INVALID_CSR} otherwise
   */
  public static ValidCsr validateCsr(String csrPem) {
    if (csrPem == null || csrPem.isBlank()) {
      throw new ControllerException(ErrorCode.INVALID_CSR, "csrPem is required");
    }
    if (csrPem.length() > MAX_CSR_BYTES) {
      throw new ControllerException(ErrorCode.INVALID_CSR, "the CSR is larger than 16 KiB");
    }
    try (PemReader reader = new PemReader(new java.io.StringReader(csrPem))) {
      PemObject pem = reader.readPemObject();
      if (pem == null || !pem.getType().equals("CERTIFICATE REQUEST")) {
        throw new ControllerException(
            ErrorCode.INVALID_CSR, "csrPem must hold a PEM 'CERTIFICATE REQUEST' block");
      }
      PKCS10CertificationRequest csr = new PKCS10CertificationRequest(pem.getContent());
      var algorithm = csr.getSubjectPublicKeyInfo().getAlgorithm();
      if (!X9ObjectIdentifiers.id_ecPublicKey.equals(algorithm.getAlgorithm())
          || !SECObjectIdentifiers.secp256r1.equals(algorithm.getParameters())) {
        throw new ControllerException(ErrorCode.INVALID_CSR, "the CSR key must be EC P-256");
      }
      PublicKey key =
          KeyFactory.getInstance("EC")
              .generatePublic(new X509EncodedKeySpec(csr.getSubjectPublicKeyInfo().getEncoded()));
      if (!(key instanceof ECPublicKey ec)
          || ec.getParams().getCurve().getField().getFieldSize() != 256) {
        throw new ControllerException(ErrorCode.INVALID_CSR, "the CSR key must be EC P-256");
      }
      boolean valid = csr.isSignatureValid(verifiers().build(csr.getSubjectPublicKeyInfo()));
      if (!valid) {
        throw new ControllerException(
            ErrorCode.INVALID_CSR, "the CSR signature does not verify with its own key");
      }
      return new ValidCsr(key, Fingerprints.sha256(key.getEncoded()));
    } catch (ControllerException e) {
      throw e;
    } catch (Exception e) {
      throw new ControllerException(
          ErrorCode.INVALID_CSR, "the CSR cannot be parsed: " + e.getMessage(), e);
    }
  }

  /** A CSR whose signature verified; {@code keyFingerprint} identifies the device key. */
  public record ValidCsr(PublicKey publicKey, String keyFingerprint) {}

  /** Issues a client certificate with {@code CN=deviceId} for the key in the CSR. */
  public X509Certificate issueDevice(String deviceId, PublicKey devicePublicKey) {
    Instant now = clock.instant();
    try {
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              caCert,
              serial(),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(DEVICE_VALIDITY)),
              new X500Principal("CN=" + deviceId + ",O=edgefleet device"),
              devicePublicKey);
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      b.addExtension(
          Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_clientAuth));
      b.addExtension(
          Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
      b.addExtension(
          Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(devicePublicKey));
      return sign(b, caKey);
    } catch (Exception e) {
      throw new IllegalStateException("cannot issue device certificate", e);
    }
  }

  /** The device id a certificate was issued to ({@code CN}), if it is one of ours. */
  public static String deviceIdOf(X509Certificate cert) {
    String dn = cert.getSubjectX500Principal().getName(X500Principal.RFC2253);
    for (String part : dn.split(",")) {
      if (part.startsWith("CN=")) {
        return part.substring(3);
      }
    }
    return "";
  }

  public static String serialOf(X509Certificate cert) {
    return cert.getSerialNumber().toString(16);
  }

  private static KeyPair newEcKey() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static X509Certificate selfSignedCa(KeyPair ca, Instant now) throws Exception {
    X500Principal subject =
        new X500Principal(
            "CN=edgefleet controller CA " + Long.toHexString(RANDOM.nextLong()) + ",O=edgefleet");
    X509v3CertificateBuilder b =
        new JcaX509v3CertificateBuilder(
            subject,
            serial(),
            Date.from(now.minus(Duration.ofMinutes(5))),
            Date.from(now.plus(CA_VALIDITY)),
            subject,
            ca.getPublic());
    JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    b.addExtension(
        Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(ca.getPublic()));
    return sign(b, ca.getPrivate());
  }

  private static X509Certificate issueServer(
      PublicKey key, Set<String> names, X509Certificate caCert, PrivateKey caKey, Instant now)
      throws Exception {
    X509v3CertificateBuilder b =
        new JcaX509v3CertificateBuilder(
            caCert,
            serial(),
            Date.from(now.minus(Duration.ofMinutes(5))),
            Date.from(now.plus(SERVER_VALIDITY)),
            new X500Principal("CN=edgefleet controller,O=edgefleet"),
            key);
    List<GeneralName> sans = new ArrayList<>();
    for (String name : names) {
      sans.add(
          isIpLiteral(name)
              ? new GeneralName(GeneralName.iPAddress, name)
              : new GeneralName(GeneralName.dNSName, name));
    }
    JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    b.addExtension(
        Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
    b.addExtension(
        Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
    b.addExtension(
        Extension.subjectAlternativeName,
        false,
        new GeneralNames(sans.toArray(GeneralName[]::new)));
    b.addExtension(
        Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
    return sign(b, caKey);
  }

  private static boolean covers(X509Certificate cert, Set<String> names) throws Exception {
    Set<String> have = new LinkedHashSet<>();
    if (cert.getSubjectAlternativeNames() != null) {
      for (List<?> san : cert.getSubjectAlternativeNames()) {
        have.add(normalize(String.valueOf(san.get(1))));
      }
    }
    for (String n : names) {
      if (!have.contains(normalize(n))) {
        return false;
      }
    }
    return true;
  }

  private static String normalize(String name) {
    if (isIpLiteral(name)) {
      try {
        return InetAddress.getByName(name).getHostAddress();
      } catch (Exception e) {
        return name;
      }
    }
    return name.toLowerCase(java.util.Locale.ROOT);
  }

  static boolean isIpLiteral(String name) {
    return name.matches("[0-9.]+") || name.contains(":");
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws Exception {
    JcaContentSignerBuilder signers = new JcaContentSignerBuilder("SHA256withECDSA");
    SignatureProvider.nativeProvider().ifPresent(signers::setProvider);
    ContentSigner signer = signers.build(key);
    return new JcaX509CertificateConverter().getCertificate(b.build(signer));
  }

  private static JcaContentVerifierProviderBuilder verifiers() {
    JcaContentVerifierProviderBuilder verifiers = new JcaContentVerifierProviderBuilder();
    SignatureProvider.nativeProvider().ifPresent(verifiers::setProvider);
    return verifiers;
  }

  private static BigInteger serial() {
    return new BigInteger(127, RANDOM).add(BigInteger.ONE);
  }
}
