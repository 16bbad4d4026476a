package io.edgefleet.e2e.trust;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.controller.trust.TrustOptions;
import io.edgefleet.device.tpm.TpmDevice;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.Swtpm;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Device trust end to end with real parts only: a software TPM (swtpm, its EK certified by its own
 * CA), the controller trusting that CA, and an agent whose key lives in that TPM applying its
 * desired state to a real kube-apiserver. Enrollment proves the TPM; a secret becomes a Kubernetes
 * Secret and never touches the agent's disk in the clear; a changed boot measurement quarantines
 * the device (its secrets withdrawn, apps not kept in quarantine removed, nothing new delivered);
 * an operator's accept restores everything; replayed and foreign quotes change nothing.
 */
class TrustKubeIT {
  static final KubeCluster KUBE = KubeCluster.shared();
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String VALUE = "tpm-bound-s3cret-41c7e9";
  private static final String LATE = "late-s3cret-while-quarantined-8b2d";

  @TempDir Path dir;

  private final KubernetesClient kube = KUBE.client();

  @Test
  void aTpmDeviceOnKubernetesIsQuarantinedWhenItsBootChangesAndRestoredWhenAccepted()
      throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    String ns = KUBE.newNamespace("trust");
    // Each app in a namespace of its own: apps sharing one would each claim its Namespace object.
    String keptNs = KUBE.newNamespace("trust-kept");
    String stoppedNs = KUBE.newNamespace("trust-stopped");
    try (Swtpm swtpm = Swtpm.start();
        Swtpm foreign = Swtpm.start();
        TestController controller =
            TestController.start(
                TestController.config(dir.resolve("controller"))
                    .withTrust(TrustOptions.defaults().withTpmCa(swtpm.caDirectory())));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = controller.admin();
      AdminClient.Answer token =
          admin.post(
              "/api/v1/onboarding-tokens",
              Map.of("name", "tpm-" + suffix, "requireTpm", true, "tags", Map.of("site", suffix)));
      assertThat(token.status()).as(token.body().toString()).isEqualTo(201);
      AgentOptions options =
          agents
              .options(
                  "edge",
                  agents.bootstrap(
                      "edge",
                      controller.url(),
                      controller.caFingerprint(),
                      token.body().path("token").asText()))
              .withTpm(swtpm.endpoint().toString())
              .withReconcileInterval(Duration.ofSeconds(1));
      Spy spy = new Spy();
      Agent agent = start(agents, options, spy);

      // a) Enrolled with the TPM: identity tpm, TRUSTED, no private key on disk.
      await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();
      JsonNode enrolled = device(admin, id);
      assertThat(enrolled.path("identity").asText()).isEqualTo("tpm");
      assertThat(trust(admin, id)).isEqualTo("TRUSTED");
      assertThat(Files.exists(options.stateDir().resolve("tpm-key.json"))).isTrue();
      assertThat(Files.exists(options.stateDir().resolve("device.key"))).isFalse();
      assertNoFileHolds(options.stateDir(), "PRIVATE KEY");

      // Two apps: one kept running in quarantine, one not.
      String kept = "kept-" + suffix;
      String stopped = "stopped-" + suffix;
      push(admin, kept, keptNs);
      push(admin, stopped, stoppedNs);
      deploy(admin, kept, suffix, true);
      deploy(admin, stopped, suffix, false);
      await()
          .atMost(WAIT)
          .until(() -> configMap(keptNs, kept) != null && configMap(stoppedNs, stopped) != null);

      // b) A secret for the device becomes a Kubernetes Secret; its value is on no file.
      AdminClient.Answer created = admin.post("/api/v1/secrets", secret("db", suffix, ns, VALUE));
      assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
      Secret db = await().atMost(WAIT).until(() -> secret(ns, "db"), s -> s != null);
      assertThat(decoded(db, "password")).isEqualTo(VALUE);
      assertNoValue(options.stateDir(), VALUE);

      // c) The boot changes: something new is measured into PCR 7 while the agent is down (the
      // swtpm serves one connection at a time). A genuine quote of this TPM over a nonce of our own
      // is kept for (e), as is one of another TPM.
      agent.close();
      TpmQuote stale;
      try (TpmDevice tpm = TpmDevice.open(swtpm.endpoint().toString())) {
        stale = tpm.quote(nonce(), TrustOptions.DEFAULT_PCRS, null);
        tpm.tpm().pcrExtend(7, TpmDevice.sha256("another db key".getBytes(StandardCharsets.UTF_8)));
      }
      TpmQuote alien;
      try (TpmDevice tpm = TpmDevice.open(foreign.endpoint().toString())) {
        alien = tpm.quote(nonce(), TrustOptions.DEFAULT_PCRS, null);
      }
      Agent rebooted = start(agents, options, spy);
      await()
          .atMost(WAIT)
          .alias("quarantined after the reconnect")
          .until(() -> "QUARANTINED".equals(trust(admin, id)));
      assertThat(device(admin, id).path("trust").path("reason").asText()).contains("PCR 7");
      JsonNode attestation = admin.get("/api/v1/devices/" + id + "/attestation").body();
      assertThat(attestation.path("pcrs").get(7).path("differs").asBoolean()).isTrue();
      assertThat(attestation.path("pcrs").get(0).path("differs").asBoolean()).isFalse();
      // The agent withdraws the secret and the app not kept in quarantine.
      await().atMost(WAIT).until(() -> secret(ns, "db") == null);
      await().atMost(WAIT).until(() -> configMap(stoppedNs, stopped) == null);
      assertThat(rebooted.quarantined()).isTrue();
      assertThat(configMap(keptNs, kept)).isNotNull();
      // A secret created now is not delivered: the controller refuses it, nothing reaches the node.
      assertThat(admin.post("/api/v1/secrets", secret("late", suffix, ns, LATE)).status())
          .isEqualTo(201);
      await()
          .during(Duration.ofSeconds(3))
          .atMost(Duration.ofSeconds(5))
          .until(
              () ->
                  secret(ns, "late") == null
                      && secret(ns, "db") == null
                      && configMap(stoppedNs, stopped) == null
                      && configMap(keptNs, kept) != null);

      // d) The operator accepts the new boot: TRUSTED, audited, everything back.
      AdminClient.Answer accepted =
          admin.post("/api/v1/devices/" + id + "/attestation/accept", Map.of());
      assertThat(accepted.status()).as(accepted.body().toString()).isEqualTo(200);
      assertThat(trust(admin, id)).isEqualTo("TRUSTED");
      assertThat(admin.get("/api/v1/audit?action=device.attestation").body().toString())
          .contains("device.attestation.accept")
          .contains(id);
      await().atMost(WAIT).until(() -> secret(ns, "db") != null && secret(ns, "late") != null);
      assertThat(decoded(secret(ns, "db"), "password")).isEqualTo(VALUE);
      assertThat(decoded(secret(ns, "late"), "password")).isEqualTo(LATE);
      await().atMost(WAIT).until(() -> configMap(stoppedNs, stopped) != null);
      assertThat(rebooted.quarantined()).isFalse();

      // e) A replayed quote of this TPM and a quote of another TPM, sent on the device's own
      // connection as answers to challenges that are not outstanding: refused, trust unchanged.
      long refusedBefore = controller.controller().trust().attestations().refused();
      assertThat(spy.send(new AgentMessage.AttestationAnswer("att-replayed", stale, null)))
          .isTrue();
      assertThat(spy.send(new AgentMessage.AttestationAnswer("att-foreign", alien, null))).isTrue();
      await()
          .atMost(WAIT)
          .until(
              () -> controller.controller().trust().attestations().refused() >= refusedBefore + 2);
      String events =
          await()
              .atMost(WAIT)
              .until(
                  () -> admin.get("/api/v1/events?device=" + id).body().toString(),
                  e -> e.contains("ATTESTATION_REFUSED"));
      assertThat(events).contains("an answer to no outstanding challenge");
      assertThat(trust(admin, id)).isEqualTo("TRUSTED");
      assertThat(controller.controller().trust().devices().quarantined(id)).isFalse();
      assertThat(secret(ns, "db")).isNotNull();

      // Nothing the agent wrote holds a value, in the clear or base64.
      assertNoValue(options.stateDir(), VALUE);
      assertNoValue(options.stateDir(), LATE);
      assertNoFileHolds(options.stateDir(), "PRIVATE KEY");
      rebooted.close();
    } finally {
      KUBE.deleteNamespace(ns);
      KUBE.deleteNamespace(keptNs);
      KUBE.deleteNamespace(stoppedNs);
    }
  }

  /** Holds the agent's connection so the test can send on it as the device. */
  static final class Spy implements AgentFeature {
    private volatile Channel channel;

    boolean send(AgentMessage m) {
      Channel c = channel;
      return c != null && c.send(m);
    }

    @Override
    public void connected(Channel channel, ControllerMessage.Welcome welcome) {
      this.channel = channel;
    }

    @Override
    public void disconnected() {
      channel = null;
    }

    @Override
    public boolean handle(ControllerMessage message) {
      return false;
    }

    @Override
    public void close() {
      channel = null;
    }
  }

  private static Agent start(TestAgents agents, AgentOptions options, Spy spy) {
    return agents.start(
        options, Clock.systemUTC(), new KubernetesRuntime(KUBE.kubeconfig()), List.of(a -> spy));
  }

  private static byte[] nonce() {
    byte[] n = new byte[32];
    new SecureRandom().nextBytes(n);
    return n;
  }

  private static JsonNode device(AdminClient admin, String id) {
    return admin.get("/api/v1/devices/" + id).body();
  }

  private static String trust(AdminClient admin, String id) {
    return device(admin, id).path("trust").path("state").asText();
  }

  private static Map<String, Object> secret(String name, String site, String ns, String value) {
    return Map.of(
        "name",
        name,
        "stringData",
        Map.of("password", value),
        "target",
        "site=" + site,
        "namespace",
        ns);
  }

  private Secret secret(String ns, String name) {
    return kube.secrets().inNamespace(ns).withName(name).get();
  }

  private ConfigMap configMap(String ns, String name) {
    return kube.configMaps().inNamespace(ns).withName(name).get();
  }

  private static String decoded(Secret s, String key) {
    return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
  }

  /** Pushes a one-ConfigMap chart named {@code app} to the catalog, its ConfigMap in {@code ns}. */
  private void push(AdminClient admin, String app, String ns) throws Exception {
    Path chart = dir.resolve("charts").resolve(app);
    Files.createDirectories(chart.resolve("templates"));
    Files.writeString(
        chart.resolve("Chart.yaml"), "apiVersion: v2\nname: " + app + "\nversion: 1.0.0\n");
    Files.writeString(chart.resolve("values.yaml"), "namespace: " + ns + "\n");
    Files.writeString(
        chart.resolve("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "
            + app
            + "\n  namespace: {{ .Values.namespace }}\ndata:\n  mode: \"on\"\n");
    Path archive = dir.resolve(app + ".tgz");
    Process tar =
        new ProcessBuilder(
                "tar", "-czf", archive.toString(), "-C", chart.getParent().toString(), app)
            .redirectErrorStream(true)
            .start();
    assertThat(tar.waitFor()).as(new String(tar.getInputStream().readAllBytes())).isZero();
    AdminClient.Answer pushed =
        admin.post(
            "/api/v1/catalog/apps/" + app + "/versions",
            Map.of(
                "version",
                "1.0.0",
                "kind",
                "chart",
                "archive",
                Base64.getEncoder().encodeToString(Files.readAllBytes(archive))));
    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
  }

  private static void deploy(AdminClient admin, String app, String site, boolean keep) {
    AdminClient.Answer a =
        admin.post(
            "/api/v1/deployments",
            Map.of(
                "app",
                app,
                "version",
                "1.0.0",
                "target",
                "site=" + site,
                "keepInQuarantine",
                keep));
    assertThat(a.status()).as(a.body().toString()).isEqualTo(201);
  }

  private static void assertNoValue(Path stateDir, String value) throws IOException {
    assertNoFileHolds(stateDir, value);
    assertNoFileHolds(
        stateDir, Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8)));
  }

  private static void assertNoFileHolds(Path stateDir, String needle) throws IOException {
    try (Stream<Path> files = Files.walk(stateDir)) {
      List<Path> all = files.filter(Files::isRegularFile).toList();
      assertThat(all).isNotEmpty();
      for (Path f : all) {
        String content = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
        assertThat(content).as("%s holds %s", f, needle).doesNotContain(needle);
      }
    }
  }
}
