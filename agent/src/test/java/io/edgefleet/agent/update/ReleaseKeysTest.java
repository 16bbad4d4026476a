package io.edgefleet.agent.update;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.IdentityStore;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.tls.Signatures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReleaseKeysTest {
  @TempDir Path state;
  @TempDir Path conf;

  static KeyPair key() throws Exception {
    return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
  }

  static AgentRelease signed(KeyPair k) {
    return AgentRelease.sign(
        k.getPrivate(), k.getPublic(), "2.0.0", "amd64", "sha256:" + "a".repeat(64), 10);
  }

  @Test
  void keysFromEnrollmentAndFromTheConfigurationAreTrusted() throws Exception {
    KeyPair enrolled = key();
    KeyPair placed = key();
    KeyPair bogus = key();
    new IdentityStore(state)
        .saveReleaseKeys(
            List.of(
                new DesiredState.SigningKey(
                    Signatures.keyId(enrolled.getPublic()),
                    Signatures.publicKeyPem(enrolled.getPublic())),
                // An id that does not name its key is dropped.
                new DesiredState.SigningKey(
                    "0123456789abcdef", Signatures.publicKeyPem(bogus.getPublic())),
                new DesiredState.SigningKey("x", "not a key")));
    Files.writeString(conf.resolve("site.pub"), Signatures.publicKeyPem(placed.getPublic()));
    Files.writeString(conf.resolve("junk.pub"), "junk");
    ReleaseKeys keys = new ReleaseKeys(state, conf);
    assertThat(keys.load().keySet())
        .containsExactlyInAnyOrder(
            Signatures.keyId(enrolled.getPublic()), Signatures.keyId(placed.getPublic()));
    assertThat(keys.check(signed(enrolled))).isNull();
    assertThat(keys.check(signed(placed))).isNull();
    assertThat(keys.check(signed(bogus)))
        .contains("does not trust")
        .contains(Signatures.keyId(bogus.getPublic()))
        .contains(conf.toString());
  }

  @Test
  void aChangedFactOrMalformedReleaseIsRefused() throws Exception {
    KeyPair k = key();
    Files.writeString(conf.resolve("k.pub"), Signatures.publicKeyPem(k.getPublic()));
    ReleaseKeys keys = new ReleaseKeys(state, conf);
    AgentRelease r = signed(k);
    AgentRelease bigger =
        new AgentRelease(r.version(), r.arch(), r.digest(), 11, r.keyId(), r.signature());
    assertThat(keys.check(bigger)).contains("does not verify");
    AgentRelease malformed =
        new AgentRelease("../x", r.arch(), r.digest(), r.size(), r.keyId(), r.signature());
    assertThat(keys.check(malformed)).contains("malformed");
  }

  @Test
  void withoutAnyKeyTheRefusalSaysSo() throws Exception {
    assertThat(new ReleaseKeys(state, conf.resolve("none")).check(signed(key())))
        .contains("it trusts no release key");
  }
}
