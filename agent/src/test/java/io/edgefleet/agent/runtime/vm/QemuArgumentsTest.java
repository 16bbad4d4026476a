package io.edgefleet.agent.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.workload.VmSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class QemuArgumentsTest {
  private static final String DISK = "sha256:" + "d".repeat(64);
  private static final String KERNEL = "sha256:" + "e".repeat(64);

  private static VmSpec spec(String specYaml) {
    return VmDocuments.parse(
            """
            apiVersion: edgefleet.io/v1
            kind: VirtualMachine
            metadata: {name: historian}
            spec:
            """
                + specYaml.indent(2))
        .vms()
        .get(0);
  }

  private static QemuArguments.Launch launch(boolean kvm, Optional<QemuArguments.Seed> seed) {
    return new QemuArguments.Launch(
        Path.of("/usr/bin/qemu-system-x86_64"),
        "x86_64",
        "plant-historian",
        kvm,
        Optional.of(Path.of("/var/lib/vms/apps/plant/historian/disk-ddd.qcow2")),
        Optional.empty(),
        Optional.empty(),
        seed,
        Path.of("/var/lib/vms/apps/plant/historian/serial.log"),
        Path.of("/var/lib/vms/qmp/abc.sock"),
        Path.of("/var/lib/vms/apps/plant/historian/qemu.pid"));
  }

  /** The value following {@code option} each time it occurs. */
  private static List<String> values(List<String> args, String option) {
    List<String> out = new java.util.ArrayList<>();
    for (int i = 0; i < args.size() - 1; i++) {
      if (args.get(i).equals(option)) {
        out.add(args.get(i + 1));
      }
    }
    return out;
  }

  @Test
  void aDiskVmWithUserNetworkingForwardsItsPortsAndRunsDaemonized() {
    VmSpec vm =
        spec(
            """
            disk: {image: %s, format: qcow2, size: 20Gi}
            cpus: 2
            memory: 1500Mi
            networks: [{type: user, forwards: [{host: 2222, guest: 22}, {host: 5353, guest: 53, protocol: udp}]}]
            """
                .formatted(DISK));
    List<String> a = QemuArguments.of(vm, launch(false, Optional.empty()));
    assertThat(a.get(0)).isEqualTo("/usr/bin/qemu-system-x86_64");
    assertThat(values(a, "-accel")).containsExactly("tcg");
    assertThat(a).doesNotContain("-cpu");
    assertThat(values(a, "-machine")).containsExactly("q35");
    assertThat(values(a, "-smp")).containsExactly("2");
    assertThat(values(a, "-m")).containsExactly("1500M");
    assertThat(a).contains("-daemonize", "-no-shutdown", "-nodefaults");
    assertThat(values(a, "-pidfile")).containsExactly("/var/lib/vms/apps/plant/historian/qemu.pid");
    assertThat(values(a, "-qmp"))
        .containsExactly("unix:/var/lib/vms/qmp/abc.sock,server=on,wait=off");
    assertThat(values(a, "-chardev"))
        .containsExactly(
            "file,id=serial0,append=on,path=/var/lib/vms/apps/plant/historian/serial.log");
    assertThat(values(a, "-drive"))
        .containsExactly(
            "if=none,id=disk0,format=qcow2,discard=unmap,"
                + "file=/var/lib/vms/apps/plant/historian/disk-ddd.qcow2");
    assertThat(values(a, "-netdev"))
        .containsExactly("user,id=net0,hostfwd=tcp::2222-:22,hostfwd=udp::5353-:53");
    assertThat(values(a, "-device"))
        .containsExactly(
            "virtio-blk-pci,drive=disk0,bootindex=1",
            "virtio-net-pci,netdev=net0,mac=" + QemuArguments.mac("plant-historian", 0));
    assertThat(a).doesNotContain("-kernel", "-append");
  }

  @Test
  void kvmUsesTheHostCpu() {
    List<String> a =
        QemuArguments.of(spec("disk: {image: %s}".formatted(DISK)), launch(true, Optional.empty()));
    assertThat(values(a, "-accel")).containsExactly("kvm");
    assertThat(values(a, "-cpu")).containsExactly("host");
  }

  @Test
  void bridgeUsbAndPciDevicesBecomeQemuDevices() {
    VmSpec vm =
        spec(
            """
            disk: {image: %s}
            networks: [{type: user}, {type: bridge, bridge: br0}]
            usb: [{vendor: "0x0403", product: "0x6001"}, {vendor: "0x1A86", product: "0x7523"}]
            pci: ["0000:01:00.0"]
            """
                .formatted(DISK));
    List<String> a = QemuArguments.of(vm, launch(false, Optional.empty()));
    assertThat(values(a, "-netdev")).containsExactly("user,id=net0", "bridge,id=net1,br=br0");
    assertThat(values(a, "-device"))
        .containsExactly(
            "virtio-blk-pci,drive=disk0,bootindex=1",
            "virtio-net-pci,netdev=net0,mac=" + QemuArguments.mac("plant-historian", 0),
            "virtio-net-pci,netdev=net1,mac=" + QemuArguments.mac("plant-historian", 1),
            "qemu-xhci,id=usb",
            "usb-host,bus=usb.0,vendorid=0x0403,productid=0x6001",
            "usb-host,bus=usb.0,vendorid=0x1a86,productid=0x7523",
            "vfio-pci,host=0000:01:00.0");
  }

  @Test
  void directKernelBootAndCloudInitSeeds() {
    VmSpec vm =
        spec(
            """
            kernel: %s
            initrd: %s
            cmdline: "console=ttyS0 quiet"
            """
                .formatted(KERNEL, DISK));
    QemuArguments.Launch iso =
        new QemuArguments.Launch(
            Path.of("/usr/bin/qemu-system-x86_64"),
            "x86_64",
            "plant-historian",
            false,
            Optional.empty(),
            Optional.of(Path.of("/blobs/sha256/eee")),
            Optional.of(Path.of("/blobs/sha256/ddd")),
            Optional.of(new QemuArguments.Seed(Path.of("/vms/seed.iso"), false)),
            Path.of("/vms/serial.log"),
            Path.of("/vms/q.sock"),
            Path.of("/vms/qemu.pid"));
    List<String> a = QemuArguments.of(vm, iso);
    assertThat(values(a, "-kernel")).containsExactly("/blobs/sha256/eee");
    assertThat(values(a, "-initrd")).containsExactly("/blobs/sha256/ddd");
    assertThat(values(a, "-append")).containsExactly("console=ttyS0 quiet");
    assertThat(values(a, "-drive"))
        .containsExactly("if=none,id=seed0,format=raw,readonly=on,file=/vms/seed.iso");
    assertThat(values(a, "-device")).containsExactly("virtio-blk-pci,drive=seed0");

    // Without an ISO writer QEMU shows the seed's directory as a FAT disk labelled cidata.
    QemuArguments.Launch dir =
        new QemuArguments.Launch(
            iso.binary(),
            iso.arch(),
            iso.name(),
            false,
            Optional.empty(),
            iso.kernel(),
            iso.initrd(),
            Optional.of(new QemuArguments.Seed(Path.of("/vms,odd/seed"), true)),
            iso.serialLog(),
            iso.qmpSocket(),
            iso.pidFile());
    assertThat(values(QemuArguments.of(vm, dir), "-drive"))
        .containsExactly(
            "if=none,id=seed0,format=raw,readonly=on,file.driver=vvfat,file.label=cidata,"
                + "file.dir=/vms,,odd/seed");
  }

  @Test
  void macAddressesAreStableLocalAndDistinct() {
    assertThat(QemuArguments.mac("shop-pos", 0))
        .matches("52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}")
        .isEqualTo(QemuArguments.mac("shop-pos", 0))
        .isNotEqualTo(QemuArguments.mac("shop-pos", 1))
        .isNotEqualTo(QemuArguments.mac("shop-till", 0));
  }

  @Test
  void architecturesAndSizes() {
    assertThat(QemuArguments.qemuArch("amd64")).isEqualTo("x86_64");
    assertThat(QemuArguments.qemuArch("aarch64")).isEqualTo("aarch64");
    assertThat(QemuArguments.machine("aarch64")).isEqualTo("virt");
    assertThat(QemuArguments.mebibytes(1)).isEqualTo(1);
    assertThat(QemuArguments.mebibytes(256L << 20)).isEqualTo(256);
  }
}
