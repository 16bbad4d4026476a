package io.edgefleet.protocol.tpm;

import static io.edgefleet.protocol.tpm.QuoteVerifierTest.refused;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.tpm.AttestationException.Reason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EkRootsTest {
  static SoftEkCa vendor;
  static SoftTpm tpm;

  @BeforeAll
  static void setUp() {
    vendor = SoftEkCa.create("Vendor EK Root");
    tpm = SoftTpm.create(vendor, SoftTpm.newEk(), null);
  }

  @Test
  void acceptsPemAndDerRoots(@TempDir Path dir) throws Exception {
    Files.write(dir.resolve("vendor.der"), vendor.root().getEncoded());
    Files.writeString(dir.resolve("README.txt"), "ignored: not a certificate file name");
    EkRoots roots = EkRoots.load(dir);
    assertThat(roots.roots()).containsExactly(vendor.root());
    assertThat(roots.validate(tpm.ekCertificate(), List.of())).isEqualTo(vendor.root());
    assertThat(tpm.ekCertificate().getCriticalExtensionOIDs()).contains("2.5.29.17");
  }

  @Test
  void refusesUnknownRootsNamingIssuerAndDirectory(@TempDir Path dir) throws Exception {
    SoftEkCa.create("Some Other Vendor").writeRoot(dir, "other.pem");
    refused(
        () -> EkRoots.load(dir).validate(tpm.ekCertificate(), List.of()),
        Reason.EK_UNTRUSTED,
        "CN=Vendor EK Root",
        "add the root certificate",
        dir.toString());
    // Sending the vendor's root along as "chain" does not make it trusted.
    refused(
        () -> EkRoots.load(dir).validate(tpm.ekCertificate(), List.of(vendor.root())),
        Reason.EK_UNTRUSTED);
  }

  @Test
  void refusesASelfSignedEkCertificate(@TempDir Path dir) throws Exception {
    vendor.writeRoot(dir, "vendor.pem");
    X509Certificate selfSigned = SoftEkCa.create("Homemade TPM").root();
    refused(
        () -> EkRoots.load(dir).validate(selfSigned, List.of()),
        Reason.EK_UNTRUSTED,
        "self-signed by CN=Homemade TPM",
        dir.toString());
  }

  @Test
  void refusesExpiredAndOverlongChains(@TempDir Path dir) throws Exception {
    vendor.writeRoot(dir, "vendor.pem");
    Clock future = Clock.fixed(Instant.parse("2100-01-01T00:00:00Z"), ZoneOffset.UTC);
    refused(
        () -> EkRoots.load(dir, future).validate(tpm.ekCertificate(), List.of()),
        Reason.EK_UNTRUSTED);
    List<X509Certificate> long_ = Collections.nCopies(EkRoots.MAX_CHAIN + 1, vendor.root());
    refused(
        () -> EkRoots.load(dir).validate(tpm.ekCertificate(), long_),
        Reason.EK_UNTRUSTED,
        "at most");
  }

  @Test
  void loadFailsClearly(@TempDir Path dir) throws Exception {
    assertThatThrownBy(() -> EkRoots.load(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no self-signed root");
    Files.writeString(
        dir.resolve("broken.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    assertThatThrownBy(() -> EkRoots.load(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("broken.pem");
    assertThatThrownBy(() -> EkRoots.load(dir.resolve("missing"))).isInstanceOf(IOException.class);
  }
}
