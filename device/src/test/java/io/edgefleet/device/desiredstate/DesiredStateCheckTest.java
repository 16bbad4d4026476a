package io.edgefleet.device.desiredstate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class DesiredStateCheckTest {
  final KeyPair controller = ed25519();
  final String bundle = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
  final String digest = Fingerprints.sha256(bundle.getBytes(StandardCharsets.UTF_8));

  @Test
  void acceptsASignedNewerDocumentForThisDevice() throws Exception {
    Verified v =
        DesiredStateCheck.verify(
            sign(controller, doc("dev-1", 3)), controller.getPublic(), "dev-1", 2);
    assertThat(v.state().generation()).isEqualTo(3);
    assertThat(v.state().apps()).extracting(DesiredState.DesiredApp::name).containsExactly("web");
  }

  @Test
  void refusesTamperedForeignReplayedAndWrongDeviceDocuments() {
    SignedDesiredState good = sign(controller, doc("dev-1", 3));
    SignedDesiredState tampered =
        new SignedDesiredState(payload(doc("dev-1", 4)), good.signature());
    assertThatThrownBy(() -> DesiredStateCheck.verify(tampered, controller.getPublic(), "dev-1", 0))
        .isInstanceOf(Refused.class)
        .satisfies(e -> assertThat(((Refused) e).kind()).isEqualTo("desired-state-bad-signature"));

    SignedDesiredState foreign = sign(ed25519(), doc("dev-1", 3));
    assertThatThrownBy(() -> DesiredStateCheck.verify(foreign, controller.getPublic(), "dev-1", 0))
        .hasMessageContaining("signature");

    assertThatThrownBy(() -> DesiredStateCheck.verify(good, controller.getPublic(), "dev-1", 3))
        .satisfies(e -> assertThat(((Refused) e).kind()).isEqualTo("desired-state-replayed"))
        .hasMessageContaining("already holds generation 3");

    assertThatThrownBy(() -> DesiredStateCheck.verify(good, controller.getPublic(), "dev-2", 0))
        .satisfies(e -> assertThat(((Refused) e).kind()).isEqualTo("desired-state-wrong-device"));
  }

  @Test
  void aGenerationAboveWhatAControllerIssuesIsRefused() throws Exception {
    SignedDesiredState wrapped = sign(controller, doc("dev-1", Long.MAX_VALUE));
    assertThatThrownBy(() -> DesiredStateCheck.verify(wrapped, controller.getPublic(), "dev-1", 5))
        .satisfies(e -> assertThat(((Refused) e).kind()).isEqualTo("desired-state-malformed"))
        .hasMessageContaining("largest generation");
    assertThat(
            DesiredStateCheck.verify(
                    sign(controller, doc("dev-1", DesiredState.MAX_GENERATION)),
                    controller.getPublic(),
                    "dev-1",
                    5)
                .state()
                .generation())
        .isEqualTo(DesiredState.MAX_GENERATION);
  }

  @Test
  void aKeyIsTrustedOnlyOnceADocumentSignedWithATrustedKeyAnnouncesIt() throws Exception {
    KeyPair next = ed25519();
    TrustedKeys before = TrustedKeys.of(controller.getPublic());
    String nextId = Signatures.keyId(next.getPublic());

    // Signed with a key the device was never told about: refused, whatever the document says.
    SignedDesiredState early = sign(next, doc("dev-1", 2, announce(next)), nextId);
    assertThatThrownBy(() -> DesiredStateCheck.verify(early, before, "dev-1", 1))
        .satisfies(e -> assertThat(((Refused) e).kind()).isEqualTo("desired-state-unknown-key"))
        .hasMessageContaining(nextId)
        .hasMessageContaining("enroll the device again");

    // The announcement, signed with the trusted key.
    Verified announced =
        DesiredStateCheck.verify(
            sign(controller, doc("dev-1", 2, announce(next)), keyId(controller)),
            before,
            "dev-1",
            1);
    assertThat(announced.signer()).isEqualTo(keyId(controller));
    assertThat(announced.trustAfter().ids()).containsExactly(keyId(controller), nextId);

    // Then the new key signs; the old one is dropped once a document no longer announces it.
    Verified switched =
        DesiredStateCheck.verify(
            sign(next, doc("dev-1", 3, List.of()), nextId), announced.trustAfter(), "dev-1", 2);
    assertThat(switched.trustAfter().ids()).containsExactly(nextId);
    SignedDesiredState oldKeyAgain = sign(controller, doc("dev-1", 4, List.of()), null);
    assertThatThrownBy(
            () -> DesiredStateCheck.verify(oldKeyAgain, switched.trustAfter(), "dev-1", 3))
        .satisfies(e -> assertThat(((Refused) e).kind()).isEqualTo("desired-state-bad-signature"));
  }

  @Test
  void anAnnouncedKeyWhoseIdIsNotItsOwnIsRefused() {
    KeyPair next = ed25519();
    List<DesiredState.SigningKey> lying =
        List.of(
            new DesiredState.SigningKey(
                keyId(controller), Signatures.publicKeyPem(next.getPublic())));
    SignedDesiredState doc = sign(controller, doc("dev-1", 2, lying), keyId(controller));
    assertThatThrownBy(
            () -> DesiredStateCheck.verify(doc, TrustedKeys.of(controller.getPublic()), "dev-1", 1))
        .satisfies(e -> assertThat(((Refused) e).kind()).isEqualTo("desired-state-malformed"))
        .hasMessageContaining("not the key its id names");
  }

  @Test
  void aBundleMustHaveTheDigestItWasAskedFor() throws Exception {
    DesiredStateCheck.checkBundle(digest, bundle.getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(() -> DesiredStateCheck.checkBundle(digest, "other".getBytes()))
        .isInstanceOf(Refused.class)
        .hasMessageContaining("its content hashes to");
    assertThat(DesiredStateCheck.isDigest(digest)).isTrue();
    assertThat(DesiredStateCheck.isDigest("sha256:../../etc")).isFalse();
  }

  private DesiredState doc(String device, long gen) {
    return doc(device, gen, List.of());
  }

  private DesiredState doc(String device, long gen, List<DesiredState.SigningKey> announced) {
    return new DesiredState(
        device,
        gen,
        Instant.now(),
        List.of(new DesiredState.DesiredApp("web", "repo", "abc123", digest, bundle.length())),
        announced);
  }

  private static List<DesiredState.SigningKey> announce(KeyPair key) {
    return List.of(
        new DesiredState.SigningKey(keyId(key), Signatures.publicKeyPem(key.getPublic())));
  }

  private static String keyId(KeyPair key) {
    return Signatures.keyId(key.getPublic());
  }

  private static SignedDesiredState sign(KeyPair key, DesiredState d, String keyId) {
    SignedDesiredState s = sign(key, d);
    return new SignedDesiredState(s.payload(), s.signature(), keyId);
  }

  private static String payload(DesiredState d) {
    return Base64.getEncoder().encodeToString(Json.writeBytes(d));
  }

  private static SignedDesiredState sign(KeyPair key, DesiredState d) {
    byte[] bytes = Json.writeBytes(d);
    return new SignedDesiredState(
        Base64.getEncoder().encodeToString(bytes), Signatures.sign(key.getPrivate(), bytes));
  }

  private static KeyPair ed25519() {
    try {
      return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
