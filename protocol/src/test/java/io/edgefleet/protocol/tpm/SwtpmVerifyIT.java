package io.edgefleet.protocol.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tpm.AttestationException.Reason;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The verifier against a real TPM: swtpm provisioned by swtpm_setup, driven by tpm2-tools. What the
 * TPM produces must verify, and what the verifier makes (credentials) the TPM must take.
 */
class SwtpmVerifyIT {
  private static final HexFormat HEX = HexFormat.of();
  @TempDir static Path dir;
  static RealSwtpm tpm;
  static TpmPublic ek;
  static TpmPublic ak;

  @BeforeAll
  static void start() throws Exception {
    tpm = RealSwtpm.start(dir);
    tpm.tool("tpm2_readpublic", "-c", "0x81010001", "-f", "tpmt", "-o", "ek.pub", "-n", "ek.name");
    ek = TpmPublic.parse(tpm.read("ek.pub"));
    tpm.tool(
        "tpm2_createak",
        "-C",
        "0x81010001",
        "-c",
        "ak.ctx",
        "-G",
        "ecc",
        "-g",
        "sha256",
        "-s",
        "ecdsa",
        "-u",
        "ak.pub",
        "-f",
        "tpmt",
        "-n",
        "ak.name");
    ak = TpmPublic.parse(tpm.read("ak.pub"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (tpm != null) {
      tpm.close();
    }
  }

  @Test
  void namesMatchTheTpms() throws Exception {
    assertThat(ek).isEqualTo(withUnique(TpmPublic.rsaEkTemplate(), ek.unique()));
    assertThat(ek.name()).isEqualTo(tpm.read("ek.name"));
    assertThat(ak.name()).isEqualTo(tpm.read("ak.name"));
    QuoteVerifier.requireAttestationKey(ak);
  }

  @Test
  void theTpmActivatesTheCredentialMadeInJava() throws Exception {
    byte[] secret =
        HEX.parseHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    Credentials.Challenge c = Credentials.make(ek, ak.name(), secret);
    Files.write(dir.resolve("cred.in"), toolsCredentialFile(c));
    assertThat(activate("cred.in", "secret.out")).isZero();
    assertThat(tpm.read("secret.out")).isEqualTo(secret);
  }

  @Test
  void theTpmRefusesACredentialForAnotherKey() throws Exception {
    Credentials.Challenge c = Credentials.make(ek, ek.name(), new byte[] {1, 2, 3, 4});
    Files.write(dir.resolve("foreign.in"), toolsCredentialFile(c));
    assertThat(activate("foreign.in", "foreign.out")).isNotZero();
  }

  /** tpm2-tools' credential file: magic BADCC0DE, version 1, TPM2B_ID_OBJECT, secret. */
  private static byte[] toolsCredentialFile(Credentials.Challenge c) {
    return new TpmBuffer.Writer()
        .u32(0xBADCC0DEL)
        .u32(1)
        .bytes(c.credentialBlob())
        .bytes(c.encryptedSecret())
        .toBytes();
  }

  private static synchronized int activate(String in, String out) throws Exception {
    tpm.tool("tpm2_startauthsession", "--policy-session", "-S", "session.ctx");
    try {
      tpm.tool("tpm2_policysecret", "-S", "session.ctx", "-c", "e");
      return tpm.toolExit(
          "tpm2_activatecredential",
          "-c",
          "ak.ctx",
          "-C",
          "0x81010001",
          "-i",
          in,
          "-o",
          out,
          "-P",
          "session:session.ctx");
    } finally {
      tpm.tool("tpm2_flushcontext", "session.ctx");
    }
  }

  @Test
  void realEkCertificateChainsToTheLocalCa() throws Exception {
    tpm.tool("tpm2_nvread", "0x01c00002", "-o", "ekcert.der");
    X509Certificate cert =
        (X509Certificate)
            CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(tpm.read("ekcert.der")));
    assertThat(cert.getCriticalExtensionOIDs()).contains("2.5.29.17");
    EkRoots.requireSameKey(cert, ek);

    Path rootsOnly = Files.createDirectories(dir.resolve("roots-only"));
    Files.copy(tpm.caDir.resolve("swtpm-localca-rootca-cert.pem"), rootsOnly.resolve("root.pem"));
    X509Certificate intermediate =
        Pem.certificates(Files.readString(tpm.caDir.resolve("issuercert.pem"))).get(0);
    X509Certificate root = EkRoots.load(rootsOnly).validate(cert, List.of(intermediate));
    assertThat(root.getSubjectX500Principal().getName()).contains("swtpm-localca-rootca");

    Path both = Files.createDirectories(dir.resolve("roots-and-intermediates"));
    Files.copy(tpm.caDir.resolve("swtpm-localca-rootca-cert.pem"), both.resolve("root.pem"));
    Files.copy(tpm.caDir.resolve("issuercert.pem"), both.resolve("intermediate.crt"));
    assertThat(EkRoots.load(both).validate(cert, List.of())).isEqualTo(root);

    assertThatThrownBy(() -> EkRoots.load(rootsOnly).validate(cert, List.of()))
        .isInstanceOfSatisfying(
            AttestationException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.EK_UNTRUSTED);
              assertThat(e.getMessage())
                  .contains("CN=swtpm-localca")
                  .contains(rootsOnly.toString());
            });
    // The ECC P-384 EK certificate swtpm_setup writes as well chains the same way.
    tpm.tool("tpm2_nvread", "0x01c00016", "-o", "ekcert-ecc.der");
    X509Certificate ecc =
        (X509Certificate)
            CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(tpm.read("ekcert-ecc.der")));
    assertThat(ecc.getPublicKey().getAlgorithm()).isEqualTo("EC");
    assertThat(EkRoots.load(both).validate(ecc, List.of())).isEqualTo(root);

    Path foreign = Files.createDirectories(dir.resolve("foreign"));
    SoftEkCa.create("Other TPM Vendor").writeRoot(foreign, "other.pem");
    assertThatThrownBy(() -> EkRoots.load(foreign).validate(cert, List.of(intermediate)))
        .isInstanceOfSatisfying(
            AttestationException.class, e -> assertThat(e.reason()).isEqualTo(Reason.EK_UNTRUSTED));
    SoftTpm soft = SoftTpm.create(SoftEkCa.create("Soft"));
    assertThatThrownBy(() -> EkRoots.requireSameKey(cert, soft.ekPublic()))
        .isInstanceOfSatisfying(
            AttestationException.class, e -> assertThat(e.reason()).isEqualTo(Reason.EK_MISMATCH));
  }

  @Test
  void realQuoteVerifiesAndItsEventLogReplays() throws Exception {
    // Measure three events into PCRs 14 and 15 with PCR_Extend, and write the matching log.
    EventLog.Builder log = EventLog.builder();
    String[][] events = {{"14", "grub_cmd linux /vmlinuz"}, {"14", "kernel cmdline"}, {"15", "x"}};
    for (String[] e : events) {
      byte[] data = e[1].getBytes(StandardCharsets.US_ASCII);
      log.event(Integer.parseInt(e[0]), EventTypes.EV_IPL, data);
      tpm.tool("tpm2_pcrextend", e[0] + ":sha256=" + HEX.formatHex(EventLog.sha256(data)));
    }
    EventLog measured = log.build();
    byte[] nonce = HEX.parseHex("a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0");
    List<Integer> pcrs = List.of(0, 7, 14, 15);
    TpmQuote quote = quote(nonce, "0,7,14,15", measured);

    VerifiedQuote v = QuoteVerifier.verify(ak, quote, nonce, pcrs);
    assertThat(v.attest().pcrSelection()).isEqualTo(pcrs);
    assertThat(v.pcrs().get(14)).isEqualTo(measured.replay().get(14));
    assertThat(v.eventLog()).isPresent();

    assertReason(() -> QuoteVerifier.verify(ak, quote, new byte[32], pcrs), Reason.NONCE_MISMATCH);
    assertReason(
        () -> QuoteVerifier.verify(ak, quote, nonce, List.of(0, 7, 14)),
        Reason.PCR_SELECTION_MISMATCH);
    Map<Integer, String> tampered = new TreeMap<>(quote.pcrs());
    tampered.put(7, "ff".repeat(32));
    assertReason(
        () ->
            QuoteVerifier.verify(
                ak,
                new TpmQuote(quote.attest(), quote.signature(), tampered, quote.eventLog()),
                nonce,
                pcrs),
        Reason.PCR_DIGEST_MISMATCH);
    EventLog other =
        EventLog.builder()
            .event(
                14, EventTypes.EV_IPL, "grub_cmd linux /evil".getBytes(StandardCharsets.US_ASCII))
            .build();
    AttestationException mismatch =
        assertReason(
            () ->
                QuoteVerifier.verify(
                    ak,
                    new TpmQuote(
                        quote.attest(),
                        quote.signature(),
                        quote.pcrs(),
                        Base64.getEncoder().encodeToString(other.write())),
                    nonce,
                    pcrs),
            Reason.EVENT_LOG_MISMATCH);
    assertThat(mismatch.getMessage())
        .contains("PCR 14 is " + quote.pcrs().get(14).substring(0, 8))
        .contains("replays to " + HEX.formatHex(other.replay().get(14)).substring(0, 8));
    byte[] attest = Base64.getDecoder().decode(quote.attest());
    attest[attest.length - 1] ^= 1;
    assertReason(
        () ->
            QuoteVerifier.verify(
                ak,
                new TpmQuote(
                    Base64.getEncoder().encodeToString(attest),
                    quote.signature(),
                    quote.pcrs(),
                    null),
                nonce,
                pcrs),
        Reason.BAD_SIGNATURE);
  }

  private static TpmQuote quote(byte[] nonce, String pcrs, EventLog log) throws Exception {
    tpm.tool(
        "tpm2_quote",
        "-c",
        "ak.ctx",
        "-l",
        "sha256:" + pcrs,
        "-q",
        HEX.formatHex(nonce),
        "-g",
        "sha256",
        "-m",
        "quote.msg",
        "-s",
        "quote.sig");
    tpm.tool("tpm2_pcrread", "sha256:" + pcrs, "-o", "pcrs.bin");
    byte[] values = tpm.read("pcrs.bin");
    Map<Integer, String> map = new TreeMap<>();
    String[] indices = pcrs.split(",");
    for (int i = 0; i < indices.length; i++) {
      map.put(Integer.parseInt(indices[i]), HEX.formatHex(values, i * 32, i * 32 + 32));
    }
    Base64.Encoder b64 = Base64.getEncoder();
    return new TpmQuote(
        b64.encodeToString(tpm.read("quote.msg")),
        b64.encodeToString(tpm.read("quote.sig")),
        map,
        log == null ? null : b64.encodeToString(log.write()));
  }

  @Test
  void realCertifyProvesTheDeviceKey() throws Exception {
    tpm.tool(
        "tpm2_createprimary",
        "-C",
        "o",
        "-g",
        "sha256",
        "-G",
        "ecc256:null",
        "-a",
        "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|decrypt",
        "-c",
        "device.ctx");
    tpm.tool("tpm2_readpublic", "-c", "device.ctx", "-f", "tpmt", "-o", "device.pub");
    tpm.tool(
        "tpm2_certify",
        "-c",
        "device.ctx",
        "-C",
        "ak.ctx",
        "-g",
        "sha256",
        "-o",
        "certify.out",
        "-s",
        "certify.sig");
    TpmPublic device = TpmPublic.parse(tpm.read("device.pub"));
    Base64.Encoder b64 = Base64.getEncoder();
    TpmKeyProof proof =
        new TpmKeyProof(
            b64.encodeToString(tpm.read("device.pub")),
            b64.encodeToString(tpm.read("certify.out")),
            b64.encodeToString(tpm.read("certify.sig")));
    assertThat(KeyProofs.verify(ak, proof, device.toPublicKey())).isEqualTo(device);
    Attest certify = Attest.parse(tpm.read("certify.out"));
    assertThat(certify.type()).isEqualTo(Attest.CERTIFY);
    assertThat(certify.certifiedName()).isEqualTo(device.name());

    SoftTpm soft = SoftTpm.create(SoftEkCa.create("Soft"));
    assertReason(
        () -> KeyProofs.verify(ak, proof, soft.akPublic().toPublicKey()), Reason.KEY_NOT_IN_TPM);
    assertReason(
        () -> KeyProofs.verify(soft.akPublic(), proof, device.toPublicKey()),
        Reason.KEY_NOT_IN_TPM);
  }

  private static AttestationException assertReason(Check check, Reason reason) {
    try {
      check.run();
    } catch (AttestationException e) {
      assertThat(e.reason()).as(e.getMessage()).isEqualTo(reason);
      return e;
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("expected " + reason);
  }

  interface Check {
    void run() throws Exception;
  }

  private static TpmPublic withUnique(TpmPublic t, byte[] unique) {
    return new TpmPublic(
        t.type(),
        t.nameAlg(),
        t.attributes(),
        t.authPolicy(),
        t.symmetric(),
        t.symmetricBits(),
        t.symmetricMode(),
        t.scheme(),
        t.schemeHash(),
        t.keyBitsOrCurve(),
        t.exponent(),
        t.kdf(),
        unique,
        t.uniqueY());
  }
}
