package io.edgefleet.agent.command;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentException;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.Facts;
import io.edgefleet.agent.cluster.ClusterFeature;
import io.edgefleet.agent.logs.LogsFeature;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.agent.outbox.Sizes;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.shell.ShellHandler;
import io.edgefleet.agent.telemetry.NodeSampler;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.agent.update.ReleaseKeys;
import io.edgefleet.agent.update.Updater;
import io.edgefleet.protocol.DeviceNames;
import io.edgefleet.protocol.Durations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.random.RandomGenerator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code edgefleet agent}: runs the agent of this node until stopped. */
@Command(
    name = "agent",
    description = "Run the edge agent: enroll with the controller, then stay connected.",
    mixinStandardHelpOptions = true,
    subcommands = ImportCommand.class)
public final class AgentCommand implements Callable<Integer> {
  private static final Path KERNEL_EVENT_LOG =
      Path.of("/sys/kernel/security/tpm0/binary_bios_measurements");

  @Option(
      names = "--bootstrap",
      // Checked in call(): required here, picocli would also ask for it before `import`.
      paramLabel = "FILE",
      description = "Bootstrap file from `edgefleet onboarding bootstrap`.")
  Path bootstrap;

  @Option(
      names = "--state",
      paramLabel = "DIR",
      description = "Where the agent keeps its key and identity (default: ~/.edgefleet/agent).")
  Path state = Path.of(System.getProperty("user.home"), ".edgefleet", "agent");

  @Option(
      names = "--serial",
      paramLabel = "SERIAL",
      description = "Serial number to report instead of /sys/class/dmi/id/product_serial.")
  String serial;

  @Option(
      names = "--name",
      paramLabel = "NAME",
      description =
          "Device name to ask for at enrollment (default: the host name); the controller adds -2,"
              + " -3, ... when another device has it.")
  String name;

  @Option(
      names = "--max-backoff",
      paramLabel = "DURATION",
      description = "Longest wait between reconnect attempts (default: 60s).")
  String maxBackoff = "60s";

  @Option(
      names = "--no-qr",
      description = "Do not print the approval QR code while waiting for approval.")
  boolean noQr;

  @Option(
      names = "--kubeconfig",
      paramLabel = "FILE",
      description = "Kubeconfig of the node's Kubernetes (default: /etc/rancher/k3s/k3s.yaml).")
  Path kubeconfig = Path.of("/etc/rancher/k3s/k3s.yaml");

  @Option(
      names = "--tunnel-host",
      paramLabel = "HOST",
      description =
          "A host besides this device that operators may port-forward to through the controller"
              + " (repeatable; * for any). Default: only this device (127.0.0.1).")
  java.util.List<String> tunnelHosts = new java.util.ArrayList<>();

  @Option(
      names = "--runtime",
      paramLabel = "KIND",
      description =
          "Where workloads run: kubernetes, none, or auto (kubernetes once the kubeconfig exists,"
              + " also when it appears later, e.g. written by the K3s node the agent runs;"
              + " default).")
  String runtimeKind = "auto";

  @Option(
      names = "--container-runtime",
      paramLabel = "KIND",
      description =
          "Whether edgefleet.io/v1 Container apps run here: podman, none, or auto (podman when it"
              + " answers at start; default).")
  String containerRuntimeKind = "auto";

  @Option(
      names = "--container-storage",
      paramLabel = "DIR",
      description =
          "Where podman keeps the images and containers of Container apps (default: podman's own"
              + " storage, /var/lib/containers/storage when run as root).")
  Path containerStorage;

  @Option(
      names = "--vm-runtime",
      paramLabel = "KIND",
      description =
          "Virtual machines: auto (with QEMU when qemu-system-<arch> is installed; default), qemu"
              + " (QEMU must be installed) or none.")
  String vmRuntimeKind = "auto";

  @Option(
      names = "--inventory-namespace",
      paramLabel = "NAMESPACE",
      description =
          "Namespace where app inventories are kept (default: edgefleet-system); agents sharing a"
              + " cluster need one each.")
  String inventoryNamespace = "edgefleet-system";

  @Option(
      names = "--outbox-max",
      paramLabel = "SIZE",
      description =
          "Most disk space for telemetry kept while the controller is unreachable, e.g. 64MB"
              + " (default); when full, old metric summaries are merged.")
  String outboxMax = "64MB";

