package io.edgefleet.agent.desiredstate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.device.desiredstate.DesiredStateCheck;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DesiredStateStoreTest {
  @TempDir Path dir;
  final KeyPair controller = ed25519();
  final String bundle = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
  final String digest = Fingerprints.sha256(bundle.getBytes(StandardCharsets.UTF_8));

  @Test
  void bundlesMustMatchTheirDigestAndAreRequiredBeforeTheDocument() throws Exception {
    DesiredStateStore store = new DesiredStateStore(dir);
    Verified v =
        DesiredStateCheck.verify(
            sign(controller, doc("dev-1", 1)), controller.getPublic(), "dev-1", 0);
    assertThatThrownBy(() -> store.save(v)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.saveBundle(digest, "something else".getBytes()))
        .satisfies(e -> assertThat(((Refused) e).kind()).isEqualTo("bundle-digest-mismatch"));

    store.saveBundle(digest, bundle.getBytes(StandardCharsets.UTF_8));
    store.save(v);
    assertThat(new DesiredStateStore(dir).load(controller.getPublic(), "dev-1"))
        .get()
        .satisfies(l -> assertThat(l.state().generation()).isEqualTo(1));
    assertThat(store.bundle(digest)).contains(bundle);
  }

  @Test
  void aStoredFileChangedOnDiskIsNotTrusted() throws Exception {
    DesiredStateStore store = new DesiredStateStore(dir);
    store.saveBundle(digest, bundle.getBytes(StandardCharsets.UTF_8));
    store.save(
        DesiredStateCheck.verify(
            sign(controller, doc("dev-1", 1)), controller.getPublic(), "dev-1", 0));
    Path bundleFile = dir.resolve("desired/bundles/" + digest.substring(7) + ".yaml");
    Files.writeString(bundleFile, bundle + "  extra: injected\n");
    assertThat(store.bundle(digest)).isEmpty();
    assertThat(store.load(controller.getPublic(), "dev-1")).isEmpty();
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
