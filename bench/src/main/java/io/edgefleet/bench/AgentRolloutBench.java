package io.edgefleet.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.cli.TarGz;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Signatures;
import io.edgefleet.simulator.Simulator;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestController;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The agent rollout benchmark: a controller and N simulated devices in this process; a signed agent
 * release of a realistic size is pushed and rolled out to every device with a canary and waves;
 * prints the time to push, until the first device confirmed the new agent and until all did (each
 * device downloads the release in ranges, checks its digest and signature, switches slots and
 * reconnects as the new agent). Run by {@code bench/agent-rollout.sh}; reports figures, asserts
 * nothing.
 */
public final class AgentRolloutBench {
  static final String POLICY =
      "canary: 10\nwaves: [10%, 40%, 50%]\nsuccessThreshold: 98%\nprogressDeadline: 10m\n"
          + "onFailure: pause\n";

  private AgentRolloutBench() {}

  public static void main(String[] args) throws Exception {
    int devices = 1000;
    int releaseBytes = 8 * 1024 * 1024;
    Path out = null;
    Path work = Files.createTempDirectory("edgefleet-agent-rollout");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--devices" -> devices = Integer.parseInt(args[++i]);
        case "--release-mib" -> releaseBytes = Integer.parseInt(args[++i]) * 1024 * 1024;
        case "--out" -> out = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    PrintStream log = System.out;
    KeyPair key = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Path pub = work.resolve("release.pub");
    Files.writeString(pub, Signatures.publicKeyPem(key.getPublic()));
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("devices", devices);
    result.put("policy", POLICY.strip().replace('\n', ' '));
    try (TestController controller =
        TestController.start(
            TestController.config(work.resolve("controller"))
                .withAgentReleaseKeys(List.of(pub))
                .withRolloutTick(Duration.ofSeconds(1)))) {
      AdminClient admin = controller.admin();
      Path bootstrap = work.resolve("bootstrap.json");
      Files.writeString(
          bootstrap,
          Json.write(
              Bootstrap.of(
                  controller.url(),
                  controller.caFingerprint(),
                  controller.token(Map.of("fleet", "bench"), null, false))));
      Simulator sim =
          Simulator.start(
              Simulator.Options.of(bootstrap, devices, work.resolve("sim"))
                  .withMaxBackoff(Duration.ofSeconds(5)),
              log);
      try {
        long t0 = System.nanoTime();
        while (sim.connected() < devices) {
          sleep(t0, Duration.ofMinutes(5), "devices to connect");
        }
        log.printf("%d devices connected in %.1f s%n", devices, secs(t0));

        byte[] file = release("0.2.0", "amd64", releaseBytes);
        result.put("releaseBytes", file.length);
        String digest =
            "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file));
        AgentRelease sig =
            AgentRelease.sign(
                key.getPrivate(), key.getPublic(), "0.2.0", "amd64", digest, file.length);
        long push = System.nanoTime();
        AdminClient.Answer pushed =
            admin.postBytes(
                "/api/v1/agent-releases",
                file,
                "application/octet-stream",
                Map.of(
                    "X-Edgefleet-Signature",
                    Base64.getEncoder().encodeToString(Json.writeBytes(sig))));
        if (pushed.status() != 201) {
          throw new IllegalStateException("push failed: " + pushed.body());
        }
        double pushSeconds = secs(push);
        result.put("pushSeconds", round(pushSeconds));
        log.printf("pushed %d bytes in %.2f s%n", file.length, pushSeconds);

        long start = System.nanoTime();
        JsonNode plan =
            admin
                .post(
                    "/api/v1/agent-releases/0.2.0/rollout",
                    Map.of("target", "fleet=bench", "rollout", POLICY))
                .body();
        String id = plan.path("rolloutId").asText();
        log.printf("rollout %s started: %s%n", id, plan.path("batches"));
        Double first = null;
        String state = "";
        while (true) {
          long confirmed = sim.agentUpdatesConfirmed();
          if (first == null && confirmed > 0) {
            first = secs(start);
            log.printf("first device confirmed after %.1f s%n", first);
          }
          state = admin.get("/api/v1/rollouts/" + id).body().path("state").asText();
          if (confirmed >= devices || !state.equals("PROGRESSING")) {
            break;
          }
          sleep(start, Duration.ofMinutes(30), "the rollout");
        }
        double all = secs(start);
        result.put("firstConfirmedSeconds", first == null ? null : round(first));
        result.put("allConfirmedSeconds", round(all));
        result.put("confirmed", sim.agentUpdatesConfirmed());
        result.put("rolloutState", state);
        // The rollout ends once the engine saw the last batch's reports.
        long end = System.nanoTime();
        while (state.equals("PROGRESSING")) {
          sleep(end, Duration.ofMinutes(2), "the rollout to end");
          state = admin.get("/api/v1/rollouts/" + id).body().path("state").asText();
        }
        result.put("rolloutState", state);
        result.put("rolloutSucceededSeconds", round(secs(start)));
        result.put("agentVersions", sim.agentVersions());
        result.put("at", Instant.now().toString());
      } finally {
        sim.close();
      }
    }
    String json = Json.pretty(result);
    log.println(json);
    if (out != null) {
      Files.createDirectories(out.toAbsolutePath().getParent());
      Files.writeString(out, json + "\n");
    }
  }

  static byte[] release(String version, String arch, int jarBytes) {
    byte[] jar = new byte[jarBytes];
    new Random(1).nextBytes(jar);
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
    return TarGz.write(files);
  }

  private static void sleep(long since, Duration limit, String what) throws InterruptedException {
    if (System.nanoTime() - since > limit.toNanos()) {
      throw new IllegalStateException("gave up waiting for " + what + " after " + limit);
    }
    // Polling interval of a benchmark loop (not a synchronisation between threads).
    Thread.sleep(200);
  }

  private static double secs(long since) {
    return (System.nanoTime() - since) / 1e9;
  }

  private static double round(double s) {
    return Math.round(s * 100) / 100.0;
  }
}
