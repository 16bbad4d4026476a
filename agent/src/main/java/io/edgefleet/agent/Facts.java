package io.edgefleet.agent;

import io.edgefleet.protocol.DeviceFacts;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Reads hardware and software facts from {@code /proc}, {@code /sys} and {@code /etc}. Every probe
 * is best effort: a fact that cannot be read is reported as absent, never as an error.
 */
public final class Facts {
  public static final String AGENT_VERSION = version();

  private final Path root;

  /** Reads from the real file system. */
  public Facts() {
    this(Path.of("/"));
  }

  /** Reads from a different root, for tests. */
  public Facts(Path root) {
    this.root = root;
  }

  /**
   * Collects the facts.
   *
   * @param serialOverride serial to report instead of the DMI one (VMs, tests)
   * @param stateDir where the agent keeps its state, for the disk size
   */
  public DeviceFacts collect(Optional<String> serialOverride, Path stateDir) {
    return hardware(serialOverride, stateDir).withRuntimes(runtimes());
  }

  private DeviceFacts hardware(Optional<String> serialOverride, Path stateDir) {
    return new DeviceFacts(
        hostname(),
        serialOverride.or(this::dmiSerial).orElse(null),
        macs(),
        System.getProperty("os.arch"),
        Runtime.getRuntime().availableProcessors(),
        memoryBytes(),
        diskBytes(stateDir),
        osName(),
        osVersion(),
        AGENT_VERSION,
        exists("usr/local/bin/k3s") || exists("etc/rancher/k3s"),
        exists("usr/bin/kubelet") || exists("usr/local/bin/kubelet"),
        null,
        List.of(),
        null,
        model().orElse(null));
  }

  /**
   * The kinds of workload this node can run, for {@link DeviceFacts#runtimes()}: empty (Kubernetes
   * only, as older agents say) unless it can run more; with QEMU for its architecture installed
   * ({@code qemu-system-x86_64} on x86), Kubernetes and {@code vm}.
   */
  public List<String> runtimes() {
    List<String> out = new ArrayList<>();
    String qemu = "qemu-system-" + qemuArch(System.getProperty("os.arch"));
    if (exists("usr/bin/" + qemu) || exists("usr/local/bin/" + qemu)) {
      out.add(DeviceFacts.RUNTIME_VM);
    }
    if (!out.isEmpty()) {
      out.add(0, DeviceFacts.RUNTIME_KUBERNETES);
    }
    return List.copyOf(out);
  }

  private static String qemuArch(String osArch) {
    return switch (osArch) {
      case "amd64" -> "x86_64";
      case "arm64" -> "aarch64";
      default -> osArch;
    };
  }

  /** The most characters of the hardware model reported. */
  public static final int MAX_MODEL = 128;

  /**
   * The hardware model as the firmware names it: the DMI product name ({@code
   * /sys/class/dmi/id/product_name}) or else the device-tree model ({@code
   * /proc/device-tree/model}, NUL-terminated); absent if neither is readable or says anything real.
   * Measured-boot references can be pinned per model.
   */
  public Optional<String> model() {
    return read("sys/class/dmi/id/product_name")
        .flatMap(Facts::modelText)
        .or(() -> read("proc/device-tree/model").flatMap(Facts::modelText));
  }

  private static Optional<String> modelText(String raw) {
    // A device-tree string ends in NUL; no control character belongs in a model name.
    String s = raw.replaceAll("\\p{Cntrl}", " ").strip();
    if (s.isEmpty()
        || s.equalsIgnoreCase("To Be Filled By O.E.M.")
        || s.equalsIgnoreCase("System Product Name")
        || s.equalsIgnoreCase("Default string")) {
      return Optional.empty();
    }
    return Optional.of(s.length() > MAX_MODEL ? s.substring(0, MAX_MODEL).strip() : s);
  }

  /** The serial number from {@code /sys/class/dmi/id/product_serial}, if readable and real. */
  public Optional<String> dmiSerial() {
    return read("sys/class/dmi/id/product_serial")
        .map(String::trim)
        .filter(s -> !s.isEmpty())
        .filter(s -> !s.equalsIgnoreCase("To Be Filled By O.E.M.") && !s.equals("0"));
  }

  private String hostname() {
    return read("etc/hostname")
        .map(String::trim)
        .filter(s -> !s.isEmpty())
        .orElseGet(
            () -> {
              try {
                return InetAddress.getLocalHost().getHostName();
              } catch (IOException e) {
                return "unknown";
              }
            });
  }

  private List<String> macs() {
    List<String> macs = new ArrayList<>();
    Path net = root.resolve("sys/class/net");
    if (!Files.isDirectory(net)) {
      return macs;
    }
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(net)) {
      for (Path nif : dirs) {
        if (nif.getFileName().toString().equals("lo")) {
          continue;
        }
        read(root.relativize(nif.resolve("address")).toString())
            .map(String::trim)
            .filter(
                m -> m.matches("([0-9a-f]{2}:){5}[0-9a-f]{2}") && !m.equals("00:00:00:00:00:00"))
            .ifPresent(macs::add);
      }
    } catch (IOException e) {
      return macs;
    }
    macs.sort(null);
    return macs;
  }

  private long memoryBytes() {
    return read("proc/meminfo")
        .flatMap(
            text ->
                text.lines()
                    .filter(l -> l.startsWith("MemTotal:"))
                    .findFirst()
                    .map(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024))
        .orElse(0L);
  }

  private static long diskBytes(Path stateDir) {
    try {
      Path p = stateDir.toAbsolutePath();
      while (p != null && !Files.exists(p)) {
        p = p.getParent();
      }
      return p == null ? 0 : Files.getFileStore(p).getTotalSpace();
    } catch (IOException e) {
      return 0;
    }
  }

  private String osName() {
    return osRelease("NAME").orElse(System.getProperty("os.name"));
  }

  private String osVersion() {
    return osRelease("VERSION_ID").orElse(System.getProperty("os.version"));
  }

  private Optional<String> osRelease(String key) {
    return read("etc/os-release")
        .flatMap(
            text ->
                text.lines()
                    .filter(l -> l.startsWith(key + "="))
                    .findFirst()
                    .map(l -> l.substring(key.length() + 1).replace("\"", "").trim()));
  }

  private boolean exists(String relative) {
    return Files.exists(root.resolve(relative));
  }

  private Optional<String> read(String relative) {
    try {
      Path p = root.resolve(relative);
      return Files.isReadable(p) ? Optional.of(Files.readString(p)) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /**
   * The system property the start script sets from the slot's {@code release.json}: the version of
   * the release this JVM runs.
   */
  public static final String VERSION_PROPERTY = "edgefleet.agent.version";

  private static String version() {
    String given = System.getProperty(VERSION_PROPERTY);
    if (given != null
        && io.edgefleet.protocol.AgentRelease.VERSION.matcher(given.strip()).matches()) {
      return given.strip();
    }
    String v = Facts.class.getPackage().getImplementationVersion();
    return v == null ? "0.1.0-dev" : v.toLowerCase(Locale.ROOT);
  }
}