  @Option(
      names = "--logs-rate",
      paramLabel = "KIB_PER_S",
      description =
          "Most bandwidth workload logs asked for by operators may use, in KiB/s (default: 32);"
              + " keep it well below the link's speed.")
  int logsRate = 32;

  @Option(
      names = "--disk-reserve",
      paramLabel = "MIB",
      description =
          "Free disk space in MiB that artifact downloads (container images, VM disks) always"
              + " leave on the state directory's file system (default: 256).")
  long diskReserve = io.edgefleet.agent.artifacts.BlobCache.DEFAULT_RESERVE_BYTES >> 20;

  @Option(
      names = "--site-cache-listen",
      paramLabel = "HOST:PORT",
      description =
          "Where to serve blobs to the other devices of this device's site when the controller"
              + " makes it the site's cache (tag edgefleet.io/site-cache=true), e.g. 0.0.0.0:7443."
              + " Without it the device never serves.")
  String siteCacheListen;

  @Option(
      names = "--site-cache-url",
      paramLabel = "URL",
      description =
          "The https://HOST:PORT neighbours reach the site cache at (default: the listen address,"
              + " or for 0.0.0.0 the address this device reaches the controller from).")
  String siteCacheUrl;

  @Option(
      names = "--tpm",
      paramLabel = "TPM",
      description =
          "TPM 2.0 that holds the device key: a device (/dev/tpmrm0), tcp://HOST:PORT or"
              + " unix:///PATH (a swtpm data channel). Default: /dev/tpmrm0 when present and"
              + " usable, else a software key.")
  String tpm;

  @Option(
      names = "--no-tpm",
      description = "Keep the device key in the state directory even when a TPM is present.")
  boolean noTpm;

  @Option(
      names = "--tpm-event-log",
      paramLabel = "FILE",
      description =
          "Measured-boot event log sent with quotes (default:"
              + " /sys/kernel/security/tpm0/binary_bios_measurements when readable).")
  Path tpmEventLog;

  @Option(
      names = "--k3s-data-dir",
      paramLabel = "DIR",
      description =
          "Data directory of the K3s node the agent runs when the controller makes this device a"
              + " cluster member (default: /var/lib/rancher/k3s). It is removed when the device"
              + " leaves its cluster or changes role; the K3s admin kubeconfig is written to"
              + " --kubeconfig.")
  Path k3sDataDir = AgentOptions.DEFAULT_K3S_DATA_DIR;

  @Option(
      names = "--node-ip",
      paramLabel = "IP",
      description =
          "Address the K3s node advertises to its cluster (default: this device's address on"
              + " its connection to the controller).")
  String nodeIp;

  @Option(
      names = "--allow-shell",
      description =
          "Let operators whose shell policy allows it open a remote shell (a PTY running"
              + " --shell) on this device through the controller. Off by default: a device"
              + " without it refuses every shell with SHELL_DISABLED. Every session is recorded.")
  boolean allowShell;

  @Option(
      names = "--allow-file-copy",
      description =
          "Let operators with tunnels:files copy regular files from this device (edgefleet cp)."
              + " Off by default (FILE_COPY_DISABLED).")
  boolean allowFileCopy;

  @Option(
      names = "--shell",
      paramLabel = "PROGRAM",
      description = "The login shell a remote shell runs (default: $SHELL, else /bin/sh).")
  String shell;

  @Option(
      names = "--slots",
      paramLabel = "DIR",
      description =
          "The A/B slots directory the start script runs the agent from (slots.json, a/, b/);"
              + " with it the agent stages and switches to the agent releases the controller"
              + " sends. Without it a targeted release is refused.")
  Path slots;

  @Option(
      names = "--update-trial",
      paramLabel = "DURATION",
      description =
          "How long a newly installed agent release has to connect, verify its desired state and"
              + " finish a reconcile pass before the previous slot is restored (default: 10m).")
  String updateTrial = "10m";

  @Option(
      names = "--release-keys",
      paramLabel = "DIR",
      description =
          "Directory of extra trusted agent release keys (*.pub) besides those the controller"
              + " hands out at enrollment (default: release-keys next to the bootstrap file, e.g."
              + " /etc/edgefleet/release-keys).")
  Path releaseKeys;

