package io.edgefleet.agent.runtime.vm;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.Blobs;
import io.edgefleet.agent.runtime.DriftRepair;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.workload.VmSpec;
import io.edgefleet.protocol.workload.WorkloadSpecException;
import io.edgefleet.protocol.workload.Workloads;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;

/**
 * Runs apps of {@code edgefleet.io/v1 VirtualMachine} documents with QEMU: KVM where {@code
 * /dev/kvm} is usable, software emulation otherwise.
 *
 * <p>Each VM gets a directory under the runtime's state directory ({@code apps/<app>/<vm>/}) with
 * its record, its qcow2 overlay over the disk image blob (the blob is never written), its
 * cloud-init seed and its serial console log. QEMU runs daemonized, so VMs keep running when the
 * agent stops or is updated; a new runtime object finds them again by their records, pid files and
 * QMP sockets.
 *
 * <ul>
 *   <li>{@link #apply}: starts missing VMs, restarts VMs whose spec changed (QMP {@code
 *       system_powerdown}, then {@code quit} and a kill after bounded waits), removes VMs the app
 *       no longer names, and restarts VMs that stopped on their own as their {@code restart} policy
 *       says ({@code always}; {@code on-failure}: QEMU gone or the guest panicked, not a clean
 *       power-off; {@code never}); a restart during a re-apply of the revision in effect is
 *       reported in {@link ApplyOutcome.Applied#repaired()}. A blob that is not on the device yet
 *       answers {@link ApplyOutcome.RetryAfter}; CPUs and memory beyond the node's answer {@link
 *       ApplyOutcome.Failed}.
 *   <li>{@link #health}: {@code READY} once every VM passed its readiness check (a serial console
 *       line, or a forwarded TCP port accepting connections), {@code FAILED} when one did not
 *       within its timeout or stopped.
 *   <li>Logs: one source per VM ({@code namespace} the app, {@code pod} the VM, {@code container}
 *       {@code serial}): its serial console.
 * </ul>
 *
 * <p>Thread-safe: calls for one app are serialized, calls for different apps run in parallel. Every
 * external program and QMP exchange is bounded by a timeout.
 */
public final class VmRuntime implements WorkloadRuntime {
  /** The log source's container name of a VM's serial console. */
  public static final String SERIAL = "serial";

  private static final Pattern LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Duration RETRY = Duration.ofSeconds(30);
  private static final Duration QMP_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration TCP_PROBE = Duration.ofSeconds(1);
  private static final String SERIAL_LOG = "serial.log";
  private static final String PID_FILE = "qemu.pid";

