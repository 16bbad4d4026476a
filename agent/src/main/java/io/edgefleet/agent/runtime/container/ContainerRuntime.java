package io.edgefleet.agent.runtime.container;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.Blobs;
import io.edgefleet.agent.runtime.DriftRepair;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import io.edgefleet.agent.runtime.WorkloadDocuments;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.json.JsonCodecException;
import io.edgefleet.protocol.workload.ContainerSpec;
import io.edgefleet.protocol.workload.Workloads;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs apps of {@code edgefleet.io/v1 Container} documents with podman (rootful; runc where podman
 * is configured for it). Each workload is one container named {@code <app>_<name>}, labelled with
 * its app, workload, the revision that created it and a hash of its podman arguments; its image is
 * the blob its spec names, loaded once ({@link Images}). An apply makes the node match the
 * documents exactly: missing containers are created, containers whose spec changed are replaced,
 * exited ones restarted as their restart policy says, and containers the app no longer names
 * removed. Named volumes are podman volumes labelled with the app, removed with it.
 *
 * <p>Thread-safe: calls for one app are serialized; calls for different apps may run in parallel.
 * Every podman call is bounded by {@link Options#timeout()}.
 */
public final class ContainerRuntime implements WorkloadRuntime {

  /** How long an app waits before its missing image is looked for again. */
  static final Duration BLOB_RETRY = Duration.ofSeconds(15);

  /** Restarts in a row (exits seen at consecutive passes) after which an app is failed. */
  static final int CRASH_LOOP = 3;

  private static final Duration UNAVAILABLE_RETRY = Duration.ofSeconds(10);

  /**
   * How this runtime runs podman.
   *
   * @param command the podman executable
   * @param storage where podman keeps images and containers; empty for podman's default storage
   *     ({@code /var/lib/containers/storage} when rootful). With a directory, podman runs with
   *     {@code --root DIR/root --runroot DIR/run}, e.g. under the agent's state directory
   * @param timeout the longest one podman call may take (loading an image may take longer)
   * @param nofile open files per container ({@code --ulimit nofile}): set explicitly because
   *     podman's default may exceed what the host grants
   * @param nproc processes per container ({@code --ulimit nproc})
   */
  public record Options(
      String command,
      Optional<Path> storage,
      Duration timeout,
      long nofile,
      long nproc,
      Clock clock) {
    public Options {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive");
      }
      if (nofile < 1 || nproc < 1) {
        throw new IllegalArgumentException("nofile and nproc must be positive");
      }
    }

    /**
     * {@code podman} from the path, its default storage, 60s per call, and the agent's own hard
     * limits for open files and processes (what the host grants it), at most 65536 and 4096.
     */
    public static Options defaults() {
      return new Options(
          "podman",
          Optional.empty(),
          Duration.ofSeconds(60),
          Math.min(65536, ownLimit("Max open files", 1024)),
          Math.min(4096, ownLimit("Max processes", 1024)),
          Clock.systemUTC());
    }

    public Options withStorage(Path dir) {
      return new Options(command, Optional.of(dir), timeout, nofile, nproc, clock);
    }

    public Options withCommand(String podman) {
      return new Options(podman, storage, timeout, nofile, nproc, clock);
    }

    public Options withClock(Clock c) {
      return new Options(command, storage, timeout, nofile, nproc, c);
    }

    List<String> base() {
      List<String> b = new ArrayList<>(List.of(command));
      storage.ifPresent(
          d -> {
            b.add("--root");
            b.add(d.resolve("root").toString());
            b.add("--runroot");
            b.add(d.resolve("run").toString());
          });
      return b;
    }
  }

  /** One container of an app, as {@code podman ps} lists it. */
  record Container(
      String id,
      String workload,
      String revision,
      String specHash,
      String state,
      int exitCode,
      Instant startedAt) {
    boolean running() {
      return "running".equals(state);
    }
  }

  /** What the last apply of an app set up. */
  private record Desired(String digest, String revision, List<ContainerSpec> specs) {}

  private final Podman podman;
  private final Blobs blobs;
  private final Images images;
  private final HealthChecks checks;
  private final PodmanArgs.Limits limits;
  private final Map<String, Desired> desired = new ConcurrentHashMap<>();
  private final Map<String, Integer> restarts = new ConcurrentHashMap<>();
  private final Object[] locks = new Object[64];
  private volatile boolean closed;

  public ContainerRuntime(Options options, Blobs blobs) {
    this.podman = new Podman(options.base(), options.timeout());
    this.blobs = blobs;
    this.images = new Images(podman);
    this.checks = new HealthChecks(podman, options.clock());
    this.limits = new PodmanArgs.Limits(options.nofile(), options.nproc());
    for (int i = 0; i < locks.length; i++) {
      locks[i] = new Object();
    }
  }

  /** Whether podman answers {@code podman version} now (what makes this node a container node). */
  public static boolean available(Options options) {
    return new Podman(options.base(), options.timeout()).answers();
  }

  /**
   * Whether the podman command is installed: an executable file at its path, or by its name in a
   * directory of {@code PATH}. Cheap, unlike {@link #available}: asking podman costs about half a
   * second, which the agent's start does not wait for (a podman that is installed but does not
   * answer makes the runtime's calls fail, retryably, with podman's own error).
   */
  public static boolean installed(Options options) {
    String command = options.command();
    if (command.contains("/")) {
      return java.nio.file.Files.isExecutable(Path.of(command));
    }
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(java.io.File.pathSeparator)) {
      if (!dir.isEmpty() && java.nio.file.Files.isExecutable(Path.of(dir, command))) {
        return true;
      }
    }
    return false;
  }

  @Override
  public List<String> workloadKinds() {
    return List.of(DeviceFacts.RUNTIME_CONTAINER);
  }

  private Object lock(String app) {
    return locks[Math.floorMod(app.hashCode(), locks.length)];
  }

  private void open() {
    if (closed) {
      throw new IllegalStateException("the container runtime is closed");
    }
  }

  // ------------------------------------------------------------------ apply

  @Override
  public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
    open();
    Workloads workloads;
    try {
      workloads = WorkloadDocuments.read(manifestsYaml);
    } catch (IllegalArgumentException e) {
      return new ApplyOutcome.Failed(e.getMessage());
    }
    if (!DeviceFacts.RUNTIME_CONTAINER.equals(workloads.runtime())) {
      return new ApplyOutcome.Failed(
          "the app holds "
              + workloads.runtime()
              + " workloads, not edgefleet.io/v1 Container documents");
    }
    for (ContainerSpec spec : workloads.containers()) {
      if (!spec.imageIsDigest()) {
        return new ApplyOutcome.Failed(
            "Container "
                + spec.name()
                + ": image "
                + spec.image()
                + " is not a blob digest (sha256:<hex>); the controller resolves registry"
                + " references before it sends an app");
      }
    }
    synchronized (lock(app)) {
      try {
        return applyLocked(app, revision, digest(app, revision, manifestsYaml), workloads);
      } catch (PodmanException e) {
        return new ApplyOutcome.RetryAfter(UNAVAILABLE_RETRY, e.getMessage());
      }
    }
  }

  private ApplyOutcome applyLocked(
      String app, String revision, String digest, Workloads workloads) {
    Map<String, Path> archives = new LinkedHashMap<>();
    for (String blob : workloads.blobs()) {
      Optional<Path> file = blobs.find(blob);
      if (file.isEmpty()) {
        return new ApplyOutcome.RetryAfter(
            BLOB_RETRY, "image " + abbreviate(blob) + " is not on the device yet");
      }
      archives.put(blob, file.get());
    }
    List<Container> existing = containers(app);
    Desired before = desired.get(app);
    // Repairs are reported only for the revision and documents already in effect: the agent's
    // own changes are never drift. After a restart of the agent, the labels tell.
    boolean inEffect =
        before != null
            ? before.digest().equals(digest)
            : !existing.isEmpty() && existing.stream().allMatch(c -> revision.equals(c.revision()));
    desired.put(app, new Desired(digest, revision, workloads.containers()));
    Map<String, Container> byName = new HashMap<>();
    int pruned = 0;
    for (Container c : existing) {
      boolean named = workloads.containers().stream().anyMatch(s -> s.name().equals(c.workload()));
      if (!named || byName.containsKey(c.workload())) {
        removeContainer(c.id());
        pruned++;
      } else {
        byName.put(c.workload(), c);
      }
    }
    int changed = 0;
    List<DriftRepair> repairs = new ArrayList<>();
    for (ContainerSpec spec : workloads.containers()) {
      String object = "Container " + app + "/" + spec.name();
      List<String> args = PodmanArgs.run(app, spec, limits);
      String hash = PodmanArgs.specHash(args);
      Container c = byName.get(spec.name());
      if (c != null && c.specHash().equals(hash)) {
        if (c.running()) {
          restarts.remove(c.id());
          continue;
        }
        if (!shouldRun(spec, c)) {
          continue;
        }
        Podman.Result start = podman.run("start", c.id());
        if (!start.ok()) {
          return new ApplyOutcome.Failed(object + " cannot be started: " + start.error());
        }
        restarts.merge(c.id(), 1, Integer::sum);
        changed++;
        if (inEffect) {
          repairs.add(new DriftRepair(object, DriftRepair.Cause.STOPPED));
        }
        continue;
      }
      if (c != null) {
        removeContainer(c.id());
      }
      String image;
      try {
        image = images.ensure(spec.image(), archives.get(spec.image()));
      } catch (IllegalStateException e) {
        return new ApplyOutcome.Failed(object + ": " + e.getMessage());
      }
      for (ContainerSpec.Volume v : spec.volumes()) {
        if (v.name() != null) {
          ensureVolume(app, v.name());
        }
      }
      List<String> run = new ArrayList<>(List.of("run", "--detach"));
      run.addAll(PodmanArgs.labels(app, spec.name(), revision, hash));
      run.addAll(args);
      Podman.Result created = podman.run(run);
      if (!created.ok()) {
        images.forget(spec.image());
        // A container podman created but could not start would block the name: remove it.
        podman.run("rm", "--force", PodmanArgs.containerName(app, spec.name()));
        return new ApplyOutcome.Failed(object + " cannot be run: " + created.error());
      }
      changed++;
      if (inEffect) {
        repairs.add(
            new DriftRepair(
                object, c == null ? DriftRepair.Cause.DELETED : DriftRepair.Cause.CHANGED));
      }
    }
    if (changed == 0 && pruned == 0) {
      return new ApplyOutcome.InSync();
    }
    pruneImages();
    return new ApplyOutcome.Applied(changed, pruned, inEffect ? repairs : List.of());
  }

  /** Whether an exited container is to run again under its restart policy. */
  static boolean shouldRun(ContainerSpec spec, Container c) {
    if ("created".equals(c.state()) || "configured".equals(c.state())) {
      return true;
    }
    return switch (spec.restart()) {
      case ContainerSpec.RESTART_ALWAYS -> true;
      case ContainerSpec.RESTART_ON_FAILURE -> c.exitCode() != 0;
      default -> false;
    };
  }

  private void ensureVolume(String app, String volume) {
    String name = PodmanArgs.volumeName(app, volume);
    if (podman.run("volume", "exists", name).ok()) {
      return;
    }
    Podman.Result r =
        podman.run("volume", "create", "--label", PodmanArgs.APP_LABEL + "=" + app, name);
    if (!r.ok() && !podman.run("volume", "exists", name).ok()) {
      throw new PodmanException("volume " + name + " cannot be created: " + r.error(), null);
    }
  }

  private void removeContainer(String id) {
    Podman.Result r = podman.run("rm", "--force", "--time", "10", id);
    if (!r.ok() && !r.err().contains("no such container")) {
      throw new PodmanException("container " + id + " cannot be removed: " + r.error(), null);
    }
    restarts.remove(id);
  }

  private void pruneImages() {
    try {
      images.prune(
          () -> {
            Set<String> keep = new HashSet<>();
            for (Desired d : desired.values()) {
              d.specs().forEach(s -> keep.add(s.image()));
            }
            return keep;
          });
    } catch (PodmanException e) {
      // Unused images are removed at a later pass.
    }
  }

  // ------------------------------------------------------------------ remove, owned

  @Override
  public ApplyOutcome remove(String app) {
    open();
    synchronized (lock(app)) {
      try {
        List<Container> existing = containers(app);
        for (Container c : existing) {
          removeContainer(c.id());
        }
        int volumes = 0;
        for (String v : lines(podman.run(volumeList(app)))) {
          Podman.Result r = podman.run("volume", "rm", "--force", v);
          if (!r.ok()) {
            return new ApplyOutcome.RetryAfter(
                UNAVAILABLE_RETRY, "volume " + v + " cannot be removed: " + r.error());
          }
          volumes++;
        }
        desired.remove(app);
        pruneImages();
        return existing.isEmpty() && volumes == 0
            ? new ApplyOutcome.InSync()
            : new ApplyOutcome.Applied(0, existing.size() + volumes);
      } catch (PodmanException e) {
        return new ApplyOutcome.RetryAfter(UNAVAILABLE_RETRY, e.getMessage());
      }
    }
  }

  private static List<String> volumeList(String app) {
    return List.of(
        "volume",
        "ls",
        "--filter",
        "label=" + PodmanArgs.APP_LABEL + (app.isEmpty() ? "" : "=" + app),
        "--format",
        "{{.Name}}");
  }

  @Override
  public Set<String> ownedApps() {
    open();
    try {
      Set<String> apps = new TreeSet<>();
      for (JsonNode c : list("--filter", "label=" + PodmanArgs.APP_LABEL)) {
        String app = c.path("Labels").path(PodmanArgs.APP_LABEL).asText("");
        if (!app.isEmpty()) {
          apps.add(app);
        }
      }
      Podman.Result volumes =
          podman.run(
              "volume",
              "ls",
              "--filter",
              "label=" + PodmanArgs.APP_LABEL,
              "--format",
              "{{index .Labels \"" + PodmanArgs.APP_LABEL + "\"}}");
      if (!volumes.ok()) {
        throw new PodmanException("podman volume ls failed: " + volumes.error(), null);
      }
      apps.addAll(lines(volumes));
      return apps;
    } catch (PodmanException e) {
      throw new RuntimeUnavailableException(e.getMessage(), UNAVAILABLE_RETRY, e);
    }
  }

  // ------------------------------------------------------------------ health

  @Override
  public AppHealth health(String app) {
    open();
    List<Container> existing;
    try {
      existing = containers(app);
    } catch (PodmanException e) {
      throw new RuntimeUnavailableException(e.getMessage(), UNAVAILABLE_RETRY, e);
    }
    checks.retain(
        existing.stream().map(Container::id).collect(java.util.stream.Collectors.toSet()));
    Desired d = desired.get(app);
    if (existing.isEmpty()) {
      return new AppHealth(AppHealth.State.MISSING, "no containers");
    }
    Map<String, Container> byName = new HashMap<>();
    existing.forEach(c -> byName.put(c.workload(), c));
    List<ContainerSpec> specs = d == null ? List.of() : d.specs();
    List<String> progressing = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    for (ContainerSpec spec : specs) {
      Container c = byName.get(spec.name());
      if (c == null) {
        missing.add(spec.name() + ": missing");
        continue;
      }
      if (!c.running()) {
        boolean again = shouldRun(spec, c);
        if (!again && c.exitCode() == 0 && !"created".equals(c.state())) {
          continue; // completed, and not to run again
        }
        if (!again) {
          failed.add(spec.name() + ": exited with code " + c.exitCode());
        } else if (restarts.getOrDefault(c.id(), 0) >= CRASH_LOOP) {
          failed.add(
              spec.name()
                  + ": keeps exiting (code "
                  + c.exitCode()
                  + "), restarted "
                  + restarts.get(c.id())
                  + " times");
        } else {
          progressing.add(spec.name() + ": " + c.state() + ", exit code " + c.exitCode());
        }
        continue;
      }
      if (spec.healthCheck() == null) {
        continue;
      }
      HealthChecks.Observation o;
      try {
        o =
            checks.observe(
                new HealthChecks.Target(c.id(), c.startedAt(), () -> address(c)),
                spec.healthCheck());
      } catch (PodmanException e) {
        throw new RuntimeUnavailableException(e.getMessage(), UNAVAILABLE_RETRY, e);
      }
      switch (o.status()) {
        case HEALTHY -> {}
        case STARTING -> progressing.add(spec.name() + ": " + o.detail());
        case UNHEALTHY -> failed.add(spec.name() + ": unhealthy: " + o.detail());
      }
    }
    if (!failed.isEmpty()) {
      return new AppHealth(AppHealth.State.FAILED, String.join("; ", failed));
    }
    if (!missing.isEmpty()) {
      return new AppHealth(AppHealth.State.MISSING, String.join("; ", missing));
    }
    if (!progressing.isEmpty()) {
      return new AppHealth(AppHealth.State.PROGRESSING, String.join("; ", progressing));
    }
    if (specs.isEmpty()) {
      return new AppHealth(
          AppHealth.State.PROGRESSING, existing.size() + " container(s), not applied yet");
    }
    return new AppHealth(
        AppHealth.State.READY,
        "all " + specs.size() + " container" + (specs.size() == 1 ? "" : "s") + " ready");
  }

  /** The address the agent reaches the container at: its address on podman's network. */
  private String address(Container c) {
    Podman.Result r =
        podman.run(
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}{{.NetworkSettings.IPAddress}}",
            c.id());
    if (r.ok()) {
      for (String a : r.out().strip().split("\\s+")) {
        if (!a.isBlank()) {
          return a;
        }
      }
    }
    // Host networking: the container's ports are the node's.
    return "127.0.0.1";
  }

  // ------------------------------------------------------------------ logs

  @Override
  public List<LogSource> logSources(String app) {
    open();
    try {
      List<LogSource> sources = new ArrayList<>();
      for (Container c : containers(app)) {
        sources.add(new LogSource(app, c.workload(), c.workload()));
      }
      return sources;
    } catch (PodmanException e) {
      throw new RuntimeUnavailableException(e.getMessage(), UNAVAILABLE_RETRY, e);
    }
  }

  @Override
  public LogStream readLogs(LogSource source, LogQuery query, LogSink sink) {
    open();
    return ContainerLogs.read(
        podman, PodmanArgs.containerName(source.namespace(), source.container()), query, sink);
  }

  @Override
  public void close() {
    closed = true;
  }

  // ------------------------------------------------------------------ listing

  private List<Container> containers(String app) {
    List<Container> out = new ArrayList<>();
    for (JsonNode c : list("--filter", "label=" + PodmanArgs.APP_LABEL + "=" + app)) {
      JsonNode labels = c.path("Labels");
      if (!app.equals(labels.path(PodmanArgs.APP_LABEL).asText())) {
        continue;
      }
      out.add(
          new Container(
              c.path("Id").asText(),
              labels.path(PodmanArgs.WORKLOAD_LABEL).asText(""),
              labels.path(PodmanArgs.REVISION_LABEL).asText(""),
              labels.path(PodmanArgs.SPEC_LABEL).asText(""),
              c.path("State").asText(""),
              c.path("ExitCode").asInt(),
              Instant.ofEpochSecond(c.path("StartedAt").asLong())));
    }
    return out;
  }

  private JsonNode list(String... filter) {
    List<String> args = new ArrayList<>(List.of("ps", "--all", "--format", "json"));
    args.addAll(List.of(filter));
    Podman.Result r = podman.run(args);
    if (!r.ok()) {
      throw new PodmanException("podman ps failed: " + r.error(), null);
    }
    try {
      JsonNode list = JsonCodec.readTree(r.out().isBlank() ? "[]" : r.out());
      return list.isArray() ? list : JsonCodec.readTree("[]");
    } catch (JsonCodecException e) {
      throw new PodmanException("podman ps answered no JSON: " + e.getMessage(), e);
    }
  }

  private static List<String> lines(Podman.Result r) {
    if (!r.ok()) {
      throw new PodmanException("podman failed: " + r.error(), null);
    }
    return r.out().lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
  }

  static String abbreviate(String digest) {
    return digest.length() > 19 ? digest.substring(0, 19) + "…" : digest;
  }

  private static String digest(String app, String revision, String yaml) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (String part : List.of(app, revision, yaml)) {
        byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
        sha.update(Integer.toString(bytes.length).getBytes(StandardCharsets.US_ASCII));
        sha.update((byte) ':');
        sha.update(bytes);
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /** A hard limit of this process from {@code /proc/self/limits}, or {@code fallback}. */
  static long ownLimit(String name, long fallback) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
        if (line.startsWith(name)) {
          String[] f = line.substring(name.length()).trim().split("\\s+");
          if (f.length >= 2 && f[1].equals("unlimited")) {
            return Long.MAX_VALUE;
          }
          return f.length >= 2 && f[1].matches("[0-9]{1,18}") ? Long.parseLong(f[1]) : fallback;
        }
      }
    } catch (IOException | RuntimeException e) {
      return fallback;
    }
    return fallback;
  }
}
