package io.edgefleet.e2e.runtimes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.artifacts.ArtifactsFeature;
import io.edgefleet.agent.artifacts.BlobCache;
import io.edgefleet.agent.runtime.RuntimeRouter;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.vm.VmRuntime;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.vm.TinyVms;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VirtualMachine app from a real controller to a real agent: the controller holds the guest's
 * kernel and initramfs as artifacts and sends the app (runtime {@code vm}, both blobs in its
 * artifacts); the agent downloads them over its own connection, boots the VM with QEMU (software
 * emulation here), and reports it ready once the guest's serial console says so; a QEMU killed
 * behind its back is booted again by the agent and reported ready again. Prints the time from the
 * agent's start to the app reported ready at the controller.
 */
class VmAppIT {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @TempDir Path dir;

  final String app = "vm-" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);

  @Test
  void theControllerDeliversAVmAppThatTheAgentBootsAndKeepsRunning() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    byte[] kernel = Files.readAllBytes(TinyVms.kernel());
    byte[] initrd = TinyVms.initramfs("historian ready", 8080, "historian of " + app);
    ArtifactRef kernelRef = new ArtifactRef(Fingerprints.sha256(kernel), kernel.length);
    ArtifactRef initrdRef = new ArtifactRef(Fingerprints.sha256(initrd), initrd.length);
    String yaml =
        """
        apiVersion: edgefleet.io/v1
        kind: VirtualMachine
        metadata: {name: historian}
        spec:
          kernel: %s
          initrd: %s
          cmdline: "%s"
          cpus: 1
          memory: 96Mi
          networks: [{type: user, forwards: [{host: %d, guest: 8080}]}]
          readiness: {serial: "historian ready", timeout: 90s}
        """
            .formatted(kernelRef.digest(), initrdRef.digest(), TinyVms.CMDLINE, port);
    AppCatalog catalog =
        new AppCatalog() {
          @Override
          public List<App> apps() {
            return List.of(new App(app, "embedded", "v1", tags -> true));
          }

          @Override
          public Rendered render(App a, Map<String, String> tags, String kubeVersion) {
            return new Rendered(
                yaml,
                Fingerprints.sha256(yaml.getBytes(StandardCharsets.UTF_8)),
                DeviceFacts.RUNTIME_VM,
                List.of(kernelRef, initrdRef));
          }
        };
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    WorkloadRuntime runtime = null;
    Path vms = null;
    try (TestController controller =
            TestController.start(TestController.config(dir.resolve("controller")), catalog);
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin()) {
      for (Map.Entry<String, byte[]> blob :
          Map.of("vmlinuz", kernel, "initrd", initrd).entrySet()) {
        AdminClient.Answer pushed =
            admin.postBytes(
                "/api/v1/artifacts?kind=vm-boot&version=" + blob.getKey() + "-1",
                blob.getValue(),
                "application/octet-stream",
                Map.of("X-Edgefleet-Digest", Fingerprints.sha256(blob.getValue())));
        assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
      }

      String token = controller.token(Map.of("site", "s1"), null, false);
      AgentOptions options =
          agents.options(
              "v1", agents.bootstrap("v1", controller.url(), controller.caFingerprint(), token));
      BlobCache cache = BlobCache.open(options.stateDir(), 0);
      vms = options.stateDir().resolve("vms");
      runtime =
          new RuntimeRouter(
              Map.of(
                  DeviceFacts.RUNTIME_VM,
                  new VmRuntime(
                      VmRuntime.Options.detect(vms, cache).withStopGrace(Duration.ofSeconds(2)))));
      long started = System.nanoTime();
      Agent agent =
          agents.start(
              options,
              Clock.systemUTC(),
              runtime,
              List.of(
                  a ->
                      ArtifactsFeature.forAgent(
                          a,
                          cache,
                          TestAgents.fastArtifacts(),
                          timer,
                          Clock.systemUTC(),
                          System.out)));
      await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();
      JsonNode device = admin.get("/api/v1/devices/" + id).body();
      assertThat(device.path("facts").path("runtimes"))
          .extracting(JsonNode::asText)
          .containsExactly(DeviceFacts.RUNTIME_VM);

      // Downloaded, booted, ready on its serial line, reported ready; the guest serves its page.
      await().atMost(WAIT).until(() -> "READY".equals(state(admin, id)));
      System.out.printf(
          "VM-METRIC agent start to VM app READY at the controller (download, boot, serial"
              + " readiness, report): %.1f s%n",
          (System.nanoTime() - started) / 1e9);
      await().atMost(WAIT).until(() -> get(port).equals("200 historian of " + app + "\n"));

      // QEMU killed behind the agent's back: its next pass boots the VM again.
      long first = qemuPid(vms);
      ProcessHandle.of(first).orElseThrow().destroyForcibly();
      Path vmDir = vms;
      await()
          .atMost(WAIT)
          .until(
              () -> {
                long now = qemuPidOrZero(vmDir);
                return now != 0 && now != first && ProcessHandle.of(now).isPresent();
              });
      await().atMost(WAIT).until(() -> get(port).startsWith("200 "));
      await().atMost(WAIT).until(() -> "READY".equals(state(admin, id)));
    } finally {
      timer.shutdownNow();
      if (runtime != null) {
        runtime.remove(app);
        runtime.close();
      }
      if (vms != null) {
        long left = qemuPidOrZero(vms);
        if (left != 0) {
          ProcessHandle.of(left).ifPresent(ProcessHandle::destroyForcibly);
        }
      }
    }
  }

  private String state(AdminClient admin, String device) {
    for (JsonNode d : admin.get("/api/v1/apps/" + app + "/status").body().path("devices")) {
      if (d.path("deviceId").asText().equals(device)) {
        return d.path("state").asText();
      }
    }
    return "";
  }

  private static long qemuPid(Path vms) throws IOException {
    long pid = qemuPidOrZero(vms);
    assertThat(pid).as("a running QEMU under " + vms).isNotZero();
    return pid;
  }

  private static long qemuPidOrZero(Path vms) throws IOException {
    if (!Files.isDirectory(vms)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(vms)) {
      for (Path p : files.filter(f -> f.endsWith("qemu.pid")).toList()) {
        try {
          long pid = Long.parseLong(Files.readString(p).strip());
          if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            return pid;
          }
        } catch (IOException | NumberFormatException e) {
          // Being written or removed: look again on the next poll.
        }
      }
    }
    return 0;
  }

  private static String get(int port) {
    try {
      HttpResponse<String> r =
          HTTP.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/index.html"))
                  .timeout(Duration.ofSeconds(5))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return r.statusCode() + " " + r.body();
    } catch (Exception e) {
      return e.toString();
    }
  }
}
