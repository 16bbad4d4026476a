package io.edgefleet.agent.runtime.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KubeconfigTest {
  @TempDir Path dir;

  private static String pem(Object o) throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(o);
    }
    return out.toString();
  }

  /** An EC key as K3s (Go's x509.MarshalECPrivateKey) writes it: SEC1 with the named curve. */
  private static String sec1(KeyPair keys) throws IOException {
    ECPrivateKey key = (ECPrivateKey) keys.getPrivate();
    PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
    ASN1ObjectIdentifier curve =
        ASN1ObjectIdentifier.getInstance(info.getPrivateKeyAlgorithm().getParameters());
    byte[] der = new org.bouncycastle.asn1.sec.ECPrivateKey(256, key.getS(), curve).getEncoded();
    return pem(new PemObject("EC PRIVATE KEY", der));
  }

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.US_ASCII));
  }

  private static X509Certificate selfSigned(KeyPair keys, String cn) throws Exception {
    X500Principal name = new X500Principal("CN=" + cn);
    return new JcaX509CertificateConverter()
        .getCertificate(
            new JcaX509v3CertificateBuilder(
                    name,
                    BigInteger.ONE,
                    Date.from(Instant.now().minusSeconds(60)),
                    Date.from(Instant.now().plusSeconds(3600)),
                    name,
                    keys.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
  }

  @Test
  void readsWhatK3sWrites() throws Exception {
    KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
    gen.initialize(256);
    KeyPair ca = gen.generateKeyPair();
    KeyPair client = gen.generateKeyPair();
    String keyPem = sec1(client);
    assertThat(keyPem).startsWith("-----BEGIN EC PRIVATE KEY-----");
    String yaml =
        """
        apiVersion: v1
        clusters:
        - cluster:
            certificate-authority-data: %s
            server: https://127.0.0.1:6443
          name: default
        contexts:
        - context:
            cluster: default
            user: default
          name: default
        current-context: default
        kind: Config
        preferences: {}
        users:
        - name: default
          user:
            client-certificate-data: %s
            client-key-data: %s
        """
            .formatted(
                b64(pem(selfSigned(ca, "k3s-server-ca"))),
                b64(pem(selfSigned(client, "system:admin"))),
                b64(keyPem));
    Path file = Files.writeString(dir.resolve("k3s.yaml"), yaml);

    Kubeconfig config = Kubeconfig.load(file);
    assertThat(config.server()).hasToString("https://127.0.0.1:6443");
    assertThat(config.caCertificates())
        .singleElement()
        .satisfies(
            c -> assertThat(c.getSubjectX500Principal().getName()).isEqualTo("CN=k3s-server-ca"));
    assertThat(config.clientKey()).isPresent();
    assertThat(config.clientKey().get().key().getAlgorithm()).isEqualTo("EC");
    assertThat(config.token()).isEmpty();
    assertThat(config.namespace()).isEqualTo("default");
    assertThat(config.insecure()).isFalse();
    assertThat(config.sslContext().getProtocol()).isEqualTo("TLS");
    assertThat(config.toString()).doesNotContain("BEGIN");
  }

  @Test
  void readsTokensFilesAndTheContextsNamespace() throws IOException {
    Files.writeString(dir.resolve("token"), "s3cret\n");
    String yaml =
        """
        current-context: b
        contexts:
        - {name: a, context: {cluster: x, user: u}}
        - {name: b, context: {cluster: x, user: u, namespace: shop}}
        clusters: [{name: x, cluster: {server: "https://k:6443", insecure-skip-tls-verify: true}}]
        users: [{name: u, user: {tokenFile: token}}]
        """;
    Kubeconfig config = Kubeconfig.parse(yaml, dir);
    assertThat(config.token()).contains("s3cret");
    assertThat(config.namespace()).isEqualTo("shop");
    assertThat(config.insecure()).isTrue();
    assertThat(config.toString()).doesNotContain("s3cret");
  }

  @Test
  void refusesWhatItCannotUse() {
    String plugin =
        """
        current-context: c
        contexts: [{name: c, context: {cluster: x, user: u}}]
        clusters: [{name: x, cluster: {server: "https://k:6443"}}]
        users: [{name: u, user: {exec: {command: aws}}}]
        """;
    assertThatThrownBy(() -> Kubeconfig.parse(plugin, dir))
        .hasMessageContaining("credential plugin");
    assertThatThrownBy(() -> Kubeconfig.parse("current-context: c\n", dir))
        .hasMessageContaining("no context named 'c'");
    assertThatThrownBy(() -> Kubeconfig.parse("kind: Config\n", dir))
        .hasMessageContaining("no current-context");
    String noServer =
        """
        current-context: c
        contexts: [{name: c, context: {cluster: x}}]
        clusters: [{name: x, cluster: {}}]
        """;
    assertThatThrownBy(() -> Kubeconfig.parse(noServer, dir)).hasMessageContaining("no server");
    assertThatThrownBy(() -> Kubeconfig.load(dir.resolve("missing.yaml")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("does not exist");
  }
}