  private final Options options;
  private final Path apps;
  private final Path sockets;
  private final Disks disks;
  private final CloudInitSeed seeds;
  private final SerialConsole console;
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /**
   * What the runtime needs; {@link #detect} finds the programs on the node.
   *
   * @param stateDir where VMs keep their files (the agent's state directory's {@code vms})
   * @param blobs where disk images, kernels and initrds are found
   * @param qemu {@code qemu-system-<arch>}
   * @param qemuImg {@code qemu-img}
   * @param isoWriter what writes cloud-init seed ISOs; empty: QEMU shows the seed directory as a
   *     FAT disk
   * @param arch QEMU's name for the node's architecture
   * @param kvm whether {@code /dev/kvm} is usable
   * @param nodeCpus the node's CPUs: a VM asking for more is refused
   * @param nodeMemoryBytes the node's memory: VMs asking for more in total are refused
   * @param stopGrace how long a VM's guest may take to power off before QEMU is told to quit
   * @param toolTimeout the most any external program may take
   * @param maxConsoleBytes the most bytes a VM's console log may hold; checked on each apply, a
   *     longer one is moved aside (replacing the previous one) and started afresh
   * @param clock for readiness timeouts and log times
   */
  public record Options(
      Path stateDir,
      Blobs blobs,
      Path qemu,
      Path qemuImg,
      Optional<Path> isoWriter,
      String arch,
      boolean kvm,
      int nodeCpus,
      long nodeMemoryBytes,
      Duration stopGrace,
      Duration toolTimeout,
      long maxConsoleBytes,
      Clock clock) {

    /**
     * The options for this node: QEMU for its architecture, KVM if usable, its CPUs and memory.
     *
     * @throws IllegalStateException when QEMU or qemu-img is not installed
     */
    public static Options detect(Path stateDir, Blobs blobs) {
      String arch = QemuArguments.qemuArch(System.getProperty("os.arch"));
      Path qemu =
          qemuBinary()
              .orElseThrow(
                  () ->
                      new IllegalStateException(
                          "qemu-system-" + arch + " is not installed (Debian: qemu-system-x86)"));
      Path qemuImg =
          Tools.find("qemu-img")
              .orElseThrow(
                  () ->
                      new IllegalStateException("qemu-img is not installed (Debian: qemu-utils)"));
      Path kvmDevice = Path.of("/dev/kvm");
      return new Options(
          stateDir,
          blobs,
          qemu,
          qemuImg,
          CloudInitSeed.findIsoWriter(),
          arch,
          Files.isReadable(kvmDevice) && Files.isWritable(kvmDevice),
          Runtime.getRuntime().availableProcessors(),
          nodeMemory(),
          Duration.ofSeconds(30),
          Duration.ofSeconds(60),
          16L << 20,
          Clock.systemUTC());
    }

    public Options withStopGrace(Duration grace) {
      return new Options(
          stateDir,
          blobs,
          qemu,
          qemuImg,
          isoWriter,
          arch,
          kvm,
          nodeCpus,
          nodeMemoryBytes,
          grace,
          toolTimeout,
          maxConsoleBytes,
          clock);
    }

    public Options withClock(Clock c) {
      return new Options(
          stateDir,
          blobs,
          qemu,
          qemuImg,
          isoWriter,
          arch,
          kvm,
          nodeCpus,
          nodeMemoryBytes,
          stopGrace,
          toolTimeout,
          maxConsoleBytes,
          c);
    }

    public Options withMaxConsoleBytes(long bytes) {
      return new Options(
          stateDir,
          blobs,
          qemu,
          qemuImg,
          isoWriter,
          arch,
          kvm,
          nodeCpus,
          nodeMemoryBytes,
          stopGrace,
          toolTimeout,
          bytes,
          clock);
    }

    public Options withNode(int cpus, long memoryBytes) {
      return new Options(
          stateDir,
          blobs,
          qemu,
          qemuImg,
          isoWriter,
          arch,
          kvm,
          cpus,
          memoryBytes,
          stopGrace,
          toolTimeout,
          maxConsoleBytes,
          clock);
    }
  }

  /** {@code qemu-system-<arch>} for this node's architecture, if installed. */
  public static Optional<Path> qemuBinary() {
    return Tools.find("qemu-system-" + QemuArguments.qemuArch(System.getProperty("os.arch")));
  }

  /** The VM runtime for this node, keeping its files in {@code stateDir}. */
  public static VmRuntime open(Path stateDir, Blobs blobs) {
    return new VmRuntime(Options.detect(stateDir, blobs));
  }

  public VmRuntime(Options options) {
    this.options = options;
    Path root = options.stateDir().toAbsolutePath();
    this.apps = root.resolve("apps");
    this.sockets = root.resolve("qmp");
    // A Unix socket's path holds at most 107 bytes: the sockets live in one short directory.
    if (sockets.toString().length() + 1 + 24 + 5 > 107) {
      throw new IllegalArgumentException(
          "the VM state directory "
              + root
              + " is too deep for QEMU's control sockets (at most 70 characters)");
    }
    try {
      Files.createDirectories(apps);
      Files.createDirectories(sockets);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the VM state directory " + root, e);
    }
    this.disks = new Disks(options.qemuImg(), options.toolTimeout());
    this.seeds = new CloudInitSeed(options.isoWriter(), options.toolTimeout());
    this.console = new SerialConsole(options.clock());
  }

  @Override
  public List<String> workloadKinds() {
    return List.of(io.edgefleet.protocol.DeviceFacts.RUNTIME_VM);
  }

  // ------------------------------------------------------------------ apply

