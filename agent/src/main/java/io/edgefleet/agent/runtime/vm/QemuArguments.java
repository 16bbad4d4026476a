package io.edgefleet.agent.runtime.vm;

import io.edgefleet.protocol.workload.VmSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Maps one {@link VmSpec} and the files prepared for it to the command line of {@code
 * qemu-system-<arch>}. Pure: the same inputs give the same arguments (MAC addresses are derived
 * from the app and VM names, so a restarted VM keeps its addresses).
 *
 * <p>QEMU runs daemonized ({@code -daemonize}, {@code -pidfile}) so that it outlives the agent: an
 * agent update must not reboot the VMs. Its serial console goes to a file (appended, so the agent
 * may truncate it), and a QMP socket lets the agent ask its status and shut it down. The guest
 * powering off leaves QEMU running with status {@code shutdown} ({@code -no-shutdown}) and a guest
 * panic pauses it, so that the agent can tell a clean stop from a failure.
 */
final class QemuArguments {

  /**
   * Where things are for one VM.
   *
   * @param binary {@code qemu-system-x86_64} or the node's equivalent
   * @param arch the QEMU architecture ({@code x86_64}, {@code aarch64})
   * @param name the VM's name for QEMU ({@code app-vm})
   * @param kvm whether to use KVM ({@code /dev/kvm} usable), else software emulation
   * @param disk the VM's own qcow2 overlay, if it has a disk
   * @param kernel the kernel blob for direct kernel boot
   * @param initrd the initrd blob
   * @param seed the cloud-init NoCloud seed (an ISO file, or a directory QEMU shows as a FAT disk)
   * @param serialLog where the serial console is written
   * @param qmpSocket the QMP socket QEMU listens on
   * @param pidFile where QEMU writes its process id
   */
  record Launch(
      Path binary,
      String arch,
      String name,
      boolean kvm,
      Optional<Path> disk,
      Optional<Path> kernel,
      Optional<Path> initrd,
      Optional<Seed> seed,
      Path serialLog,
      Path qmpSocket,
      Path pidFile) {}

  /** A cloud-init seed: an ISO 9660 image labelled {@code cidata}, or a directory. */
  record Seed(Path path, boolean directory) {}

  private QemuArguments() {}

  static List<String> of(VmSpec spec, Launch l) {
    List<String> a = new ArrayList<>();
    a.add(l.binary().toString());
    a.addAll(List.of("-name", "guest=" + escape(l.name())));
    a.addAll(List.of("-nodefaults", "-no-user-config"));
    a.addAll(List.of("-machine", machine(l.arch())));
    if (l.kvm()) {
      a.addAll(List.of("-accel", "kvm", "-cpu", "host"));
    } else {
      a.addAll(List.of("-accel", "tcg"));
      if (!"x86_64".equals(l.arch())) {
        a.addAll(List.of("-cpu", "max"));
      }
    }
    a.addAll(List.of("-smp", Integer.toString(spec.cpus())));
    a.addAll(List.of("-m", mebibytes(spec.memoryBytes()) + "M"));
    a.addAll(List.of("-display", "none"));
    a.addAll(
        List.of(
            "-chardev",
            "file,id=serial0,append=on,path=" + escape(l.serialLog().toString()),
            "-serial",
            "chardev:serial0"));
    a.addAll(List.of("-qmp", "unix:" + escape(l.qmpSocket().toString()) + ",server=on,wait=off"));
    a.addAll(List.of("-daemonize", "-pidfile", l.pidFile().toString()));
    a.add("-no-shutdown");
    a.addAll(List.of("-action", "panic=pause"));
    l.disk()
        .ifPresent(
            d ->
                a.addAll(
                    List.of(
                        "-drive",
                        "if=none,id=disk0,format=qcow2,discard=unmap,file=" + escape(d.toString()),
                        "-device",
                        "virtio-blk-pci,drive=disk0,bootindex=1")));
    l.seed()
        .ifPresent(
            s ->
                a.addAll(
                    List.of(
                        "-drive",
                        s.directory()
                            ? "if=none,id=seed0,format=raw,readonly=on,file.driver=vvfat,"
                                + "file.label=cidata,file.dir="
                                + escape(s.path().toString())
                            : "if=none,id=seed0,format=raw,readonly=on,file="
                                + escape(s.path().toString()),
                        "-device",
                        "virtio-blk-pci,drive=seed0")));
    l.kernel().ifPresent(k -> a.addAll(List.of("-kernel", k.toString())));
    l.initrd().ifPresent(i -> a.addAll(List.of("-initrd", i.toString())));
    if (spec.cmdline() != null) {
      a.addAll(List.of("-append", spec.cmdline()));
    }
    for (int i = 0; i < spec.networks().size(); i++) {
      VmSpec.Network n = spec.networks().get(i);
      String id = "net" + i;
      StringBuilder netdev = new StringBuilder();
      if ("bridge".equals(n.type())) {
        netdev.append("bridge,id=").append(id).append(",br=").append(n.bridge());
      } else {
        netdev.append("user,id=").append(id);
        for (VmSpec.Forward f : n.forwards()) {
          // Every address of the node, like a published container port.
          netdev
              .append(",hostfwd=")
              .append(f.protocol())
              .append("::")
              .append(f.host())
              .append("-:")
              .append(f.guest());
        }
      }
      a.addAll(List.of("-netdev", netdev.toString()));
      a.addAll(List.of("-device", "virtio-net-pci,netdev=" + id + ",mac=" + mac(l.name(), i)));
    }
    if (!spec.usb().isEmpty()) {
      a.addAll(List.of("-device", "qemu-xhci,id=usb"));
      for (VmSpec.Usb u : spec.usb()) {
        a.addAll(
            List.of(
                "-device",
                "usb-host,bus=usb.0,vendorid=" + u.vendor() + ",productid=" + u.product()));
      }
    }
    for (String pci : spec.pci()) {
      a.addAll(List.of("-device", "vfio-pci,host=" + pci));
    }
    return List.copyOf(a);
  }

  /** The machine type per architecture: the modern PC on x86, the generic board elsewhere. */
  static String machine(String arch) {
    return switch (arch) {
      case "x86_64", "i386" -> "q35";
      default -> "virt";
    };
  }

  /** QEMU's name for the JVM's architecture ({@code amd64} is {@code x86_64}). */
  static String qemuArch(String osArch) {
    return switch (osArch) {
      case "amd64", "x86_64" -> "x86_64";
      case "aarch64", "arm64" -> "aarch64";
      default -> osArch;
    };
  }

  static long mebibytes(long bytes) {
    return (bytes + (1L << 20) - 1) >> 20;
  }

  /** A locally administered, stable MAC address (QEMU's 52:54:00 prefix) for one NIC of a VM. */
  static String mac(String vmName, int nic) {
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256")
              .digest((vmName + "/" + nic).getBytes(StandardCharsets.UTF_8));
      return "52:54:00:" + HexFormat.ofDelimiter(":").formatHex(h, 0, 3);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** QEMU option values separate with commas; a comma inside a value is written twice. */
  static String escape(String value) {
    return value.replace(",", ",,");
  }
}
