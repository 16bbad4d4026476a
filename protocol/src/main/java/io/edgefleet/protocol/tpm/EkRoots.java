package io.edgefleet.protocol.tpm;

import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tpm.AttestationException.Reason;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertStore;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.PKIXCertPathBuilderResult;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The TPM manufacturers' root certificates an endorsement key certificate must chain to, read from
 * a directory of PEM or DER files (roots and intermediates alike: self-signed certificates are
 * roots, the others intermediates). Validation is plain PKIX with the JDK; the critical subject
 * alternative name of EK certificates (the TPM's manufacturer, model and version, TCG EK Credential
 * Profile §3.2.9) is one PKIX understands. Revocation is not checked: TPM vendors publish no CRLs
 * reachable from a controller. Immutable and thread-safe.
 */
public final class EkRoots {
  /** Most certificate files read from the directory. */
  static final int MAX_FILES = 1000;

  /** Largest certificate file read. */
  static final long MAX_FILE_BYTES = 1024 * 1024;

  /** Most certificates a device may send as its chain. */
  public static final int MAX_CHAIN = 8;

  private final Path dir;
  private final Set<TrustAnchor> anchors;
  private final List<X509Certificate> intermediates;
  private final Clock clock;

  private EkRoots(
      Path dir, Set<TrustAnchor> anchors, List<X509Certificate> intermediates, Clock clock) {
    this.dir = dir;
    this.anchors = anchors;
    this.intermediates = intermediates;
    this.clock = clock;
  }

  /** Reads every certificate file (.pem, .crt, .cer, .der) in {@code dir}. */
  public static EkRoots load(Path dir) throws IOException {
    return load(dir, Clock.systemUTC());
  }

  /**
   * Reads every certificate file (.pem, .crt, .cer, .der) in {@code dir}; certificates are checked
   * for validity at {@code clock}'s time.
   *
   * @throws IOException when the directory cannot be read, a file holds no certificate or it has no
   *     self-signed root
   */
  public static EkRoots load(Path dir, Clock clock) throws IOException {
    List<X509Certificate> all = new ArrayList<>();
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files =
          s.filter(Files::isRegularFile)
              .filter(p -> p.getFileName().toString().matches("(?i).*\\.(pem|crt|cer|der)$"))
              .sorted()
              .limit(MAX_FILES + 1L)
              .toList();
    }
    if (files.size() > MAX_FILES) {
      throw new IOException(dir + " holds more than " + MAX_FILES + " certificate files");
    }
    for (Path f : files) {
      if (Files.size(f) > MAX_FILE_BYTES) {
        throw new IOException(f + " is larger than " + MAX_FILE_BYTES + " bytes");
      }
      List<X509Certificate> certs = read(f, Files.readAllBytes(f));
      if (certs.isEmpty()) {
        throw new IOException(f + " holds no certificate (PEM or DER expected)");
      }
      all.addAll(certs);
    }
    Set<TrustAnchor> anchors = new HashSet<>();
    List<X509Certificate> intermediates = new ArrayList<>();
    for (X509Certificate c : all) {
      if (selfSigned(c)) {
        anchors.add(new TrustAnchor(c, null));
      } else {
        intermediates.add(c);
      }
    }
    if (anchors.isEmpty()) {
      throw new IOException(
          dir + " holds no self-signed root certificate: add the TPM manufacturers' roots");
    }
    return new EkRoots(dir, Set.copyOf(anchors), List.copyOf(intermediates), clock);
  }

  private static List<X509Certificate> read(Path file, byte[] bytes) throws IOException {
    String text = new String(bytes, StandardCharsets.ISO_8859_1);
    try {
      if (text.contains("-----BEGIN ")) {
        return Pem.certificates(text);
      }
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      return List.of((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(bytes)));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IOException(file + " is not a PEM or DER certificate: " + e.getMessage(), e);
    }
  }

  static boolean selfSigned(X509Certificate c) {
    if (!c.getSubjectX500Principal().equals(c.getIssuerX500Principal())) {
      return false;
    }
    try {
      c.verify(c.getPublicKey());
      return true;
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /** The directory the roots were read from. */
  public Path directory() {
    return dir;
  }

  /** The root certificates. */
  public List<X509Certificate> roots() {
    return anchors.stream().map(TrustAnchor::getTrustedCert).toList();
  }

  /**
   * Validates an EK certificate up to one of the roots, through the intermediates of the directory
   * and the {@code chain} the device sent.
   *
   * @return the root it chains to
   * @throws AttestationException EK_UNTRUSTED naming the issuer and the directory to add its root
   *     to, or why the path is invalid (expired, wrong key usage, bad signature)
   */
  public X509Certificate validate(X509Certificate ek, List<X509Certificate> chain)
      throws AttestationException {
    if (chain.size() > MAX_CHAIN) {
      throw new AttestationException(
          Reason.EK_UNTRUSTED,
          "the device sent " + chain.size() + " chain certificates; at most " + MAX_CHAIN);
    }
    List<Object> certs = new ArrayList<>(intermediates);
    certs.addAll(chain);
    certs.add(ek);
    try {
      X509CertSelector target = new X509CertSelector();
      target.setCertificate(ek);
      PKIXBuilderParameters params = new PKIXBuilderParameters(anchors, target);
      params.setRevocationEnabled(false);
      params.setDate(Date.from(clock.instant()));
      params.setMaxPathLength(MAX_CHAIN);
      params.addCertStore(
          CertStore.getInstance("Collection", new CollectionCertStoreParameters(certs)));
      PKIXCertPathBuilderResult result =
          (PKIXCertPathBuilderResult) CertPathBuilder.getInstance("PKIX").build(params);
      return result.getTrustAnchor().getTrustedCert();
    } catch (CertPathBuilderException e) {
      throw new AttestationException(Reason.EK_UNTRUSTED, untrusted(ek, e), e);
    } catch (GeneralSecurityException e) {
      throw new AttestationException(
          Reason.EK_UNTRUSTED, "cannot validate the EK certificate: " + e.getMessage(), e);
    }
  }

  private String untrusted(X509Certificate ek, CertPathBuilderException e) {
    String issuer = ek.getIssuerX500Principal().getName();
    String why = e.getMessage() == null ? "" : " (" + e.getMessage() + ")";
    if (selfSigned(ek)) {
      return "the EK certificate is self-signed by "
          + issuer
          + ", not issued by a TPM manufacturer; if this TPM is to be trusted, add that"
          + " certificate to "
          + dir;
    }
    return "the EK certificate issued by "
        + issuer
        + " does not chain to a root in "
        + dir
        + why
        + ": add the root certificate of that issuer's TPM manufacturer (PEM or DER) to "
        + dir;
  }

  /**
   * Requires the EK certificate to certify {@code ekPublic}, the EK the device presented.
   *
   * @throws AttestationException EK_MISMATCH when the keys differ
   */
  public static void requireSameKey(X509Certificate ek, TpmPublic ekPublic)
      throws AttestationException {
    if (!ekPublic.holds(ek.getPublicKey())) {
      throw new AttestationException(
          Reason.EK_MISMATCH,
          "the endorsement key the device presented is not the key of its EK certificate ("
              + ek.getSubjectX500Principal().getName()
              + ", serial "
              + ek.getSerialNumber().toString(16)
              + ")");
    }
  }
}
