package io.edgefleet.protocol.tpm;

import static io.edgefleet.protocol.tpm.QuoteVerifierTest.refused;
import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.tpm.AttestationException.Reason;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class KeyProofsTest {
  static SoftTpm tpm;
  static ECPublicKey key;

  @BeforeAll
  static void setUp() throws Exception {
    tpm = SoftTpm.create(SoftEkCa.create("Vendor"), SoftTpm.newEk(), null);
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    key = (ECPublicKey) g.generateKeyPair().getPublic();
  }

  @Test
  void acceptsACertifiedKey() throws Exception {
    TpmPublic area = KeyProofs.verify(tpm.akPublic(), tpm.certify(key), key);
    assertThat(area.attributes()).isEqualTo(SoftTpm.DEVICE_KEY_ATTRIBUTES);
  }

  @Test
  void refusesAPublicAreaOtherThanTheCertifiedOne() {
    TpmKeyProof proof = tpm.certify(key);
    TpmPublic area = TpmPublic.parse(Base64.getDecoder().decode(proof.publicArea()));
    TpmPublic imported = withAttributes(area, area.attributes() & ~TpmAlg.SENSITIVE_DATA_ORIGIN);
    TpmKeyProof swapped =
        new TpmKeyProof(
            Base64.getEncoder().encodeToString(imported.marshal()),
            proof.certifyInfo(),
            proof.signature());
    refused(
        () -> KeyProofs.verify(tpm.akPublic(), swapped, key), Reason.KEY_NOT_IN_TPM, "names key");
  }

  @Test
  void refusesKeysThatCanLeaveTheTpm() throws Exception {
    // A certify, correctly signed, of a key the TPM imported (no sensitiveDataOrigin) that may be
    // duplicated (no fixedTPM).
    TpmPublic area = SoftTpm.eccArea(key, TpmAlg.SIGN_ENCRYPT | TpmAlg.USER_WITH_AUTH, TpmAlg.NULL);
    TpmKeyProof proof = signedProof(area);
    refused(
        () -> KeyProofs.verify(tpm.akPublic(), proof, key),
        Reason.KEY_NOT_IN_TPM,
        "not fixedTPM",
        "not sensitiveDataOrigin");
    TpmPublic restricted =
        SoftTpm.eccArea(key, SoftTpm.DEVICE_KEY_ATTRIBUTES | TpmAlg.RESTRICTED, TpmAlg.NULL);
    refused(
        () -> KeyProofs.verify(tpm.akPublic(), signedProof(restricted), key),
        Reason.KEY_NOT_IN_TPM,
        "restricted");
  }

  @Test
  void refusesMissingOrMalformedProofs() {
    refused(() -> KeyProofs.verify(tpm.akPublic(), null, key), Reason.KEY_NOT_IN_TPM);
    TpmKeyProof proof = tpm.certify(key);
    refused(
        () ->
            KeyProofs.verify(
                tpm.akPublic(),
                new TpmKeyProof("AAAA", proof.certifyInfo(), proof.signature()),
                key),
        Reason.MALFORMED);
    var quote = tpm.quote(new byte[8], List.of(0));
    refused(
        () ->
            KeyProofs.verify(
                tpm.akPublic(),
                new TpmKeyProof(proof.publicArea(), quote.attest(), quote.signature()),
                key),
        Reason.KEY_NOT_IN_TPM,
        "quote");
  }

  /**
   * A certify of {@code area} signed by the test TPM's AK, as a compromised TPM stack might send.
   */
  private static TpmKeyProof signedProof(TpmPublic area) throws Exception {
    Attest a =
        new Attest(
            Attest.CERTIFY,
            new byte[0],
            new byte[0],
            0,
            0,
            0,
            true,
            0,
            List.of(),
            new byte[0],
            area.name(),
            area.name(),
            List.of());
    java.lang.reflect.Field f = SoftTpm.class.getDeclaredField("akPrivate");
    f.setAccessible(true);
    byte[] info = a.marshal();
    byte[] sig = TpmSignatures.sign((PrivateKey) f.get(tpm), info);
    Base64.Encoder b64 = Base64.getEncoder();
    return new TpmKeyProof(
        b64.encodeToString(area.marshal()), b64.encodeToString(info), b64.encodeToString(sig));
  }

  private static TpmPublic withAttributes(TpmPublic t, int attributes) {
    return new TpmPublic(
        t.type(),
        t.nameAlg(),
        attributes,
        t.authPolicy(),
        t.symmetric(),
        t.symmetricBits(),
        t.symmetricMode(),
        t.scheme(),
        t.schemeHash(),
        t.keyBitsOrCurve(),
        t.exponent(),
        t.kdf(),
        t.unique(),
        t.uniqueY());
  }
}
