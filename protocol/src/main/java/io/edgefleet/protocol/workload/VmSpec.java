package io.edgefleet.protocol.workload;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One {@code edgefleet.io/v1 VirtualMachine}: a virtual machine run by QEMU (with KVM where the
 * node has it, software emulation otherwise).
 *
 * <pre>
 * apiVersion: edgefleet.io/v1
 * kind: VirtualMachine
 * metadata: {name: historian}
 * spec:
 *   disk: {image: sha256:&lt;blob&gt;, format: qcow2, size: 20Gi}   # the blob stays untouched: writes
 *                                                         # go to the VM's own overlay
 *   kernel: sha256:&lt;blob&gt;          # optional direct kernel boot, with
 *   initrd: sha256:&lt;blob&gt;          #   an optional initrd
 *   cmdline: "console=ttyS0"
 *   cpus: 2
 *   memory: 2Gi
 *   cloudInit: {userData: "#cloud-config\n...", metaData: "instance-id: historian"}
 *   networks: [{type: user, forwards: [{host: 2222, guest: 22}]}, {type: bridge, bridge: br0}]
 *   usb: [{vendor: "0x0403", product: "0x6001"}]
 *   pci: ["0000:01:00.0"]
 *   readiness: {serial: "login:"}    # or {tcp: {port: 2222}} (a forwarded host port)
 *   restart: always                   # always | on-failure | never
 * </pre>
 *
 * @param disk the boot disk; null for a machine booted from {@code kernel} and {@code initrd} only
 */
