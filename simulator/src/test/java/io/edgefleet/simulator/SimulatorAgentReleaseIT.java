package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Signatures;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestController;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Signed agent releases over the real HTTPS API with simulated devices: a release pushed with its
 * signature, refused when the signature is bad, the key untrusted, the file tampered with or the
 * archive malformed; rolled out with a canary and waves to a fleet whose devices download it in
 * ranges, check it, switch to it and confirm (success judged from their slot reports); rolled out
 * to a fleet whose devices roll it back, which fails the canary and rolls the rollout back.
 */
class SimulatorAgentReleaseIT {
  static final int N = 12;
  static final String POLICY =
      "canary: 2\nwaves: [50%, 50%]\nprogressDeadline: 2m\nonFailure: rollback\n";

  @TempDir Path dir;

  @Test
  void aSignedReleaseRollsOutToSimulatedDevicesAndAFailingCanaryRollsBack() throws Exception {
    KeyPair key = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Path pub = dir.resolve("release.pub");
    Files.writeString(pub, Signatures.publicKeyPem(key.getPublic()));
    try (TestController controller =
        TestController.start(
            TestController.config(dir.resolve("controller")).withAgentReleaseKeys(List.of(pub)))) {
      AdminClient admin = controller.admin();
      assertThat(
              admin
                  .get("/api/v1/agent-releases/keys")
                  .body()
                  .path("items")
                  .get(0)
                  .path("id")
                  .asText())
          .isEqualTo(Signatures.keyId(key.getPublic()));

      byte[] file = release("0.2.0", "amd64", 700_000);
      AgentRelease sig = sign(key, "0.2.0", "amd64", file);

      // Refusals leave nothing behind.
      KeyPair stranger = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
      assertThat(push(admin, file, sign(stranger, "0.2.0", "amd64", file)).code())
          .isEqualTo("AGENT_RELEASE_KEY_UNTRUSTED");
      AgentRelease forged =
          new AgentRelease(
              "0.2.1", "amd64", sig.digest(), sig.size(), sig.keyId(), sig.signature());
      assertThat(push(admin, file, forged).code()).isEqualTo("AGENT_RELEASE_SIGNATURE_INVALID");
      byte[] tampered = file.clone();
      tampered[1000] ^= 0x55;
      AdminClient.Answer t = push(admin, tampered, sig);
      assertThat(t.code()).isEqualTo("AGENT_RELEASE_SIGNATURE_INVALID");
      assertThat(t.status()).isEqualTo(422);
      byte[] withLink = malformed();
      assertThat(push(admin, withLink, sign(key, "0.2.0", "amd64", withLink)).code())
          .isEqualTo("AGENT_RELEASE_MALFORMED");
      assertThat(admin.get("/api/v1/agent-releases").body().path("items")).isEmpty();
      assertThat(admin.get("/api/v1/artifacts").body().path("items")).isEmpty();

      AdminClient.Answer pushed = push(admin, file, sig);
      assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
      assertThat(pushed.body().path("digest").asText()).isEqualTo(sig.digest());
      assertThat(push(admin, file, sig).code()).isEqualTo("AGENT_RELEASE_EXISTS");

      // Fleet a: every device confirms the new agent.
      Simulator a = fleet(controller, "a", 0);
      try {
        await().atMost(Duration.ofSeconds(60)).until(() -> a.connected() == N);
        assertThat(a.releaseKey(sig.keyId())).isEqualTo(key.getPublic());
        JsonNode plan =
            admin
                .post(
                    "/api/v1/agent-releases/0.2.0/rollout",
                    Map.of("target", "fleet=a", "rollout", POLICY, "dryRun", true))
                .body();
        assertThat(plan.path("devices").asInt()).as(plan.toString()).isEqualTo(N);
        assertThat(plan.hasNonNull("rolloutId")).isFalse();
        assertThat(plan.path("batches").get(0).path("devices").asInt()).isEqualTo(2);
        assertThat(a.agentVersions()).containsOnlyKeys(SimulatedAgent.INITIAL_VERSION);

        AdminClient.Answer started =
            admin.post(
                "/api/v1/agent-releases/0.2.0/rollout",
                Map.of("target", "fleet=a", "rollout", POLICY));
        assertThat(started.status()).as(started.body().toString()).isEqualTo(201);
        String id = started.body().path("rolloutId").asText();
        await()
            .atMost(Duration.ofSeconds(90))
            .untilAsserted(
                () ->
                    assertThat(admin.get("/api/v1/rollouts/" + id).body().path("state").asText())
                        .isEqualTo("SUCCEEDED"));
        assertThat(a.agentVersions()).isEqualTo(Map.of("0.2.0", N));
        assertThat(a.agentUpdatesConfirmed()).isEqualTo(N);
        // The devices reconnected as the new agent; the release cannot go while it is the target.
        await()
            .atMost(Duration.ofSeconds(10))
            .untilAsserted(
                () -> {
                  JsonNode devices = admin.get("/api/v1/devices?limit=100").body().path("items");
                  for (JsonNode d : devices) {
                    if (d.path("tags").path("fleet").asText().equals("a")) {
                      assertThat(d.path("agentVersion").asText()).isEqualTo("0.2.0");
                    }
                  }
                });
        assertThat(admin.delete("/api/v1/agent-releases/0.2.0").code())
            .isEqualTo("AGENT_RELEASE_IN_USE");
        // What each device reported of its slots, and the fleet's versions.
        String one =
            admin.get("/api/v1/devices?limit=100").body().path("items").get(0).path("id").asText();
        JsonNode slots = admin.get("/api/v1/devices/" + one + "/agent").body();
        assertThat(slots.path("active").asText()).isEqualTo("b");
        assertThat(slots.path("slotA").asText()).isEqualTo(SimulatedAgent.INITIAL_VERSION);
        assertThat(slots.path("slotB").asText()).isEqualTo("0.2.0");
        assertThat(slots.path("updatePhase").asText()).isEqualTo("confirmed");
        assertThat(
                admin
                    .get("/api/v1/fleet/summary?selector=fleet%3Da")
                    .body()
                    .path("agentVersions")
                    .path("0.2.0")
                    .asInt())
            .isEqualTo(N);
      } finally {
        a.close();
      }
      // Devices that come back after a restart of the simulator still trust the release key.
      try (Simulator again = fleet(controller, "a", 0)) {
        assertThat(again.releaseKey(sig.keyId())).isEqualTo(key.getPublic());
      }

      // Fleet b: the new agent fails its trial everywhere; the canary fails, the rollout rolls
      // back.
      Simulator b = fleet(controller, "b", 1.0);
      try {
        await().atMost(Duration.ofSeconds(60)).until(() -> b.connected() == N);
        AdminClient.Answer started =
            admin.post(
                "/api/v1/agent-releases/0.2.0/rollout",
                Map.of("target", "fleet=b", "rollout", POLICY));
        assertThat(started.status()).as(started.body().toString()).isEqualTo(201);
        String id = started.body().path("rolloutId").asText();
        await()
            .atMost(Duration.ofSeconds(90))
            .untilAsserted(
                () ->
                    assertThat(admin.get("/api/v1/rollouts/" + id).body().path("state").asText())
                        .isEqualTo("ROLLED_BACK"));
        JsonNode view = admin.get("/api/v1/rollouts/" + id + "?devices=true").body();
        assertThat(view.toString()).contains("rolled back").contains("trial window");
        // Only the canary was released (the first failure fails it at once): the other devices
        // never heard of the release, and every device runs its previous agent again.
        await()
            .atMost(Duration.ofSeconds(30))
            .untilAsserted(
                () ->
                    assertThat(b.agentVersions())
                        .isEqualTo(Map.of(SimulatedAgent.INITIAL_VERSION, N)));
        assertThat(b.agentUpdatesRolledBack()).isBetween(1L, 2L);
        assertThat(b.agentUpdatesConfirmed()).isZero();
        // The devices' reports are events of theirs.
        await()
            .atMost(Duration.ofSeconds(10))
            .untilAsserted(
                () ->
                    assertThat(
                            admin
                                .get("/api/v1/events?selector=fleet%3Db&limit=500")
                                .body()
                                .toString())
                        .contains("agent update to 0.2.0 rolled back")
                        .contains("trial window"));

        // A version without a release for the devices' architecture: the preflight names them;
        // forced, they fail their step with that reason.
        byte[] arm = release("0.3.0", "aarch64", 1000);
        assertThat(push(admin, arm, sign(key, "0.3.0", "aarch64", arm)).status()).isEqualTo(201);
        JsonNode dry =
            admin
                .post(
                    "/api/v1/agent-releases/0.3.0/rollout",
                    Map.of("target", "fleet=b", "dryRun", true))
                .body();
        assertThat(dry.path("problems").get(0).path("code").asText())
            .isEqualTo("NO_RELEASE_FOR_ARCH");
        assertThat(dry.path("problems").get(0).path("devices").asInt()).isEqualTo(N);
        AdminClient.Answer refused =
            admin.post("/api/v1/agent-releases/0.3.0/rollout", Map.of("target", "fleet=b"));
        assertThat(refused.code()).isEqualTo("PREFLIGHT_FAILED");
        assertThat(refused.body().toString()).contains("run on amd64").contains("--force");
        AdminClient.Answer forced =
            admin.post(
                "/api/v1/agent-releases/0.3.0/rollout",
                Map.of("target", "fleet=b", "rollout", POLICY, "force", true));
        assertThat(forced.status()).as(forced.body().toString()).isEqualTo(201);
        String forcedId = forced.body().path("rolloutId").asText();
        await()
            .atMost(Duration.ofSeconds(60))
            .untilAsserted(
                () -> {
                  JsonNode v = admin.get("/api/v1/rollouts/" + forcedId + "?devices=true").body();
                  assertThat(v.path("state").asText()).isEqualTo("ROLLED_BACK");
                  assertThat(v.toString())
                      .contains("no release of the agent 0.3.0 for its architecture");
                });
      } finally {
        b.close();
      }
    }
  }