  @Override
  public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
    checkOpen();
    ReentrantLock lock = lock(app);
    try {
      Workloads workloads;
      try {
        workloads = VmDocuments.parse(manifestsYaml);
      } catch (WorkloadSpecException e) {
        return new ApplyOutcome.Failed(e.getMessage());
      }
      if (!DeviceFacts.RUNTIME_VM.equals(workloads.runtime())) {
        return new ApplyOutcome.Failed(
            "the app holds "
                + ("container".equals(workloads.runtime())
                    ? "Container documents"
                    : "Kubernetes objects")
                + ", not VirtualMachine documents: this is the node's VM runtime");
      }
      Optional<String> tooBig = exceedsNode(app, workloads.vms());
      if (tooBig.isPresent()) {
        return new ApplyOutcome.Failed(tooBig.get());
      }
      Map<String, Map<String, Path>> blobPaths = new LinkedHashMap<>();
      for (VmSpec vm : workloads.vms()) {
        Map<String, Path> paths = new LinkedHashMap<>();
        for (String digest : vm.blobs()) {
          Optional<Path> p = options.blobs().find(digest);
          if (p.isEmpty()) {
            return new ApplyOutcome.RetryAfter(
                RETRY,
                what(vm, digest)
                    + " "
                    + abbreviate(digest)
                    + " of VirtualMachine "
                    + vm.name()
                    + " is not on the device yet");
          }
          paths.put(digest, p.get());
        }
        blobPaths.put(vm.name(), paths);
      }
      Map<String, VmRecord> existing = records(app);
      int pruned = 0;
      Set<String> desired = new TreeSet<>();
      workloads.vms().forEach(v -> desired.add(v.name()));
      for (String name : new TreeSet<>(vmDirs(app))) {
        if (!desired.contains(name)) {
          stop(app, name);
          Tools.deleteTree(vmDir(app, name));
          pruned++;
        }
      }
      int started = 0;
      List<DriftRepair> repaired = new ArrayList<>();
      for (VmSpec vm : workloads.vms()) {
        String hash = specHash(vm);
        VmRecord rec = existing.get(vm.name());
        try {
          if (rec == null || !hash.equals(rec.specHash())) {
            if (rec != null || Files.exists(vmDir(app, vm.name()).resolve(PID_FILE))) {
              stop(app, vm.name());
            }
            start(app, vm, revision, hash, blobPaths.get(vm.name()), 0, null);
            started++;
            continue;
          }
          console.cap(vmDir(app, vm.name()).resolve(SERIAL_LOG), options.maxConsoleBytes());
          Status status = status(rec);
          if (status == Status.RUNNING) {
            if (!revision.equals(rec.revision())) {
              rec.withRevision(revision).write(vmDir(app, vm.name()));
            }
            continue;
          }
          boolean failure = status != Status.POWERED_OFF;
          boolean restart =
              switch (vm.restart()) {
                case "always" -> true;
                case "on-failure" -> failure;
                default -> false;
              };
          if (!restart) {
            continue;
          }
          stop(app, vm.name());
          start(
              app,
              vm,
              revision,
              hash,
              blobPaths.get(vm.name()),
              rec.restarts() + 1,
              status.describe());
          started++;
          if (revision.equals(rec.revision())) {
            repaired.add(
                new DriftRepair(
                    "VirtualMachine " + app + "/" + vm.name(), DriftRepair.Cause.DELETED));
          }
        } catch (StartException | Disks.DiskException | Tools.ToolException e) {
          return new ApplyOutcome.RetryAfter(
              RETRY, "VirtualMachine " + vm.name() + " could not be started: " + e.getMessage());
        }
      }
      if (started == 0 && pruned == 0) {
        return new ApplyOutcome.InSync();
      }
      return new ApplyOutcome.Applied(started, pruned, repaired);
    } catch (UncheckedIOException e) {
      return new ApplyOutcome.RetryAfter(RETRY, "the VM state directory: " + e.getMessage());
    } finally {
      lock.unlock();
    }
  }

  private static String what(VmSpec vm, String digest) {
    if (vm.disk() != null && digest.equals(vm.disk().image())) {
      return "disk image";
    }
    return digest.equals(vm.kernel()) ? "kernel" : "initrd";
  }

  private static String abbreviate(String digest) {
    return digest.substring(0, Math.min(digest.length(), "sha256:".length() + 12)) + "…";
  }

  /** Why the VMs cannot run on this node (CPUs, memory), if they cannot. */
  private Optional<String> exceedsNode(String app, List<VmSpec> vms) {
    long memory = 0;
    for (VmSpec vm : vms) {
      if (vm.cpus() > options.nodeCpus()) {
        return Optional.of(
            "VirtualMachine "
                + vm.name()
                + " asks for "
                + vm.cpus()
                + " CPUs; this node has "
                + options.nodeCpus()
                + ": lower spec.cpus");
      }
      memory += vm.memoryBytes();
    }
    long others = 0;
    for (String other : appDirs()) {
      if (!other.equals(app)) {
        for (VmRecord r : records(other).values()) {
          others += r.spec().memoryBytes();
        }
      }
    }
    if (options.nodeMemoryBytes() > 0 && memory + others > options.nodeMemoryBytes()) {
      return Optional.of(
          "the app's VMs ask for "
              + QemuArguments.mebibytes(memory)
              + " MiB of memory, other apps' VMs hold "
              + QemuArguments.mebibytes(others)
              + " MiB, and this node has "
              + QemuArguments.mebibytes(options.nodeMemoryBytes())
              + " MiB: lower spec.memory or run fewer VMs on this node");
    }
    return Optional.empty();
  }

  private static final class StartException extends RuntimeException {
    StartException(String message) {
      super(message);
    }
  }

  private void start(
      String app,
      VmSpec vm,
      String revision,
      String hash,
      Map<String, Path> blobs,
      int restarts,
      String lastExit) {
    Path dir = vmDir(app, vm.name());
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Optional<Path> disk = Optional.empty();
    if (vm.disk() != null) {
      disk = Optional.of(disks.ensure(dir, blobs.get(vm.disk().image()), vm.disk()));
    } else {
      Disks.deleteAll(dir);
    }
    Optional<QemuArguments.Seed> seed = Optional.empty();
    if (vm.cloudInit() != null) {
      seed = Optional.of(seeds.write(dir, vm.cloudInit(), app + "-" + vm.name()));
    } else {
      CloudInitSeed.delete(dir);
    }
    Path serial = dir.resolve(SERIAL_LOG);
    Path pidFile = dir.resolve(PID_FILE);
    Path qmp = socket(app, vm.name());
    try {
      // The previous boot's console stays readable beside the new one.
      if (Files.exists(serial)) {
        Files.move(serial, dir.resolve(SERIAL_LOG + ".1"), StandardCopyOption.REPLACE_EXISTING);
      }
      console.forget(serial);
      Files.deleteIfExists(pidFile);
      Files.deleteIfExists(qmp);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<String> args =
        QemuArguments.of(
            vm,
            new QemuArguments.Launch(
                options.qemu(),
                options.arch(),
                app + "-" + vm.name(),
                options.kvm(),
                disk,
                Optional.ofNullable(vm.kernel()).map(blobs::get),
                Optional.ofNullable(vm.initrd()).map(blobs::get),
                seed,
                serial,
                qmp,
                pidFile));
    Instant startedAt = options.clock().instant();
    Tools.Result r = Tools.run(args, options.toolTimeout());
    if (!r.ok()) {
      throw new StartException(r.lastWords());
    }
    long pid = readPid(pidFile).orElseThrow(() -> new StartException("QEMU wrote no pid file"));
    new VmRecord(app, vm.name(), revision, hash, vm, pid, startedAt, restarts, lastExit, null)
        .write(dir);
  }

  // ------------------------------------------------------------------ stop

  /**
   * Stops the VM's QEMU if it runs: the guest is asked to power off (ACPI), QEMU is told to quit
   * after {@code stopGrace}, and killed if it has not ended 10 seconds later.
   */
  private void stop(String app, String vm) {
    Path dir = vmDir(app, vm);
    Path qmp = socket(app, vm);
    Optional<ProcessHandle> p = readPid(dir.resolve(PID_FILE)).flatMap(pid -> qemu(pid, qmp));
    if (p.isPresent()) {
      ProcessHandle h = p.get();
      long deadline = System.nanoTime() + options.stopGrace().toNanos();
      try {
        Qmp.execute(qmp, "system_powerdown", QMP_TIMEOUT);
        // With -no-shutdown QEMU stays once the guest is off: wait for that status.
        while (h.isAlive() && System.nanoTime() < deadline) {
          if ("shutdown".equals(runState(qmp).orElse(""))) {
            break;
          }
          awaitExit(h, Duration.ofMillis(250));
        }
      } catch (Qmp.QmpException e) {
        // No answer on QMP: go on to quit and kill.
      }
      if (h.isAlive()) {
        try {
          Qmp.execute(qmp, "quit", QMP_TIMEOUT);
        } catch (Qmp.QmpException e) {
          // Killed below.
        }
        awaitExit(h, Duration.ofSeconds(10));
      }
      if (h.isAlive()) {
        h.destroyForcibly();
        awaitExit(h, Duration.ofSeconds(10));
      }
    }
    try {
      Files.deleteIfExists(dir.resolve(PID_FILE));
      Files.deleteIfExists(qmp);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void awaitExit(ProcessHandle h, Duration d) {
    try {
      h.onExit().get(d.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      // Still running: the caller decides what comes next.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ------------------------------------------------------------------ status

  /** What a VM's QEMU is doing. */
  private enum Status {
    RUNNING("running"),
    /** The guest powered off; QEMU waits ({@code -no-shutdown}). */
    POWERED_OFF("the guest powered off"),
    /** The guest kernel panicked; QEMU paused it. */
    PANICKED("the guest panicked"),
    /** QEMU is not running (killed, crashed, or the node rebooted). */
    GONE("QEMU exited");

    private final String text;

    Status(String text) {
      this.text = text;
    }

    String describe() {
      return text;
    }
  }

  private Status status(VmRecord rec) {
    Path qmp = socket(rec.app(), rec.vm());
    if (qemu(rec.pid(), qmp).isEmpty()) {
      return Status.GONE;
    }
    Optional<String> state = runState(qmp);
    return switch (state.orElse("running")) {
      case "shutdown" -> Status.POWERED_OFF;
      case "guest-panicked", "internal-error" -> Status.PANICKED;
      default -> Status.RUNNING;
    };
  }

  private static Optional<String> runState(Path qmp) {
    try {
      return Optional.of(Qmp.execute(qmp, "query-status", QMP_TIMEOUT).path("status").asText());
    } catch (Qmp.QmpException e) {
      return Optional.empty();
    }
  }

  /**
   * The QEMU process {@code pid} if it runs and is this VM's (its command line names the VM's QMP
   * socket): a pid reused by another process after a reboot is not taken for the VM.
   */
  private static Optional<ProcessHandle> qemu(long pid, Path qmp) {
    if (pid <= 0) {
      return Optional.empty();
    }
    Optional<ProcessHandle> h = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
    if (h.isEmpty()) {
      return h;
    }
    Path cmdline = Path.of("/proc", Long.toString(pid), "cmdline");
    try {
      String args = Files.readString(cmdline, StandardCharsets.ISO_8859_1);
      return args.contains(qmp.toString()) ? h : Optional.empty();
    } catch (IOException e) {
      // No /proc (not Linux): the pid file is all there is to go by.
      return Files.isDirectory(Path.of("/proc")) ? Optional.empty() : h;
    }
  }

  private static Optional<Long> readPid(Path pidFile) {
    try {
      if (!Files.isRegularFile(pidFile)) {
        return Optional.empty();
      }
      String s = Files.readString(pidFile).strip();
      return s.matches("[0-9]{1,10}") ? Optional.of(Long.parseLong(s)) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  // ------------------------------------------------------------------ remove, health, owned

  @Override
  public ApplyOutcome remove(String app) {
    checkOpen();
    ReentrantLock lock = lock(app);
    try {
      Set<String> vms = vmDirs(app);
      if (vms.isEmpty() && !Files.exists(appDir(app))) {
        return new ApplyOutcome.InSync();
      }
      for (String vm : vms) {
        stop(app, vm);
      }
      Tools.deleteTree(appDir(app));
      return vms.isEmpty() ? new ApplyOutcome.InSync() : new ApplyOutcome.Applied(0, vms.size());
    } catch (UncheckedIOException e) {
      return new ApplyOutcome.RetryAfter(RETRY, "the VM state directory: " + e.getMessage());
    } finally {
      lock.unlock();
    }
  }

  @Override
  public AppHealth health(String app) {
    checkOpen();
    ReentrantLock lock = lock(app);
    try {
      Map<String, VmRecord> recs = records(app);
      if (recs.isEmpty()) {
        return new AppHealth(AppHealth.State.MISSING, "no virtual machines");
      }
      AppHealth worst = null;
      int ready = 0;
      for (VmRecord rec : recs.values()) {
        AppHealth h = health(rec);
        if (h.state() == AppHealth.State.READY) {
          ready++;
        }
        if (worst == null || rank(h.state()) > rank(worst.state())) {
          worst = h;
        }
      }
      if (worst.state() == AppHealth.State.READY) {
        return new AppHealth(
            AppHealth.State.READY,
            ready == 1 ? worst.reason() : "all " + ready + " virtual machines ready");
      }
      return new AppHealth(
          worst.state(), worst.reason() + " (" + ready + "/" + recs.size() + " ready)");
    } catch (UncheckedIOException e) {
      throw new RuntimeUnavailableException(
          "the VM state directory cannot be read: " + e.getMessage(), RETRY, e);
    } finally {
      lock.unlock();
    }
  }

  private static int rank(AppHealth.State s) {
    return switch (s) {
      case READY -> 0;
      case PROGRESSING -> 1;
      case MISSING -> 2;
      case FAILED -> 3;
    };
  }

  private AppHealth health(VmRecord rec) {
    String name = "VirtualMachine " + rec.vm();
    String restarted =
        rec.restarts() == 0
            ? ""
            : "; restarted "
                + rec.restarts()
                + (rec.restarts() == 1 ? " time" : " times")
                + " (last: "
                + rec.lastExit()
                + ")";
    Status status = status(rec);
    if (status != Status.RUNNING) {
      String next =
          switch (rec.spec().restart()) {
            case "always" -> "it is restarted by the next reconcile";
            case "on-failure" ->
                status == Status.POWERED_OFF
                    ? "restart: on-failure keeps it off"
                    : "it is restarted by the next reconcile";
            default -> "restart: never keeps it off";
          };
      return new AppHealth(
          AppHealth.State.FAILED, name + ": " + status.describe() + "; " + next + restarted);
    }
    if (rec.readyAt() != null) {
      return new AppHealth(AppHealth.State.READY, name + " ready" + restarted);
    }
    VmSpec.Readiness readiness = rec.spec().readiness();
    Instant now = options.clock().instant();
    boolean ready;
    String waiting;
    if (readiness == null) {
      ready = true;
      waiting = "";
    } else if (readiness.serial() != null) {
      ready = console.contains(vmDir(rec.app(), rec.vm()).resolve(SERIAL_LOG), readiness.serial());
      waiting = "no line containing '" + readiness.serial() + "' on its serial console";
    } else {
      ready = accepts(socket(rec.app(), rec.vm()), readiness.tcpPort());
      waiting = "port " + readiness.tcpPort() + " accepts no connection";
    }
    if (ready) {
      rec.withReadyAt(now).write(vmDir(rec.app(), rec.vm()));
      return new AppHealth(AppHealth.State.READY, name + " ready" + restarted);
    }
    Duration booting = Duration.between(rec.startedAt(), now);
    if (booting.compareTo(readiness.timeout()) > 0) {
      return new AppHealth(
          AppHealth.State.FAILED,
          name + " not ready within " + readiness.timeout().toSeconds() + "s: " + waiting);
    }
    return new AppHealth(
        AppHealth.State.PROGRESSING,
        name + " booting (" + Math.max(0, booting.toSeconds()) + "s): " + waiting + restarted);
  }

  /**
   * Whether the guest accepts connections on the port forwarded from host port {@code port}. A
   * connection to the host port always succeeds (QEMU's user network accepts it and only then
   * connects to the guest, dropping it if the guest refuses), so the probe holds it open and asks
   * QEMU ({@code info usernet}) whether a connection through that port reached the guest.
   */
  private static boolean accepts(Path qmp, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), (int) TCP_PROBE.toMillis());
      // QEMU's table names a forwarded connection by the host port it came in on.
      String hostPort = Integer.toString(port);
      long deadline = System.nanoTime() + TCP_PROBE.toNanos();
      do {
        String table =
            Qmp.execute(
                    qmp,
                    "human-monitor-command",
                    Map.of("command-line", "info usernet"),
                    QMP_TIMEOUT)
                .asText();
        for (String line : table.lines().toList()) {
          List<String> cols = List.of(line.trim().split("\\s+"));
          if (cols.size() >= 4
              && cols.get(0).equals("TCP[ESTABLISHED]")
              && cols.get(3).equals(hostPort)) {
            return true;
          }
        }
        LockSupport.parkNanos(Duration.ofMillis(100).toNanos());
      } while (System.nanoTime() < deadline && !s.isClosed());
      return false;
    } catch (IOException | Qmp.QmpException e) {
      return false;
    }
  }

  @Override
  public Set<String> ownedApps() {
    checkOpen();
    Set<String> owned = new TreeSet<>();
    for (String app : appDirs()) {
      if (!vmDirs(app).isEmpty()) {
        owned.add(app);
      }
    }
    return owned;
  }

  // ------------------------------------------------------------------ logs

  @Override
  public List<LogSource> logSources(String app) {
    checkOpen();
    List<LogSource> out = new ArrayList<>();
    for (String vm : vmDirs(app)) {
      out.add(new LogSource(app, vm, SERIAL));
    }
    return out;
  }

  @Override
  public LogStream readLogs(LogSource source, LogQuery query, LogSink sink) {
    checkOpen();
    if (!LABEL.matcher(source.namespace()).matches()
        || !LABEL.matcher(source.pod()).matches()
        || !SERIAL.equals(source.container())) {
      sink.failed("no such virtual machine console: " + source);
      return () -> {};
    }
    Path dir = vmDir(source.namespace(), source.pod());
    if (!Files.isDirectory(dir)) {
      sink.failed(
          "app " + source.namespace() + " has no virtual machine " + source.pod() + " here");
      return () -> {};
    }
    return console.read(dir.resolve(SERIAL_LOG), query, sink, () -> !Files.isDirectory(dir));
  }

  @Override
  public void close() {
    // The VMs keep running: they belong to the node, not to this agent process.
    closed = true;
  }

  // ------------------------------------------------------------------ files

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the VM runtime is closed");
    }
  }

  private ReentrantLock lock(String app) {
    if (!LABEL.matcher(app).matches()) {
      throw new IllegalArgumentException("app must be a DNS label, got '" + app + "'");
    }
    ReentrantLock l = locks.computeIfAbsent(app, a -> new ReentrantLock());
    l.lock();
    return l;
  }

  private Path appDir(String app) {
    return apps.resolve(app);
  }

  private Path vmDir(String app, String vm) {
    return apps.resolve(app).resolve(vm);
  }

  private Path socket(String app, String vm) {
    return sockets.resolve(sha256(app + "/" + vm).substring(0, 24) + ".sock");
  }

  private Set<String> appDirs() {
    return names(apps);
  }

  /** The app's VMs: directories holding a record or a pid file (a start cut short). */
  private Set<String> vmDirs(String app) {
    Set<String> out = new TreeSet<>();
    for (String vm : names(appDir(app))) {
      Path d = vmDir(app, vm);
      if (Files.exists(d.resolve(VmRecord.FILE)) || Files.exists(d.resolve(PID_FILE))) {
        out.add(vm);
      }
    }
    return out;
  }

  private Map<String, VmRecord> records(String app) {
    Map<String, VmRecord> out = new LinkedHashMap<>();
    for (String vm : vmDirs(app)) {
      VmRecord.read(vmDir(app, vm)).ifPresent(r -> out.put(vm, r));
    }
    return out;
  }

  private static Set<String> names(Path dir) {
    Set<String> out = new TreeSet<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, Files::isDirectory)) {
      for (Path p : ds) {
        String n = p.getFileName().toString();
        if (LABEL.matcher(n).matches()) {
          out.add(n);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  static String specHash(VmSpec spec) {
    return "sha256:" + sha256(JsonCodec.write(spec));
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static long nodeMemory() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (l.startsWith("MemTotal:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      // Unknown: memory is not checked.
    }
    return 0;
  }
}