  /** The TPM to use, or null for a software key; {@code device} is the one used by default. */
  static String tpmSpec(String given, boolean none, Path device) {
    if (none) {
      return null;
    }
    if (given != null) {
      return given;
    }
    return Files.isReadable(device) && Files.isWritable(device) ? device.toString() : null;
  }

  WorkloadRuntime runtime(java.util.function.Supplier<String> deviceId) {
    return Runtimes.create(runtimeKind, kubeconfig, inventoryNamespace, deviceId);
  }

  /**
   * The workload runtime, which finds the artifacts its workloads name (images, disks) in {@code
   * blobs}, the device's verified blob cache.
   */
  WorkloadRuntime runtime(
      java.util.function.Supplier<String> deviceId, io.edgefleet.agent.runtime.Blobs blobs) {
    io.edgefleet.agent.runtime.container.ContainerRuntime.Options containers =
        io.edgefleet.agent.runtime.container.ContainerRuntime.Options.defaults();
    if (containerStorage != null) {
      containers = containers.withStorage(containerStorage.toAbsolutePath());
    }
    return Runtimes.create(
        runtimeKind,
        kubeconfig,
        inventoryNamespace,
        deviceId,
        containerRuntimeKind,
        containers,
        blobs,
        vmRuntime(blobs));
  }

  /**
   * The node's VM runtime (option {@code --vm-runtime}), keeping its VMs' files in the state
   * directory's {@code vms}; empty when there is none. The VMs it starts outlive the agent.
   *
   * @throws IllegalArgumentException for a bad option value, or {@code qemu} without QEMU
   */
  java.util.Optional<WorkloadRuntime> vmRuntime(io.edgefleet.agent.runtime.Blobs blobs) {
    return Runtimes.vm(vmRuntimeKind, state.resolve("vms"), blobs);
  }

  @Option(
      names = "--import-watch",
      paramLabel = "DIR",
      description =
          "A directory to watch for export bundles (*.efb) to import, e.g. a USB stick's mount"
              + " point (repeatable); each new file is imported once.")
  java.util.List<Path> importWatch = new java.util.ArrayList<>();

