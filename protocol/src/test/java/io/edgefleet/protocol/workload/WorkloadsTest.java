package io.edgefleet.protocol.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkloadsTest {
  static final String IMAGE = "sha256:" + "a".repeat(64);
  static final String DISK = "sha256:" + "b".repeat(64);
  static final String KERNEL = "sha256:" + "c".repeat(64);

  static Map<String, Object> doc(String kind, String name, Map<String, Object> spec) {
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("apiVersion", "edgefleet.io/v1");
    d.put("kind", kind);
    d.put("metadata", Map.of("name", name));
    d.put("spec", spec);
    return d;
  }

  static Map<String, Object> configMap() {
    return Map.of("apiVersion", "v1", "kind", "ConfigMap", "metadata", Map.of("name", "x"));
  }

  @Test
  void aFullContainerIsRead() {
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("image", IMAGE);
    spec.put("command", List.of("/bin/httpd"));
    spec.put("args", List.of("-f", "-p", 8080));
    spec.put("env", Map.of("MODE", "edge", "LEVEL", 3));
    spec.put("ports", List.of(Map.of("host", 18080, "container", 8080)));
    spec.put(
        "volumes",
        List.of(
            Map.of("name", "data", "mountPath", "/data"),
            Map.of("hostPath", "/dev/shm", "mountPath", "/shm", "readOnly", true)));
    spec.put("restart", "on-failure");
    spec.put("resources", Map.of("cpus", "0.5", "memory", "64Mi"));
    spec.put("devices", List.of("/dev/ttyUSB0", "nvidia.com/gpu=all"));
    spec.put(
        "healthCheck",
        Map.of("http", Map.of("port", 8080, "path", "/health"), "interval", "5s", "retries", 2));
    Workloads w = Workloads.of(List.of(doc("Container", "web", spec)));

    assertThat(w.runtime()).isEqualTo("container");
    ContainerSpec c = w.containers().getFirst();
    assertThat(c.name()).isEqualTo("web");
    assertThat(c.args()).containsExactly("-f", "-p", "8080");
    assertThat(c.env()).containsEntry("LEVEL", "3");
    assertThat(c.ports()).containsExactly(new ContainerSpec.Port(18080, 8080, "tcp", "0.0.0.0"));
    assertThat(c.volumes().get(1).readOnly()).isTrue();
    assertThat(c.memoryBytes()).isEqualTo(64L << 20);
    assertThat(c.healthCheck().httpPath()).isEqualTo("/health");
    assertThat(c.healthCheck().interval()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.healthCheck().timeout()).isEqualTo(Duration.ofSeconds(3));
    assertThat(w.blobs()).containsExactly(IMAGE);
  }

  @Test
  void aVirtualMachineIsRead() {
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("disk", Map.of("image", DISK, "format", "raw"));
    spec.put("kernel", KERNEL);
    spec.put("cmdline", "console=ttyS0");
    spec.put("cpus", 2);
    spec.put("memory", "128Mi");
    spec.put(
        "networks",
        List.of(Map.of("type", "user", "forwards", List.of(Map.of("host", 2222, "guest", 22)))));
    spec.put("usb", List.of(Map.of("vendor", "0x0403", "product", "0x6001")));
    spec.put("readiness", Map.of("tcp", Map.of("port", 2222)));
    Workloads w = Workloads.of(List.of(doc("VirtualMachine", "hmi", spec)));

    assertThat(w.runtime()).isEqualTo("vm");
    VmSpec v = w.vms().getFirst();
    assertThat(v.memoryBytes()).isEqualTo(128L << 20);
    assertThat(v.readiness().tcpPort()).isEqualTo(2222);
    assertThat(v.readiness().timeout()).isEqualTo(Duration.ofMinutes(10));
    assertThat(w.blobs()).containsExactly(DISK, KERNEL);
  }

  @Test
  void kubernetesObjectsAloneAreKubernetes() {
    assertThat(Workloads.of(List.of(configMap())).runtime()).isEqualTo("kubernetes");
    assertThat(Workloads.of(List.of()).runtime()).isEqualTo("kubernetes");
  }

  @Test
  void mixingKindsIsRefused() {
    assertThatThrownBy(
            () -> Workloads.of(List.of(configMap(), doc("Container", "a", Map.of("image", IMAGE)))))
        .isInstanceOf(WorkloadSpecException.class)
        .hasMessageContaining("cannot be mixed");
  }

  @Test
  void errorsNameTheDocumentAndField() {
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("image", IMAGE);
    spec.put("ports", List.of(Map.of("container", 80), Map.of("container", 81, "hostt", 1)));
    assertThatThrownBy(
            () ->
                Workloads.of(
                    List.of(
                        doc("Container", "first", Map.of("image", IMAGE)),
                        doc("Container", "a", spec))))
        .isInstanceOf(WorkloadSpecException.class)
        .satisfies(
            e -> {
              WorkloadSpecException w = (WorkloadSpecException) e;
              assertThat(w.path()).isEqualTo("documents[1].spec.ports[1].hostt");
              assertThat(w.detail()).contains("is not a field here");
            });
  }

  @Test
  void badValuesSayWhatIsExpected() {
    assertRefused(Map.of("image", "busybox:latest"), "spec.image", "pinned by digest");
    assertRefused(
        Map.of("image", IMAGE, "restart", "sometimes"),
        "spec.restart",
        "always, on-failure, never");
    assertRefused(
        Map.of("image", IMAGE, "resources", Map.of("memory", "lots")),
        "spec.resources.memory",
        "512Mi");
    assertRefused(
        Map.of("image", IMAGE, "devices", List.of("/dev/../etc/shadow")),
        "spec.devices[0]",
        "/dev");
    assertRefused(
        Map.of("image", IMAGE, "volumes", List.of(Map.of("mountPath", "/x"))),
        "spec.volumes[0].name",
        "exactly one");
    assertRefused(
        Map.of(
            "image",
            IMAGE,
            "healthCheck",
            Map.of("exec", List.of("true"), "tcp", Map.of("port", 1))),
        "spec.healthCheck.exec",
        "exactly one");
    assertRefused(
        Map.of(
            "image",
            IMAGE,
            "ports",
            List.of(Map.of("container", 80, "host", 8080), Map.of("container", 81, "host", 8080))),
        "spec.ports[1].host",
        "twice");
  }

  @Test
  void aRegistryReferencePinnedByDigestIsAcceptedButNotABlob() {
    Workloads w =
        Workloads.of(
            List.of(
                doc("Container", "a", Map.of("image", "registry.example:5000/edge/app@" + IMAGE))));
    assertThat(w.containers().getFirst().imageIsDigest()).isFalse();
    assertThat(w.blobs()).isEmpty();
    assertThat(w.containers().getFirst().withImage(IMAGE).imageIsDigest()).isTrue();
  }

  @Test
  void vmRulesAreChecked() {
    assertVmRefused(Map.of("cpus", 2), "spec.disk", "disk, a kernel");
    assertVmRefused(
        Map.of("disk", Map.of("image", DISK), "initrd", KERNEL), "spec.kernel", "required");
    assertVmRefused(
        Map.of("disk", Map.of("image", DISK), "readiness", Map.of("tcp", Map.of("port", 2222))),
        "spec.readiness.tcp.port",
        "forwarded");
    assertVmRefused(
        Map.of("disk", Map.of("image", DISK), "pci", List.of("1:2")), "spec.pci[0]", "PCI");
    assertVmRefused(
        Map.of("disk", Map.of("image", DISK), "networks", List.of(Map.of("type", "bridge"))),
        "spec.networks[0].bridge",
        "bridge");
  }

  @Test
  void namesAreDnsLabelsAndUnique() {
    assertThatThrownBy(() -> Workloads.of(List.of(doc("Container", "Web", Map.of("image", IMAGE)))))
        .hasMessageContaining("documents[0].metadata.name");
    assertThatThrownBy(
            () ->
                Workloads.of(
                    List.of(
                        doc("Container", "a", Map.of("image", IMAGE)),
                        doc("Container", "a", Map.of("image", IMAGE)))))
        .hasMessageContaining("used twice");
    assertThatThrownBy(() -> Workloads.of(List.of(doc("Pod", "a", Map.of()))))
        .hasMessageContaining("documents[0].kind");
  }

  private static void assertRefused(Map<String, Object> spec, String path, String says) {
    assertThatThrownBy(() -> Workloads.of(List.of(doc("Container", "a", spec))))
        .isInstanceOf(WorkloadSpecException.class)
        .satisfies(
            e -> {
              assertThat(((WorkloadSpecException) e).path()).isEqualTo("documents[0]." + path);
              assertThat(e.getMessage()).contains(says);
            });
  }

  private static void assertVmRefused(Map<String, Object> spec, String path, String says) {
    assertThatThrownBy(() -> Workloads.of(List.of(doc("VirtualMachine", "v", spec))))
        .isInstanceOf(WorkloadSpecException.class)
        .satisfies(
            e -> {
              assertThat(((WorkloadSpecException) e).path()).isEqualTo("documents[0]." + path);
              assertThat(e.getMessage()).contains(says);
            });
  }
}
