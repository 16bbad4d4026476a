package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.device.tpm.TpmPrivateKey;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.testkit.Swtpm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A TPM identity on disk: only the salt and public area, a new TPM key at each renewal. */
class TpmIdentityStoreIT {
  @TempDir Path dir;

  @Test
  void rotatesToANewTpmKeyAndKeepsNoPrivateKeyOnDisk() throws Exception {
    ControllerPki pki =
        ControllerPki.open(dir.resolve("pki"), List.of("localhost"), Clock.systemUTC());
    Path state = dir.resolve("state");
    Files.createDirectories(state);
    try (Swtpm swtpm = Swtpm.start()) {
      try (TpmAccess tpm = new TpmAccess(Optional.of(swtpm.endpoint().toString()))) {
        IdentityStore store = new IdentityStore(state, tpm);
        KeyPair key = store.key();
        assertThat(key.getPrivate()).isInstanceOf(TpmPrivateKey.class);
        assertThat(store.key().getPublic()).isEqualTo(key.getPublic());
        store.save(
            new IdentityStore.Identity(
                "dev-1",
                "https://c",
                pki.caFingerprint(),
                key,
                pki.issueDevice("dev-1", key.getPublic()),
                pki.caCertificate()));

        KeyPair next = store.nextKey();
        assertThat(next.getPrivate()).isInstanceOf(TpmPrivateKey.class);
        assertThat(next.getPublic()).isNotEqualTo(key.getPublic());
        assertThat(state.resolve("tpm-key-next.json")).exists();
        X509Certificate renewed = pki.issueDevice("dev-1", next.getPublic());
        assertThat(store.saveRenewed(renewed).getPublic()).isEqualTo(next.getPublic());
        assertThat(state.resolve("tpm-key-next.json")).doesNotExist();
        IdentityStore.Identity id = store.load().orElseThrow();
        assertThat(id.kind()).isEqualTo("tpm");
        assertThat(id.key().getPublic()).isEqualTo(next.getPublic());
        assertThat(id.certificate()).isEqualTo(renewed);
      }
      try (var files = Files.list(state)) {
        for (Path f : files.toList()) {
          assertThat(Files.readString(f)).doesNotContain("PRIVATE KEY");
        }
      }
      IdentityStore.TpmKeyFile file =
          Json.mapper()
              .readValue(
                  Files.readString(state.resolve("tpm-key.json")), IdentityStore.TpmKeyFile.class);
      assertThat(file.area().toPublicKey())
          .isEqualTo(
              Pem.certificateOf(Files.readString(state.resolve("device.crt"))).getPublicKey());
    }
    // Another TPM does not hold this key: the agent says so instead of using a wrong one.
    try (Swtpm other = Swtpm.start();
        TpmAccess tpm = new TpmAccess(Optional.of(other.endpoint().toString()))) {
      assertThatThrownBy(() -> new IdentityStore(state, tpm).load())
          .isInstanceOfSatisfying(
              AgentException.class,
              e -> assertThat(e.code()).isEqualTo(AgentException.Code.TPM_UNAVAILABLE))
          .hasMessageContaining("no longer holds the device key");
    }
  }
}
