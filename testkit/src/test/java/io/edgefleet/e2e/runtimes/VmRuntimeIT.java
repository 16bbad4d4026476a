package io.edgefleet.e2e.runtimes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.artifacts.BlobCache;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.DriftRepair;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.vm.VmRuntime;
import io.edgefleet.testkit.vm.TinyVms;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The VM runtime against real QEMU (software emulation here, KVM where the node has it): a tiny VM
 * (Debian's cloud kernel and an initramfs with BusyBox) boots, turns ready on its serial line,
 * serves HTTP on a forwarded port, is restarted after its QEMU is killed, restarted on a changed
 * spec, found again by a new runtime object without a reboot, and removed without a trace. Disks
 * are qcow2 overlays: the disk image blob is never written.
 */
class VmRuntimeIT {
  private static final Duration BOOT = Duration.ofSeconds(120);
  private static final String READY = "EDGEFLEET-VM-READY";

  private static byte[] httpInitrd;
  private static String kernelDigest;

  @TempDir Path state;
  private Path vmState;
  private BlobCache blobs;
  private final List<VmRuntime> runtimes = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void tinyVm() {
    TinyVms.kernel();
    httpInitrd = TinyVms.initramfs(READY, 8080, "hello from the guest");
  }

  @BeforeEach
  void cache() {
    kernelDigest = TinyVms.putBlob(state, TinyVms.kernel());
    blobs = BlobCache.open(state, 0);
    vmState = state.resolve("vms");
  }

  @AfterEach
  void killEverything() throws IOException {
    for (VmRuntime r : runtimes) {
      r.close();
    }
    // Every QEMU this test started, whatever state the runtime was left in.
    if (Files.isDirectory(vmState)) {
      try (Stream<Path> files = Files.walk(vmState)) {
        for (Path pid : files.filter(p -> p.endsWith("qemu.pid")).toList()) {
          long n = Long.parseLong(Files.readString(pid).strip());
          ProcessHandle.of(n)
              .ifPresent(
                  h -> {
                    h.destroyForcibly();
                    h.onExit().orTimeout(10, TimeUnit.SECONDS).join();
                  });
        }
      }
    }
  }

  private VmRuntime runtime() {
    VmRuntime r =
        new VmRuntime(
            VmRuntime.Options.detect(vmState, blobs).withStopGrace(Duration.ofSeconds(2)));
    runtimes.add(r);
    return r;
  }

  private String vmYaml(String name, String initrd, int hostPort, String readiness, String extra) {
    return """
        apiVersion: edgefleet.io/v1
        kind: VirtualMachine
        metadata: {name: %s}
        spec:
          kernel: %s
          initrd: %s
          cmdline: "%s"
          cpus: 1
          memory: 96Mi
          networks: [{type: user, forwards: [{host: %d, guest: 8080}]}]
          readiness: %s
        %s"""
        .formatted(
            name, kernelDigest, initrd, TinyVms.CMDLINE, hostPort, readiness, extra.indent(2));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private long pid(String app, String vm) throws IOException {
    return Long.parseLong(
        Files.readString(vmState.resolve("apps").resolve(app).resolve(vm).resolve("qemu.pid"))
            .strip());
  }

  private static Instant startOf(long pid) {
    return ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).orElseThrow();
  }

  private static String httpGet(int port) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write("GET /index.html HTTP/1.0\r\nHost: vm\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private Duration awaitReady(WorkloadRuntime r, String app) {
    long t0 = System.nanoTime();
    await()
        .atMost(BOOT)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> r.health(app).state() == AppHealth.State.READY);
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  @Test
  void bootsReadyOnItsSerialLineServesItsPortAndSurvivesAnAgentRestart() throws Exception {
    VmRuntime r = runtime();
    String initrd = TinyVms.putBlob(state, httpInitrd);
    int port = freePort();
    String yaml = vmYaml("kiosk", initrd, port, "{serial: " + READY + ", timeout: 2m}", "");

    long t0 = System.nanoTime();
    assertThat(r.apply("shop", "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    awaitReady(r, "shop");
    System.out.printf(
        "VM boot to ready (serial line, %s): %d ms%n",
        Files.isWritable(Path.of("/dev/kvm")) ? "KVM" : "software emulation",
        Duration.ofNanos(System.nanoTime() - t0).toMillis());
    assertThat(r.health("shop").reason()).contains("VirtualMachine kiosk ready");
    assertThat(httpGet(port)).contains("200 OK").contains("hello from the guest");
    assertThat(r.ownedApps()).containsExactly("shop");

    // The same revision again: nothing to do.
    assertThat(r.apply("shop", "r1", yaml)).isEqualTo(new ApplyOutcome.InSync());

    // The serial console is the VM's log.
    assertThat(r.logSources("shop"))
        .containsExactly(new WorkloadRuntime.LogSource("shop", "kiosk", VmRuntime.SERIAL));
    List<String> lines = new CopyOnWriteArrayList<>();
    List<String> ends = new CopyOnWriteArrayList<>();
    r.readLogs(
        new WorkloadRuntime.LogSource("shop", "kiosk", VmRuntime.SERIAL),
        new WorkloadRuntime.LogQuery(5, false, Instant.EPOCH),
        sink(lines, ends));
    await().atMost(Duration.ofSeconds(10)).until(() -> !ends.isEmpty());
    assertThat(ends).containsExactly("completed");
    assertThat(lines).contains(READY).hasSizeLessThanOrEqualTo(5);

    // An agent restart: a new runtime object finds the VM running and leaves it be.
    long pid = pid("shop", "kiosk");
    Instant started = startOf(pid);
    r.close();
    VmRuntime again = runtime();
    assertThat(again.ownedApps()).containsExactly("shop");
    assertThat(again.health("shop").state()).isEqualTo(AppHealth.State.READY);
    assertThat(again.apply("shop", "r1", yaml)).isEqualTo(new ApplyOutcome.InSync());
    assertThat(pid("shop", "kiosk")).isEqualTo(pid);
    assertThat(startOf(pid)).isEqualTo(started);
    assertThat(httpGet(port)).contains("hello from the guest");
    // A new revision with the same VM: not a restart either.
    assertThat(again.apply("shop", "r2", yaml)).isEqualTo(new ApplyOutcome.InSync());
    assertThat(pid("shop", "kiosk")).isEqualTo(pid);

    // Removed: QEMU ends, its files go.
    assertThat(again.remove("shop")).isEqualTo(new ApplyOutcome.Applied(0, 1));
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(vmState.resolve("apps").resolve("shop")).doesNotExist();
    assertThat(again.ownedApps()).isEmpty();
    assertThat(again.health("shop").state()).isEqualTo(AppHealth.State.MISSING);
    assertThat(again.remove("shop")).isEqualTo(new ApplyOutcome.InSync());
  }

  @Test
  void tcpReadinessWaitsForTheGuestNotForQemusListener() throws Exception {
    VmRuntime r = runtime();
    int port = freePort();
    // The guest prints its line but serves nothing: QEMU still accepts on the host port.
    String silent = TinyVms.putBlob(state, TinyVms.initramfs(READY, 0, ""));
    String yaml = vmYaml("quiet", silent, port, "{tcp: {port: " + port + "}, timeout: 2m}", "");
    assertThat(r.apply("silent", "r1", yaml)).isInstanceOf(ApplyOutcome.Applied.class);
    Path serial = vmState.resolve("apps/silent/quiet/serial.log");
    await()
        .atMost(BOOT)
        .until(() -> Files.exists(serial) && Files.readString(serial).contains(READY));
    // Booted, and the host port takes connections, yet nothing listens in the guest.
    try (Socket s = new Socket("127.0.0.1", port)) {
      assertThat(s.isConnected()).isTrue();
    }
    assertThat(r.health("silent").state()).isEqualTo(AppHealth.State.PROGRESSING);
    assertThat(r.health("silent").reason()).contains("port " + port + " accepts no connection");

    // The same with a guest that serves the port: ready.
    int port2 = freePort();
    String http = TinyVms.putBlob(state, httpInitrd);
    String yaml2 = vmYaml("web", http, port2, "{tcp: {port: " + port2 + "}, timeout: 2m}", "");
    long t0 = System.nanoTime();
    assertThat(r.apply("web", "r1", yaml2)).isInstanceOf(ApplyOutcome.Applied.class);
    awaitReady(r, "web");
    System.out.printf(
        "VM boot to ready (TCP port): %d ms%n",
        Duration.ofNanos(System.nanoTime() - t0).toMillis());
    assertThat(httpGet(port2)).contains("hello from the guest");
    assertThat(r.remove("silent")).isEqualTo(new ApplyOutcome.Applied(0, 1));
    assertThat(r.remove("web")).isEqualTo(new ApplyOutcome.Applied(0, 1));
  }

  @Test
  void aKilledQemuIsRestartedByTheNextApplyAndReported() throws Exception {
    VmRuntime r = runtime();
    String initrd = TinyVms.putBlob(state, httpInitrd);
    int port = freePort();
    String yaml = vmYaml("kiosk", initrd, port, "{serial: " + READY + "}", "restart: always");
    r.apply("shop", "r1", yaml);
    awaitReady(r, "shop");
    long pid = pid("shop", "kiosk");

    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    await().atMost(Duration.ofSeconds(10)).until(() -> ProcessHandle.of(pid).isEmpty());
    AppHealth dead = r.health("shop");
    assertThat(dead.state()).isEqualTo(AppHealth.State.FAILED);
    assertThat(dead.reason()).contains("QEMU exited").contains("restarted by the next reconcile");

    assertThat(r.apply("shop", "r1", yaml))
        .isEqualTo(
            new ApplyOutcome.Applied(
                1,
                0,
                List.of(new DriftRepair("VirtualMachine shop/kiosk", DriftRepair.Cause.DELETED))));
    assertThat(pid("shop", "kiosk")).isNotEqualTo(pid);
    awaitReady(r, "shop");
    assertThat(r.health("shop").reason()).contains("restarted 1 time (last: QEMU exited)");
    assertThat(httpGet(port)).contains("hello from the guest");
    // The previous boot's console is kept beside the new one.
    assertThat(vmState.resolve("apps/shop/kiosk/serial.log.1")).content().contains(READY);

    // restart: never leaves a killed VM down, and says so.
    String never = vmYaml("kiosk", initrd, port, "{serial: " + READY + "}", "restart: never");
    assertThat(r.apply("shop", "r2", never)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    awaitReady(r, "shop");
    long pid2 = pid("shop", "kiosk");
    ProcessHandle.of(pid2).orElseThrow().destroyForcibly();
    await().atMost(Duration.ofSeconds(10)).until(() -> ProcessHandle.of(pid2).isEmpty());
    assertThat(r.apply("shop", "r2", never)).isEqualTo(new ApplyOutcome.InSync());
    assertThat(r.health("shop").reason()).contains("restart: never keeps it off");
    assertThat(r.remove("shop")).isEqualTo(new ApplyOutcome.Applied(0, 1));
  }

  @Test
  void aChangedSpecRestartsTheVmWithIt() throws Exception {
    VmRuntime r = runtime();
    String initrd = TinyVms.putBlob(state, httpInitrd);
    int port = freePort();
    String yaml = vmYaml("kiosk", initrd, port, "{serial: " + READY + "}", "");
    r.apply("shop", "r1", yaml);
    awaitReady(r, "shop");
    long pid = pid("shop", "kiosk");

    String bigger = yaml.replace("memory: 96Mi", "memory: 128Mi");
    assertThat(r.apply("shop", "r2", bigger)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    long next = pid("shop", "kiosk");
    assertThat(next).isNotEqualTo(pid);
    assertThat(ProcessHandle.of(next).orElseThrow().info().arguments().orElseThrow())
        .containsSequence("-m", "128M");
    awaitReady(r, "shop");
    assertThat(httpGet(port)).contains("hello from the guest");

    // A second VM added, then the first dropped: one started, then one pruned.
    int port2 = freePort();
    String two = bigger + "---\n" + vmYaml("till", initrd, port2, "{serial: " + READY + "}", "");
    assertThat(r.apply("shop", "r3", two)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    assertThat(pid("shop", "kiosk")).isEqualTo(next);
    awaitReady(r, "shop");
    assertThat(r.health("shop").reason()).isEqualTo("all 2 virtual machines ready");
    String onlyTill = vmYaml("till", initrd, port2, "{serial: " + READY + "}", "");
    assertThat(r.apply("shop", "r4", onlyTill)).isEqualTo(new ApplyOutcome.Applied(0, 1));
    assertThat(ProcessHandle.of(next).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(vmState.resolve("apps/shop/kiosk")).doesNotExist();
    assertThat(r.remove("shop")).isEqualTo(new ApplyOutcome.Applied(0, 1));
  }

  @Test
  void theDiskIsAnOverlayAndTheImageBlobIsNeverWritten() throws Exception {
    VmRuntime r = runtime();
    // A raw disk image made here: 4 MiB whose first bytes say what it is.
    byte[] raw = new byte[4 << 20];
    byte[] label = "pristine image".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(label, 0, raw, 0, label.length);
    String image = TinyVms.putBlob(state, raw);
    Path blob = blobs.find(image).orElseThrow();
    String initrd = TinyVms.putBlob(state, TinyVms.initramfs(READY, 0, "", "written by the guest"));
    String yaml =
        vmYaml(
            "store",
            initrd,
            freePort(),
            "{serial: " + READY + "}",
            "disk: {image: " + image + ", format: raw, size: 64Mi}");
    assertThat(r.apply("disks", "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    awaitReady(r, "disks");

    Path dir = vmState.resolve("apps/disks/store");
    List<Path> overlays = overlays(dir);
    assertThat(overlays).hasSize(1);
    Path overlay = overlays.get(0);
    String info = qemuImg("info", "-U", "--output=json", overlay.toString());
    assertThat(info)
        .contains("\"format\": \"qcow2\"")
        .contains("\"backing-filename\": \"" + blob.toAbsolutePath() + "\"")
        .contains("\"virtual-size\": " + (64L << 20));
    // The guest's write is in the overlay, and the blob still holds exactly what it held.
    assertThat(TinyVms.sha256(Files.readAllBytes(blob))).isEqualTo(image.substring(7));
    assertThat(firstBytes(overlay, "qcow2")).startsWith("written by the guest");
    assertThat(new String(Files.readAllBytes(blob), 0, 14, StandardCharsets.US_ASCII))
        .isEqualTo("pristine image");

    // Restarted (killed, then reconciled): the same overlay, with what the guest wrote.
    long pid = pid("disks", "store");
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    await().atMost(Duration.ofSeconds(10)).until(() -> ProcessHandle.of(pid).isEmpty());
    Object fileKey = Files.readAttributes(overlay, "unix:ino").get("ino");
    assertThat(r.apply("disks", "r1", yaml)).isInstanceOf(ApplyOutcome.Applied.class);
    assertThat(overlays(dir)).containsExactly(overlay);
    assertThat(Files.readAttributes(overlay, "unix:ino").get("ino")).isEqualTo(fileKey);
    awaitReady(r, "disks");

    // A new image: a new overlay, the old one deleted.
    byte[] raw2 = raw.clone();
    raw2[100] = 1;
    String image2 = TinyVms.putBlob(state, raw2);
    assertThat(r.apply("disks", "r2", yaml.replace(image, image2)))
        .isEqualTo(new ApplyOutcome.Applied(1, 0));
    assertThat(overlays(dir)).hasSize(1).doesNotContain(overlay);
    assertThat(TinyVms.sha256(Files.readAllBytes(blob))).isEqualTo(image.substring(7));

    assertThat(r.remove("disks")).isEqualTo(new ApplyOutcome.Applied(0, 1));
    assertThat(dir).doesNotExist();
  }

  @Test
  void theGuestFindsItsCloudInitSeed() throws Exception {
    VmRuntime r = runtime();
    // The guest prints the volume id of its first disk (ISO 9660: at byte 40 of sector 16) and
    // whether the user data is on it.
    String probe =
        "echo SEED:$(dd if=/dev/vda bs=2048 skip=16 count=1 2>/dev/null"
            + " | dd bs=1 skip=40 count=6 2>/dev/null) > /dev/ttyS0\n"
            + "strings /dev/vda | grep -q hello-from-user-data && echo USERDATA-SEEN > /dev/ttyS0";
    String initrd = TinyVms.putBlob(state, TinyVms.initramfs(READY, 0, "", "", probe));
    String yaml =
        vmYaml(
            "seeded",
            initrd,
            freePort(),
            "{serial: " + READY + "}",
            "cloudInit: {userData: \"#cloud-config\\n# hello-from-user-data\\n\"}");
    assertThat(r.apply("ci", "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    awaitReady(r, "ci");
    Path dir = vmState.resolve("apps/ci/seeded");
    assertThat(dir.resolve("seed/meta-data")).content().isEqualTo("instance-id: ci-seeded\n");
    assertThat(dir.resolve("seed/user-data"))
        .content()
        .isEqualTo("#cloud-config\n# hello-from-user-data\n");
    assertThat(dir.resolve("serial.log"))
        .content()
        .contains("SEED:cidata")
        .contains("USERDATA-SEEN");
    assertThat(r.remove("ci")).isEqualTo(new ApplyOutcome.Applied(0, 1));
  }

  @Test
  void aMissingBlobIsWaitedFor() {
    VmRuntime r = runtime();
    String absent = "sha256:" + "ab".repeat(32);
    String yaml = vmYaml("kiosk", absent, 10022, "{serial: x}", "");
    ApplyOutcome o = r.apply("shop", "r1", yaml);
    assertThat(o).isInstanceOf(ApplyOutcome.RetryAfter.class);
    assertThat(((ApplyOutcome.RetryAfter) o).reason())
        .isEqualTo("initrd sha256:abababababab… of VirtualMachine kiosk is not on the device yet");
    assertThat(r.ownedApps()).isEmpty();
  }

  private static List<Path> overlays(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().matches("disk-.*\\.qcow2")).toList();
    }
  }

  /** The first bytes of a disk image as the guest sees them, read by qemu-img. */
  private Path scratch() throws IOException {
    return Files.createTempDirectory(state, "scratch");
  }

  private String firstBytes(Path image, String format) throws Exception {
    Path out = scratch().resolve("disk.raw");
    qemuImg("convert", "-U", "-f", format, "-O", "raw", image.toString(), out.toString());
    byte[] head = new byte[64];
    try (InputStream in = Files.newInputStream(out)) {
      int n = in.readNBytes(head, 0, head.length);
      return new String(head, 0, n, StandardCharsets.US_ASCII);
    }
  }

  private static String qemuImg(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("qemu-img"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  private static WorkloadRuntime.LogSink sink(List<String> lines, List<String> ends) {
    return new WorkloadRuntime.LogSink() {
      @Override
      public void line(Instant at, String line) {
        lines.add(line);
      }

      @Override
      public void completed() {
        ends.add("completed");
      }

      @Override
      public void failed(String reason) {
        ends.add("failed: " + reason);
      }
    };
  }
}