  @Override
  public Integer call() throws Exception {
    if (bootstrap == null) {
      System.err.println("error: Missing required option: '--bootstrap=FILE'");
      return 2;
    }
    Duration cap;
    try {
      cap = Durations.parse(maxBackoff);
    } catch (IllegalArgumentException e) {
      System.err.println("error: --max-backoff: " + e.getMessage());
      return 2;
    }
    if (cap.toMillis() < 1000) {
      System.err.println("error: --max-backoff must be at least 1s");
      return 2;
    }
    if (name != null) {
      try {
        DeviceNames.validate(name);
      } catch (IllegalArgumentException e) {
        System.err.println("error: --name: " + e.getMessage());
        return 2;
      }
    }
    Duration trial;
    try {
      trial = Durations.parse(updateTrial);
    } catch (IllegalArgumentException e) {
      System.err.println("error: --update-trial: " + e.getMessage());
      return 2;
    }
    if (trial.toSeconds() < 5 || trial.toHours() > 24) {
      System.err.println("error: --update-trial must be between 5s and 24h");
      return 2;
    }
    if (slots != null && !Files.isDirectory(slots)) {
      System.err.println(
          "error: --slots: "
              + slots
              + " is not a directory (the start script creates it with slots.json, a/ and b/)");
      return 2;
    }
    java.util.Optional<java.net.InetSocketAddress> siteListen;
    try {
      siteListen = java.util.Optional.ofNullable(siteCacheListen).map(AgentCommand::hostPort);
      if (siteCacheUrl != null) {
        java.net.URI u = java.net.URI.create(siteCacheUrl);
        if (!"https".equals(u.getScheme()) || u.getHost() == null || u.getPort() <= 0) {
          throw new IllegalArgumentException(
              "--site-cache-url: expected https://HOST:PORT, got " + siteCacheUrl);
        }
      }
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      return 2;
    }
    if (diskReserve < 0) {
      System.err.println("error: --disk-reserve must not be negative");
      return 2;
    }
    if (!java.util.List.of("auto", "qemu", "none").contains(vmRuntimeKind)) {
      System.err.println("error: --vm-runtime must be auto, qemu or none, got " + vmRuntimeKind);
      return 2;
    }
    if (logsRate < 1) {
      System.err.println("error: --logs-rate must be at least 1 (KiB/s)");
      return 2;
    }
    if (noTpm && tpm != null) {
      System.err.println("error: --tpm and --no-tpm exclude each other");
      return 2;
    }
    if (tpmEventLog != null && !Files.isReadable(tpmEventLog)) {
      System.err.println("error: --tpm-event-log: " + tpmEventLog + " is not readable");
      return 2;
    }
    String tpmSpec = tpmSpec(tpm, noTpm, Path.of("/dev/tpmrm0"));
    Outbox.Options outboxOptions;
    try {
      outboxOptions = Outbox.Options.bounded(Sizes.parse(outboxMax));
    } catch (IllegalArgumentException e) {
      System.err.println("error: --outbox-max: " + e.getMessage());
      return 2;
    }
    ScheduledExecutorService scheduler =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "edgefleet-agent");
              t.setDaemon(true);
              return t;
            });
    ExecutorService http = Executors.newVirtualThreadPerTaskExecutor();
    AgentOptions options =
        AgentOptions.of(bootstrap, state)
            .withSerial(serial)
            .withName(name)
            .withMaxBackoff(cap)
            .withQr(!noQr)
            .withTpm(tpmSpec)
            .withTpmEventLog(
                tpmEventLog != null
                    ? tpmEventLog
                    : Files.isReadable(KERNEL_EVENT_LOG) ? KERNEL_EVENT_LOG : null);
    try {
      options =
          options
              .withK3sDataDir(k3sDataDir.toAbsolutePath())
              .withNodeIp(nodeIp)
              .withK3sKubeconfig(kubeconfig.toAbsolutePath())
              .withTunnelHosts(tunnelHosts);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      return 2;
    }
    java.util.Set<String> remoteAccess = new java.util.TreeSet<>();
    if (allowShell) {
      remoteAccess.add(io.edgefleet.protocol.DeviceFacts.ALLOW_SHELL);
    }
    if (allowFileCopy) {
      remoteAccess.add(io.edgefleet.protocol.DeviceFacts.ALLOW_FILE);
    }
    options = options.withRemoteAccess(remoteAccess);
    // The verified blobs, made before the runtime that reads them and the feature that fills them.
    io.edgefleet.agent.artifacts.BlobCache blobs;
    try {
      blobs = io.edgefleet.agent.artifacts.BlobCache.open(state, diskReserve << 20);
    } catch (java.io.UncheckedIOException e) {
      System.err.println("error: the artifact cache cannot be opened: " + e.getMessage());
      return 2;
    }
    WorkloadRuntime runtime;
    // The runtime is made before the agent: it learns the device's id once the agent knows it.
    java.util.concurrent.atomic.AtomicReference<Agent> self =
        new java.util.concurrent.atomic.AtomicReference<>();
    try {
      runtime =
          runtime(
              () -> {
                Agent a = self.get();
                return a == null ? null : a.status().deviceId().orElse(null);
              },
              blobs);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      return 2;
    }
    Agent agent =
        new Agent(
            options,
            scheduler,
            http,
            RandomGenerator.getDefault(),
            Clock.systemUTC(),
            System.out,
            runtime,
            java.util.Map.of(
                io.edgefleet.protocol.DeviceFacts.ALLOW_SHELL,
                new ShellHandler(allowShell, ShellHandler.defaultShell(shell))));
    self.set(agent);
    Outbox outbox;
    try {
      outbox = Outbox.open(state.resolve("outbox"), outboxOptions, Clock.systemUTC());
    } catch (RuntimeException e) {
      System.err.println("error: the telemetry outbox cannot be opened: " + e.getMessage());
      return 2;
    }
    TelemetryFeature telemetry =
        new TelemetryFeature(
            outbox,
            NodeSampler.system(),
            agent::apps,
            scheduler,
            Clock.systemUTC(),
            TelemetryFeature.Options.defaults());
    agent.add(telemetry);
    agent.add(
        ClusterFeature.forAgent(
            agent,
            new ClusterFeature.Options(
                state,
                options.k3sDataDir(),
                options.k3sKubeconfig(),
                options.nodeIp(),
                java.time.Duration.ofSeconds(30)),
            scheduler,
            Clock.systemUTC(),
            System.out));
    Path keysDir =
        releaseKeys != null
            ? releaseKeys
            : bootstrap.toAbsolutePath().getParent().resolve("release-keys");
    Updater updater =
        Updater.forAgent(
            agent,
            Updater.Options.of(
                slots == null ? null : slots.toAbsolutePath(),
                new ReleaseKeys(state, keysDir),
                trial),
            scheduler,
            Clock.systemUTC(),
            System.out,
            // The start script starts the slot on trial (or again) once this JVM has ended.
            () -> System.exit(0));
    if (Boolean.getBoolean(Updater.EXIT_WHEN_PROVEN_PROPERTY)) {
      updater.exitWhenProven(Duration.ofMinutes(2));
    }
    agent.add(updater);
    io.edgefleet.agent.airgap.ImportFeature imports =
        new io.edgefleet.agent.airgap.ImportFeature(
            agent,
            new io.edgefleet.agent.airgap.BundleImporter(
                new io.edgefleet.agent.desiredstate.DesiredStateStore(state),
                blobs,
                io.edgefleet.agent.airgap.BundleImporter.Limits.defaults()),
            importWatch.stream().map(Path::toAbsolutePath).toList(),
            scheduler,
            Duration.ofSeconds(5),
            Clock.systemUTC(),
            System.out);
    try {
      imports.start();
    } catch (IllegalStateException e) {
      System.err.println("error: " + e.getMessage());
      return 2;
    }
    agent.add(imports);
    telemetry.start();
    agent.add(
        LogsFeature.forAgent(
            agent,
            runtime,
            Clock.systemUTC(),
            LogsFeature.Options.defaults().withBytesPerSecond(Math.min(logsRate, 1 << 20) * 1024)));
    // Blobs from the site's cache on the LAN first when the desired state names one.
    io.edgefleet.agent.artifacts.SiteCacheSource siteSource =
        io.edgefleet.agent.artifacts.SiteCacheSource.forAgent(agent, Clock.systemUTC(), System.out);
    io.edgefleet.agent.artifacts.ArtifactsFeature artifacts =
        io.edgefleet.agent.artifacts.ArtifactsFeature.forAgent(
            agent,
            blobs,
            siteSource,
            io.edgefleet.agent.artifacts.ArtifactsFeature.Options.defaults(),
            scheduler,
            Clock.systemUTC(),
            System.out);
    // The site cache first: a new desired state sets the source before a download pass uses it.
    agent.add(
        io.edgefleet.agent.artifacts.SiteCacheFeature.forAgent(
            agent,
            new io.edgefleet.agent.artifacts.SiteCacheFeature.Options(
                siteListen,
                java.util.Optional.ofNullable(siteCacheUrl),
                io.edgefleet.agent.artifacts.SiteCacheServer.Limits.defaults()),
            blobs,
            artifacts,
            siteSource,
            System.out));
    agent.add(artifacts);
    try {
      agent.start();
    } catch (AgentException e) {
      System.err.println("error [" + e.code() + "]: " + e.getMessage());
      return 2;
    }
    Optional<String> id = agent.status().deviceId();
    System.out.println(
        "edgefleet agent "
            + Facts.AGENT_VERSION
            + " started"
            + id.map(d -> " as " + d).orElse(", enrolling")
            + " (state in "
            + state.toAbsolutePath()
            + ")"
            + (tpmSpec == null ? "" : "; TPM " + tpmSpec));
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  agent.close();
                  stopped.countDown();
                },
                "edgefleet-agent-stop"));
    stopped.await();
    return 0;
  }

  /** {@code HOST:PORT} ({@code [v6]:PORT}) as an address to bind. */
  static java.net.InetSocketAddress hostPort(String spec) {
    int colon = spec.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("--site-cache-listen: expected HOST:PORT, got " + spec);
    }
    String host = spec.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(spec.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(
          "--site-cache-listen: the port of " + spec + " must be 1 to 65535");
    }
    return new java.net.InetSocketAddress(host, port);
  }
}