  private Simulator fleet(TestController controller, String name, double failRate)
      throws Exception {
    Path bootstrap = dir.resolve("bootstrap-" + name + ".json");
    Files.writeString(
        bootstrap,
        Json.write(
            Bootstrap.of(
                controller.url(),
                controller.caFingerprint(),
                controller.token(Map.of("fleet", name), null, false))));
    return Simulator.start(
        Simulator.Options.of(bootstrap, N, dir.resolve("sim-" + name))
            .withMaxBackoff(Duration.ofSeconds(2))
            .withAgentUpdateFailRate(failRate),
        System.out);
  }

  static AdminClient.Answer push(AdminClient admin, byte[] file, AgentRelease sig) {
    return admin.postBytes(
        "/api/v1/agent-releases",
        file,
        "application/octet-stream",
        Map.of("X-Edgefleet-Signature", Base64.getEncoder().encodeToString(Json.writeBytes(sig))));
  }

  static AgentRelease sign(KeyPair key, String version, String arch, byte[] file) throws Exception {
    String digest =
        "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file));
    return AgentRelease.sign(key.getPrivate(), key.getPublic(), version, arch, digest, file.length);
  }

  /** A release file whose jar is {@code jarBytes} of incompressible bytes. */
  static byte[] release(String version, String arch, int jarBytes) throws Exception {
    byte[] jar = new byte[jarBytes];
    new Random(7).nextBytes(jar);
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put(
        "release.json",
        Json.writeBytes(
            new AgentReleaseManifest(
                AgentReleaseManifest.FORMAT,
                version,
                arch,
                "io.edgefleet.agent.command.AgentMain",
                List.of())));
    files.put("lib/edgefleet-agent.jar", jar);
    return tar(files, null);
  }

  static byte[] malformed() throws Exception {
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put(
        "release.json",
        Json.writeBytes(
            new AgentReleaseManifest(
                AgentReleaseManifest.FORMAT, "0.2.0", "amd64", "a.Main", List.of())));
    files.put("lib/a.jar", new byte[] {1});
    TarArchiveEntry link = new TarArchiveEntry("lib/b.jar", TarArchiveEntry.LF_SYMLINK);
    link.setLinkName("/etc/passwd");
    return tar(files, link);
  }

  static byte[] tar(Map<String, byte[]> files, TarArchiveEntry special) throws Exception {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(buf))) {
      for (Map.Entry<String, byte[]> f : files.entrySet()) {
        TarArchiveEntry e = new TarArchiveEntry(f.getKey(), true);
        e.setSize(f.getValue().length);
        tar.putArchiveEntry(e);
        tar.write(f.getValue());
        tar.closeArchiveEntry();
      }
      if (special != null) {
        tar.putArchiveEntry(special);
        tar.closeArchiveEntry();
      }
      tar.finish();
    }
    return buf.toByteArray();
  }
}
