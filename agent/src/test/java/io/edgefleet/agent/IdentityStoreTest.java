package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.device.tpm.TpmTemplates;
import io.edgefleet.protocol.tls.Fingerprints;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Instant;
import java.util.Date;
import javax.crypto.KeyAgreement;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The software identity on disk: key rotation at renewal, and what a crash in between leaves. */
class IdentityStoreTest {
  @TempDir Path dir;
  private KeyPair ca;
  private X509Certificate caCert;
  private IdentityStore store;

  @BeforeEach
  void enroll() throws Exception {
    ca = ecKey();
    caCert = cert(ca, ca.getPublic(), "CN=ca");
    store = new IdentityStore(dir);
    KeyPair key = store.key();
    store.save(
        new IdentityStore.Identity(
            "dev-1",
            "https://c",
            Fingerprints.of(caCert),
            key,
            cert(ca, key.getPublic(), "CN=dev-1"),
            caCert));
  }

  @Test
  void aRenewalRotatesTheKeyAndTheStoreKeepsTheNewOne() throws Exception {
    KeyPair old = store.key();
    KeyPair next = store.nextKey();
    assertThat(next.getPublic()).isNotEqualTo(old.getPublic());
    // Until the controller answered, the identity is the old one.
    assertThat(store.load().orElseThrow().key().getPublic()).isEqualTo(old.getPublic());

    X509Certificate renewed = cert(ca, next.getPublic(), "CN=dev-1");
    KeyPair adopted = store.saveRenewed(renewed);
    assertThat(adopted.getPublic()).isEqualTo(next.getPublic());
    IdentityStore.Identity id = new IdentityStore(dir).load().orElseThrow();
    assertThat(id.key().getPublic()).isEqualTo(next.getPublic());
    assertThat(id.certificate()).isEqualTo(renewed);
    assertThat(id.kind()).isEqualTo("software");
    assertThat(dir.resolve("device-next.key")).doesNotExist();
    assertThat(dir.resolve("device-next.pub")).doesNotExist();

    // The agreement is ECDH with the new key.
    KeyPair peer = ecKey();
    KeyAgreement ka = KeyAgreement.getInstance("ECDH");
    ka.init(peer.getPrivate());
    ka.doPhase(next.getPublic(), true);
    assertThat(id.keyAgreement().sharedSecret((ECPublicKey) peer.getPublic()))
        .isEqualTo(ka.generateSecret());
  }

  @Test
  void aCertificateForAnotherKeyIsNotAdopted() throws Exception {
    store.nextKey();
    X509Certificate foreign = cert(ca, ecKey().getPublic(), "CN=dev-1");
    assertThatThrownBy(() -> store.saveRenewed(foreign))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(store.load()).isPresent();
  }

  @Test
  void aCrashAfterTheCertificateWasWrittenIsFinishedAtTheNextStart() throws Exception {
    KeyPair next = store.nextKey();
    X509Certificate renewed = cert(ca, next.getPublic(), "CN=dev-1");
    // The power went after device.crt was replaced, before the key files were renamed.
    Files.writeString(
        dir.resolve("device.crt"), io.edgefleet.protocol.tls.Pem.certificate(renewed));
    IdentityStore.Identity id = new IdentityStore(dir).load().orElseThrow();
    assertThat(id.key().getPublic()).isEqualTo(next.getPublic());
    assertThat(id.certificate()).isEqualTo(renewed);
  }

  @Test
  void aCrashBetweenTheTwoRenamesIsFinishedToo() throws Exception {
    KeyPair next = store.nextKey();
    X509Certificate renewed = cert(ca, next.getPublic(), "CN=dev-1");
    Files.writeString(
        dir.resolve("device.crt"), io.edgefleet.protocol.tls.Pem.certificate(renewed));
    Files.move(
        dir.resolve("device-next.key"),
        dir.resolve("device.key"),
        StandardCopyOption.REPLACE_EXISTING);
    IdentityStore.Identity id = new IdentityStore(dir).load().orElseThrow();
    assertThat(id.key().getPublic()).isEqualTo(next.getPublic());
    assertThat(dir.resolve("device-next.pub")).doesNotExist();
  }

  @Test
  void aCrashBeforeTheControllerAnsweredLeavesTheOldIdentity() throws Exception {
    PublicKey old = store.key().getPublic();
    store.nextKey();
    IdentityStore.Identity id = new IdentityStore(dir).load().orElseThrow();
    assertThat(id.key().getPublic()).isEqualTo(old);
    // The next renewal makes a fresh key.
    assertThat(store.nextKey().getPublic()).isNotEqualTo(old);
  }

  @Test
  void aCertificateThatIsNotForTheKeyIsReportedAsCorrupt() throws Exception {
    Files.writeString(
        dir.resolve("device.crt"),
        io.edgefleet.protocol.tls.Pem.certificate(cert(ca, ecKey().getPublic(), "CN=x")));
    assertThatThrownBy(() -> store.load())
        .isInstanceOfSatisfying(
            AgentException.class,
            e -> assertThat(e.code()).isEqualTo(AgentException.Code.STATE_CORRUPT))
        .hasMessageContaining("device.crt is not for the device key");
  }

  @Test
  void aTpmKeyWithoutATpmSaysHowToGoOn() throws Exception {
    byte[] salt = new byte[TpmTemplates.SALT_BYTES];
    java.util.Base64.Encoder b64 = java.util.Base64.getEncoder();
    Files.writeString(
        dir.resolve("tpm-key.json"),
        io.edgefleet.protocol.Json.pretty(
            new IdentityStore.TpmKeyFile(
                b64.encodeToString(salt),
                b64.encodeToString(TpmTemplates.deviceKey(salt).marshal()))));
    Files.delete(dir.resolve("device.key"));
    assertThatThrownBy(() -> new IdentityStore(dir).load())
        .isInstanceOfSatisfying(
            AgentException.class,
            e -> assertThat(e.code()).isEqualTo(AgentException.Code.TPM_UNAVAILABLE))
        .hasMessageContaining("start the agent with --tpm");
  }

  private static KeyPair ecKey() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(256);
    return g.generateKeyPair();
  }

  private static X509Certificate cert(KeyPair issuer, PublicKey subject, String cn)
      throws Exception {
    X500Principal name = new X500Principal(cn);
    return new JcaX509CertificateConverter()
        .getCertificate(
            new JcaX509v3CertificateBuilder(
                    new X500Principal("CN=ca"),
                    BigInteger.valueOf(System.nanoTime()),
                    Date.from(Instant.now().minusSeconds(60)),
                    Date.from(Instant.now().plusSeconds(3600)),
                    name,
                    subject)
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuer.getPrivate())));
  }
}
