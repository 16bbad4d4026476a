package io.edgefleet.controller.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.Signatures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SigningKeysTest {
  @TempDir Path dir;
  final Clock clock = Clock.fixed(Instant.parse("2026-03-01T10:00:00Z"), ZoneOffset.UTC);

  @Test
  void theKeyOfAControllerFromBeforeRotationBecomesTheCurrentKey() throws Exception {
    KeyPair old = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Files.writeString(dir.resolve("signing.key"), Pem.privateKey(old.getPrivate()));
    Files.writeString(dir.resolve("signing.pub"), Signatures.publicKeyPem(old.getPublic()));

    SigningKeys keys = SigningKeys.open(dir, clock);
    SigningKeys.Key current = keys.ring().current();
    assertThat(current.id()).isEqualTo(Signatures.keyId(old.getPublic()));
    assertThat(keys.ring().preRotationKey()).isEqualTo(current.id());
    assertThat(keys.ring().keys()).hasSize(1);
    assertThat(mode(dir.resolve("signing-keys.json"))).isEqualTo("rw-------");
    assertThat(SigningKeys.open(dir, clock).ring().current()).isEqualTo(current);
  }

  @Test
  void aRotationGoesNextCurrentPreviousRetiredAndSurvivesARestart() throws Exception {
    SigningKeys keys = SigningKeys.open(dir, clock);
    String first = keys.ring().current().id();

    SigningKeys.Key next = keys.startRotation();
    assertThat(next.state()).isEqualTo(SigningKeys.State.NEXT);
    assertThat(mode(dir.resolve("signing-" + next.id() + ".key"))).isEqualTo("rw-------");
    assertThat(keys.ring().current().id()).as("still signs with the first key").isEqualTo(first);
    assertConflict(keys::startRotation, "under way");

    SigningKeys.Key current = keys.finishRotation();
    assertThat(current.id()).isEqualTo(next.id());
    assertThat(current.activatedAt()).isEqualTo(clock.instant());
    assertThat(keys.ring().byId(first).orElseThrow().state()).isEqualTo(SigningKeys.State.PREVIOUS);
    assertConflict(keys::finishRotation, "no rotation");
    assertConflict(() -> keys.retire(current.id()), "current signing key");

    SigningKeys reopened = SigningKeys.open(dir, clock);
    assertThat(reopened.ring().keys()).isEqualTo(keys.ring().keys());
    assertThat(reopened.ring().preRotationKey()).isEqualTo(first);

    reopened.retire(first);
    assertThat(Files.exists(dir.resolve("signing.key"))).as("its private key is gone").isFalse();
    assertThat(SigningKeys.open(dir, clock).ring().byId(first).orElseThrow().state())
        .isEqualTo(SigningKeys.State.RETIRED);
    assertThatThrownBy(() -> reopened.ring().privateKey(first))
        .isInstanceOf(IllegalStateException.class);
    assertConflict(() -> reopened.retire(first), "retired already");
    assertThatThrownBy(() -> reopened.retire("nope"))
        .satisfies(
            e -> assertThat(((ControllerException) e).code()).isEqualTo(ErrorCode.NOT_FOUND));
  }

  @Test
  void eachDeviceIsSignedForWithAKeyItTrustsAndToldOfTheOthers() {
    SigningKeys keys = SigningKeys.open(dir, clock);
    String k0 = keys.ring().current().id();
    assertThat(keys.ring().plan(Set.of(k0)).announced()).isEmpty();

    String k1 = keys.startRotation().id();
    SigningKeys.Plan announcing = keys.ring().plan(Set.of(k0));
    assertThat(announcing.signer().id()).isEqualTo(k0);
    assertThat(announcing.announcedIds()).isEqualTo(k1);

    keys.finishRotation();
    SigningKeys.Plan behind = keys.ring().plan(Set.of(k0));
    assertThat(behind.signer().id()).as("a device that never learned k1").isEqualTo(k0);
    assertThat(behind.announcedIds()).isEqualTo(k1);
    SigningKeys.Plan moved = keys.ring().plan(Set.of(k0, k1));
    assertThat(moved.signer().id()).isEqualTo(k1);
    assertThat(moved.announced()).as("k0 is no longer announced").isEmpty();

    String k2 = keys.startRotation().id();
    assertThat(keys.ring().plan(Set.of(k0)).announcedIds()).isEqualTo(k1 + "," + k2);
    assertThat(keys.ring().plan(Set.of("unknown")).signer().id()).isEqualTo(k1);
  }

  @Test
  void aMissingPrivateKeyStopsTheStartAndSaysWhatToRestore() throws Exception {
    SigningKeys keys = SigningKeys.open(dir, clock);
    String next = keys.startRotation().id();
    Files.delete(dir.resolve("signing-" + next + ".key"));
    assertThatThrownBy(() -> SigningKeys.open(dir, clock))
        .hasMessageContaining(next)
        .hasMessageContaining("signing-" + next + ".key")
        .hasMessageContaining("backup");
  }

  private static void assertConflict(Runnable r, String message) {
    assertThatThrownBy(r::run)
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining(message)
        .satisfies(
            e ->
                assertThat(((ControllerException) e).code())
                    .isEqualTo(ErrorCode.SIGNING_KEY_STATE_CONFLICT));
  }

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
  }
}
