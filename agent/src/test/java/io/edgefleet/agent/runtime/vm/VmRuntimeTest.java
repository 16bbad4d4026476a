package io.edgefleet.agent.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.Blobs;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the VM runtime refuses or waits for before it starts anything (no QEMU is run here). */
class VmRuntimeTest {
  private static final String KERNEL = "sha256:" + "e".repeat(64);
  @TempDir Path dir;

  private VmRuntime runtime(Blobs blobs) {
    return new VmRuntime(
        new VmRuntime.Options(
            dir.resolve("vms"),
            blobs,
            Path.of("/nonexistent/qemu-system-x86_64"),
            Path.of("/nonexistent/qemu-img"),
            Optional.empty(),
            "x86_64",
            false,
            2,
            1L << 30,
            Duration.ofSeconds(1),
            Duration.ofSeconds(5),
            1 << 20,
            Clock.systemUTC()));
  }

  private static String vm(String name, String extra) {
    return """
        apiVersion: edgefleet.io/v1
        kind: VirtualMachine
        metadata: {name: %s}
        spec:
          kernel: %s
        %s"""
        .formatted(name, KERNEL, extra.indent(2));
  }

  @Test
  void otherKindsOfWorkloadAreRefused() {
    VmRuntime r = runtime(Blobs.NONE);
    ApplyOutcome o =
        r.apply(
            "shop",
            "1",
            "apiVersion: edgefleet.io/v1\nkind: Container\nmetadata: {name: web}\n"
                + "spec: {image: \"sha256:"
                + "c".repeat(64)
                + "\"}\n");
    assertThat(o)
        .isEqualTo(
            new ApplyOutcome.Failed(
                "the app holds Container documents, not VirtualMachine documents: this is the"
                    + " node's VM runtime"));
    assertThat(r.apply("shop", "1", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"))
        .isInstanceOf(ApplyOutcome.Failed.class);
  }

  @Test
  void anInvalidDocumentIsRefusedNamingTheField() {
    ApplyOutcome o = runtime(Blobs.NONE).apply("shop", "1", vm("pos", "cpus: many"));
    assertThat(o).isInstanceOf(ApplyOutcome.Failed.class);
    assertThat(((ApplyOutcome.Failed) o).reason())
        .startsWith("documents[0].spec.cpus: must be a whole number");
    assertThat(runtime(Blobs.NONE).apply("shop", "1", "a: [b"))
        .isInstanceOf(ApplyOutcome.Failed.class);
  }

  @Test
  void moreCpusOrMemoryThanTheNodeHasAreRefused() {
    VmRuntime r = runtime(d -> Optional.of(dir));
    assertThat(r.apply("shop", "1", vm("pos", "cpus: 4")))
        .isEqualTo(
            new ApplyOutcome.Failed(
                "VirtualMachine pos asks for 4 CPUs; this node has 2: lower spec.cpus"));
    ApplyOutcome memory =
        r.apply("shop", "1", vm("pos", "memory: 768Mi") + "---\n" + vm("till", "memory: 512Mi"));
    assertThat(((ApplyOutcome.Failed) memory).reason())
        .isEqualTo(
            "the app's VMs ask for 1280 MiB of memory, other apps' VMs hold 0 MiB, and this node"
                + " has 1024 MiB: lower spec.memory or run fewer VMs on this node");
    assertThat(r.ownedApps()).isEmpty();
  }

  @Test
  void aBlobNotOnTheDeviceYetIsWaitedFor() {
    ApplyOutcome o = runtime(Blobs.NONE).apply("shop", "1", vm("pos", ""));
    assertThat(o)
        .isEqualTo(
            new ApplyOutcome.RetryAfter(
                Duration.ofSeconds(30),
                "kernel sha256:eeeeeeeeeeee… of VirtualMachine pos is not on the device yet"));
  }

  @Test
  void anAppWithoutVmsIsMissingOwnsNothingAndHasNoLogs() {
    VmRuntime r = runtime(Blobs.NONE);
    assertThat(r.health("shop"))
        .isEqualTo(new AppHealth(AppHealth.State.MISSING, "no virtual machines"));
    assertThat(r.remove("shop")).isEqualTo(new ApplyOutcome.InSync());
    assertThat(r.ownedApps()).isEmpty();
    assertThat(r.logSources("shop")).isEmpty();
    List<String> failures = new ArrayList<>();
    r.readLogs(
        new WorkloadRuntime.LogSource("shop", "pos", VmRuntime.SERIAL),
        new WorkloadRuntime.LogQuery(10, true, Instant.EPOCH),
        new WorkloadRuntime.LogSink() {
          @Override
          public void line(Instant at, String line) {}

          @Override
          public void completed() {}

          @Override
          public void failed(String reason) {
            failures.add(reason);
          }
        });
    assertThat(failures).containsExactly("app shop has no virtual machine pos here");
  }

  @Test
  void appNamesAreLabelsAndAClosedRuntimeRefusesCalls() {
    VmRuntime r = runtime(Blobs.NONE);
    assertThatThrownBy(() -> r.health("../etc"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("DNS label");
    r.close();
    assertThatThrownBy(() -> r.apply("shop", "1", vm("pos", "")))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aStateDirectoryTooDeepForControlSocketsIsRefused() {
    Path deep = dir.resolve("x".repeat(120));
    assertThatThrownBy(
            () ->
                new VmRuntime(
                    new VmRuntime.Options(
                        deep,
                        Blobs.NONE,
                        Path.of("q"),
                        Path.of("i"),
                        Optional.empty(),
                        "x86_64",
                        false,
                        1,
                        0,
                        Duration.ofSeconds(1),
                        Duration.ofSeconds(1),
                        1 << 20,
                        Clock.systemUTC())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("too deep");
  }
}
