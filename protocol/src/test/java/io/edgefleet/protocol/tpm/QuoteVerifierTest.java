package io.edgefleet.protocol.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tpm.AttestationException.Reason;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class QuoteVerifierTest {
  static final List<Integer> PCRS = List.of(0, 4, 7);
  static final byte[] NONCE = HexFormat.of().parseHex("00112233445566778899aabbccddeeff");
  static SoftEkCa ca;
  static SoftTpm tpm;

  @BeforeAll
  static void setUp() {
    ca = SoftEkCa.create("Test TPM Vendor");
    tpm = SoftTpm.create(ca, SoftTpm.newEk(), EventLogTest.boot().build());
  }

  static void refused(ThrowingCallable call, Reason reason, String... messageParts) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            AttestationException.class,
            e -> {
              assertThat(e.reason()).as(e.getMessage()).isEqualTo(reason);
              for (String part : messageParts) {
                assertThat(e.getMessage()).contains(part);
              }
            });
  }

  @Test
  void acceptsAGoodQuoteInAnyRequestedOrder() throws Exception {
    TpmQuote q = tpm.quote(NONCE, PCRS);
    VerifiedQuote v = QuoteVerifier.verify(tpm.akPublic(), q, NONCE, List.of(7, 0, 4, 7));
    assertThat(v.pcrs()).containsOnlyKeys(0, 4, 7);
    assertThat(v.pcrsHex().get(7)).isEqualTo(HexFormat.of().formatHex(tpm.pcr(7)));
    assertThat(v.eventLog().orElseThrow().events()).hasSize(10);
    // The log also covers PCR 8, which was not quoted: not an error.
    assertThat(v.eventLog().orElseThrow().replay()).containsKey(8);
  }

  @Test
  void acceptsAQuoteWithoutEventLog() throws Exception {
    TpmQuote q = tpm.quote(NONCE, PCRS);
    TpmQuote noLog = new TpmQuote(q.attest(), q.signature(), q.pcrs(), null);
    assertThat(QuoteVerifier.verify(tpm.akPublic(), noLog, NONCE, PCRS).eventLog()).isEmpty();
  }

  @Test
  void refusesAnotherNonce() {
    TpmQuote q = tpm.quote(NONCE, PCRS);
    refused(
        () -> QuoteVerifier.verify(tpm.akPublic(), q, new byte[16], PCRS),
        Reason.NONCE_MISMATCH,
        "00112233…",
        "00000000…");
  }

  @Test
  void refusesAnotherSelection() {
    TpmQuote q = tpm.quote(NONCE, List.of(0, 7));
    refused(
        () -> QuoteVerifier.verify(tpm.akPublic(), q, NONCE, PCRS),
        Reason.PCR_SELECTION_MISMATCH,
        "[0, 7]",
        "[0, 4, 7]");
  }

  @Test
  void refusesReportedValuesThatAreNotTheQuotedOnes() {
    TpmQuote q = tpm.quote(NONCE, PCRS);
    Map<Integer, String> pcrs = new TreeMap<>(q.pcrs());
    pcrs.put(4, "ab".repeat(32));
    refused(
        () ->
            QuoteVerifier.verify(
                tpm.akPublic(), new TpmQuote(q.attest(), q.signature(), pcrs, null), NONCE, PCRS),
        Reason.PCR_DIGEST_MISMATCH);
  }

  @Test
  void refusesAQuoteByAnotherKeyOrTampered() {
    SoftTpm other = SoftTpm.create(ca, SoftTpm.newEk(), null);
    TpmQuote q = other.quote(NONCE, PCRS);
    refused(() -> QuoteVerifier.verify(tpm.akPublic(), q, NONCE, PCRS), Reason.BAD_SIGNATURE);
    TpmQuote mine = tpm.quote(NONCE, PCRS);
    TpmQuote swapped = new TpmQuote(q.attest(), mine.signature(), mine.pcrs(), null);
    refused(() -> QuoteVerifier.verify(tpm.akPublic(), swapped, NONCE, PCRS), Reason.BAD_SIGNATURE);
  }

  @Test
  void refusesAnEventLogThatDoesNotReplay() {
    SoftTpm t = SoftTpm.create(ca, SoftTpm.newEk(), EventLogTest.boot().build());
    t.extend(7, new byte[32]); // measured without a log entry
    TpmQuote q = t.quote(NONCE, PCRS);
    refused(
        () -> QuoteVerifier.verify(t.akPublic(), q, NONCE, PCRS),
        Reason.EVENT_LOG_MISMATCH,
        "PCR 7 is "
            + q.pcrs().get(7).substring(0, 8)
            + "… in the quote but the event log replays to");
    // measure() logs what it extends, so the log replays again.
    SoftTpm u = SoftTpm.create(ca, SoftTpm.newEk(), EventLogTest.boot().build());
    u.measure(7, EventTypes.EV_EFI_VARIABLE_AUTHORITY, new byte[] {1});
    TpmQuote ok = u.quote(NONCE, PCRS);
    org.assertj.core.api.Assertions.assertThatCode(
            () -> QuoteVerifier.verify(u.akPublic(), ok, NONCE, PCRS))
        .doesNotThrowAnyException();
  }

  @Test
  void refusesMalformedParts() {
    TpmQuote q = tpm.quote(NONCE, PCRS);
    refused(() -> QuoteVerifier.verify(tpm.akPublic(), null, NONCE, PCRS), Reason.MALFORMED);
    refused(
        () ->
            QuoteVerifier.verify(
                tpm.akPublic(), new TpmQuote("!!", q.signature(), q.pcrs(), null), NONCE, PCRS),
        Reason.MALFORMED,
        "not base64");
    refused(
        () ->
            QuoteVerifier.verify(
                tpm.akPublic(),
                new TpmQuote("A".repeat(100_000), q.signature(), q.pcrs(), null),
                NONCE,
                PCRS),
        Reason.MALFORMED,
        "longer than");
    Map<Integer, String> missing = new TreeMap<>(q.pcrs());
    missing.remove(4);
    refused(
        () ->
            QuoteVerifier.verify(
                tpm.akPublic(),
                new TpmQuote(q.attest(), q.signature(), missing, null),
                NONCE,
                PCRS),
        Reason.MALFORMED,
        "reported values of PCRs [0, 7]");
    Map<Integer, String> notHex = new TreeMap<>(q.pcrs());
    notHex.put(4, "zz".repeat(32));
    refused(
        () ->
            QuoteVerifier.verify(
                tpm.akPublic(), new TpmQuote(q.attest(), q.signature(), notHex, null), NONCE, PCRS),
        Reason.MALFORMED,
        "PCR 4");
    String bigLog = Base64.getEncoder().encodeToString(new byte[TpmQuote.MAX_EVENT_LOG_BYTES + 1]);
    refused(
        () ->
            QuoteVerifier.verify(
                tpm.akPublic(),
                new TpmQuote(q.attest(), q.signature(), q.pcrs(), bigLog),
                NONCE,
                PCRS),
        Reason.MALFORMED,
        "event log");
    String junkLog = Base64.getEncoder().encodeToString(new byte[100]);
    refused(
        () ->
            QuoteVerifier.verify(
                tpm.akPublic(),
                new TpmQuote(q.attest(), q.signature(), q.pcrs(), junkLog),
                NONCE,
                PCRS),
        Reason.MALFORMED,
        "crypto-agile");
    byte[] attest = Base64.getDecoder().decode(q.attest());
    attest[0] = 0x12;
    refused(
        () ->
            QuoteVerifier.verify(
                tpm.akPublic(),
                new TpmQuote(
                    Base64.getEncoder().encodeToString(attest), q.signature(), q.pcrs(), null),
                NONCE,
                PCRS),
        Reason.MALFORMED,
        "magic");
  }

  @Test
  void refusesACertifyPassedOffAsAQuote() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair device = g.generateKeyPair();
    var proof = tpm.certify((ECPublicKey) device.getPublic());
    TpmQuote q = new TpmQuote(proof.certifyInfo(), proof.signature(), Map.of(), null);
    refused(
        () -> QuoteVerifier.verify(tpm.akPublic(), q, NONCE, PCRS), Reason.MALFORMED, "certify");
  }

  @Test
  void refusesAnUnrestrictedAttestationKey() throws Exception {
    TpmPublic ak = tpm.akPublic();
    TpmPublic unrestricted =
        new TpmPublic(
            ak.type(),
            ak.nameAlg(),
            ak.attributes() & ~TpmAlg.RESTRICTED,
            ak.authPolicy(),
            ak.symmetric(),
            ak.symmetricBits(),
            ak.symmetricMode(),
            ak.scheme(),
            ak.schemeHash(),
            ak.keyBitsOrCurve(),
            ak.exponent(),
            ak.kdf(),
            ak.unique(),
            ak.uniqueY());
    refused(
        () -> QuoteVerifier.verify(unrestricted, tpm.quote(NONCE, PCRS), NONCE, PCRS),
        Reason.AK_NOT_RESTRICTED,
        "not restricted");
  }
}