public record VmSpec(
    String name,
    Disk disk,
    String kernel,
    String initrd,
    String cmdline,
    int cpus,
    long memoryBytes,
    CloudInit cloudInit,
    List<Network> networks,
    List<Usb> usb,
    List<String> pci,
    Readiness readiness,
    String restart) {

  private static final Pattern PCI = Pattern.compile("[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]");
  private static final Pattern HEX16 = Pattern.compile("0x[0-9a-fA-F]{4}");
  private static final Pattern BRIDGE = Pattern.compile("[A-Za-z0-9_.-]{1,15}");

  public VmSpec {
    networks = List.copyOf(networks);
    usb = List.copyOf(usb);
    pci = List.copyOf(pci);
  }

  /**
   * @param image the disk image's blob digest
   * @param format {@code qcow2} or {@code raw}
   * @param sizeBytes the size the VM's disk is grown to; 0 keeps the image's size
   */
  public record Disk(String image, String format, long sizeBytes) {}

  /** Cloud-init NoCloud data handed to the guest; either may be empty. */
  public record CloudInit(String userData, String metaData) {}

  /**
   * A network attachment: {@code user} (QEMU's user-mode network, with host ports forwarded to the
   * guest) or {@code bridge} (a tap device on the node's bridge {@code bridge}).
   */
  public record Network(String type, String bridge, List<Forward> forwards) {
    public Network {
      forwards = List.copyOf(forwards);
    }
  }

  /** A host port forwarded to a guest port (user-mode network). */
  public record Forward(int host, int guest, String protocol) {}

  /** A USB device of the node passed to the guest, by vendor and product id ({@code 0x0403}). */
  public record Usb(String vendor, String product) {}

  /**
   * When the VM counts as ready: a line on its serial console containing {@code serial}, or a host
   * port ({@code tcpPort}, forwarded to the guest) accepting connections; neither: once QEMU runs.
   */
  public record Readiness(String serial, int tcpPort, Duration timeout) {}

  /** Every blob digest this VM uses: disk, kernel, initrd. */
  public List<String> blobs() {
    List<String> out = new ArrayList<>();
    if (disk != null) {
      out.add(disk.image());
    }
    if (kernel != null) {
      out.add(kernel);
    }
    if (initrd != null) {
      out.add(initrd);
    }
    return List.copyOf(out);
  }

  /**
   * Parses a {@code VirtualMachine} document's {@code spec} mapping; {@code name} from metadata.
   */
  static VmSpec parse(String name, Object specValue) {
    Fields spec = Fields.of("spec", specValue);
    Disk disk =
        spec.optionalMap("disk")
            .map(
                d -> {
                  String image = d.digest("image");
                  String format = d.oneOf("format", "qcow2", "qcow2", "raw");
                  long size = d.bytes("size", 1L << 20, 1L << 44);
                  d.done();
                  return new Disk(image, format, size);
                })
            .orElse(null);
    String kernel = spec.optionalDigest("kernel").orElse(null);
    String initrd = spec.optionalDigest("initrd").orElse(null);
    String cmdline = spec.optionalString("cmdline").orElse(null);
    if (disk == null && kernel == null) {
      throw new WorkloadSpecException(spec.path("disk"), "set a disk, a kernel, or both");
    }
    if (kernel == null && (initrd != null || cmdline != null)) {
      throw new WorkloadSpecException(
          spec.path("kernel"), "is required when initrd or cmdline is set");
    }
    if (cmdline != null && cmdline.length() > 4096) {
      throw new WorkloadSpecException(spec.path("cmdline"), "is longer than 4096 characters");
    }
    int cpus = spec.integer("cpus", 1, 1, 64);
    long memory = spec.bytes("memory", 16L << 20, 1L << 40);
    if (memory == 0) {
      memory = 256L << 20;
    }
    CloudInit cloudInit =
        spec.optionalMap("cloudInit")
            .map(
                c -> {
                  CloudInit ci =
                      new CloudInit(
                          c.optionalString("userData").orElse(""),
                          c.optionalString("metaData").orElse(""));
                  c.done();
                  return ci;
                })
            .orElse(null);
    List<Network> networks = new ArrayList<>();
    Set<String> forwarded = new HashSet<>();
    List<Object> netItems = spec.list("networks", 8);
    for (int i = 0; i < netItems.size(); i++) {
      Fields n = Fields.of(spec.path("networks") + "[" + i + "]", netItems.get(i));
      String type = n.oneOf("type", "user", "user", "bridge");
      String bridge = n.optionalString("bridge").orElse(null);
      if ("bridge".equals(type) && (bridge == null || !BRIDGE.matcher(bridge).matches())) {
        throw new WorkloadSpecException(n.path("bridge"), "must name the node's bridge (br0)");
      }
      if ("user".equals(type) && bridge != null) {
        throw new WorkloadSpecException(n.path("bridge"), "applies to type bridge only");
      }
      List<Forward> forwards = new ArrayList<>();
      List<Object> fwItems = n.list("forwards", 32);
      for (int j = 0; j < fwItems.size(); j++) {
        Fields f = Fields.of(n.path("forwards") + "[" + j + "]", fwItems.get(j));
        int guest = f.integer("guest", 0, 1, 65535);
        if (guest == 0) {
          throw new WorkloadSpecException(f.path("guest"), "is required");
        }
        int host = f.integer("host", guest, 1, 65535);
        String protocol = f.oneOf("protocol", "tcp", "tcp", "udp");
        if (!forwarded.add(host + "/" + protocol)) {
          throw new WorkloadSpecException(f.path("host"), "port " + host + " is forwarded twice");
        }
        f.done();
        forwards.add(new Forward(host, guest, protocol));
      }
      if ("bridge".equals(type) && !forwards.isEmpty()) {
        throw new WorkloadSpecException(n.path("forwards"), "apply to type user only");
      }
      n.done();
      networks.add(new Network(type, bridge, forwards));
    }
    List<Usb> usb = new ArrayList<>();
    List<Object> usbItems = spec.list("usb", 16);
    for (int i = 0; i < usbItems.size(); i++) {
      Fields u = Fields.of(spec.path("usb") + "[" + i + "]", usbItems.get(i));
      String vendor = u.string("vendor");
      String product = u.string("product");
      if (!HEX16.matcher(vendor).matches() || !HEX16.matcher(product).matches()) {
        throw new WorkloadSpecException(
            u.path("vendor"), "vendor and product are ids such as 0x0403");
      }
      u.done();
      usb.add(new Usb(vendor.toLowerCase(), product.toLowerCase()));
    }
    List<String> pci = spec.strings("pci", 8);
    for (int i = 0; i < pci.size(); i++) {
      if (!PCI.matcher(pci.get(i)).matches()) {
        throw new WorkloadSpecException(
            spec.path("pci") + "[" + i + "]", "must be a PCI address such as 0000:01:00.0");
      }
    }
    Readiness readiness =
        spec.optionalMap("readiness")
            .map(
                r -> {
                  String serial = r.optionalString("serial").orElse(null);
                  int tcpPort = 0;
                  Optional<Fields> tcp = r.optionalMap("tcp");
                  if (tcp.isPresent()) {
                    tcpPort = tcp.get().integer("port", 0, 1, 65535);
                    tcp.get().done();
                  }
                  if ((serial == null) == (tcpPort == 0)) {
                    throw new WorkloadSpecException(
                        r.path("serial"), "set exactly one of serial or tcp");
                  }
                  if (tcpPort != 0 && !forwarded.contains(tcpPort + "/tcp")) {
                    throw new WorkloadSpecException(
                        r.path("tcp") + ".port",
                        "must be a host port forwarded to the guest (networks[].forwards[].host)");
                  }
                  if (serial != null && (serial.isEmpty() || serial.length() > 200)) {
                    throw new WorkloadSpecException(
                        r.path("serial"), "must be 1 to 200 characters");
                  }
                  Duration timeout =
                      r.duration("timeout", Duration.ofMinutes(10), Duration.ofHours(2));
                  r.done();
                  return new Readiness(serial, tcpPort, timeout);
                })
            .orElse(null);
    String restart =
        spec.oneOf(
            "restart",
            ContainerSpec.RESTART_ALWAYS,
            ContainerSpec.RESTART_ALWAYS,
            ContainerSpec.RESTART_ON_FAILURE,
            ContainerSpec.RESTART_NEVER);
    spec.done();
    return new VmSpec(
        name, disk, kernel, initrd, cmdline, cpus, memory, cloudInit, networks, usb, pci, readiness,
        restart);
  }
}
