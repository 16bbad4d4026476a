package io.edgefleet.protocol.workload;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One {@code edgefleet.io/v1 Container}: a container run by the node's container engine.
 *
 * <pre>
 * apiVersion: edgefleet.io/v1
 * kind: Container
 * metadata: {name: web}
 * spec:
 *   image: sha256:&lt;blob digest of the image's OCI archive&gt;   # or registry/repo@sha256:&lt;manifest&gt;
 *   command: [/bin/httpd]          # replaces the image's entrypoint
 *   args: [-f, -p, "8080"]
 *   env: {MODE: edge}
 *   ports: [{host: 8080, container: 8080, protocol: tcp, hostIp: 0.0.0.0}]
 *   volumes: [{name: data, mountPath: /data}, {hostPath: /dev/shm, mountPath: /shm, readOnly: true}]
 *   restart: always                # always | on-failure | never
 *   resources: {cpus: "0.5", memory: 64Mi}
 *   devices: [/dev/ttyUSB0, nvidia.com/gpu=all]
 *   user: "1000:1000"
 *   workingDir: /srv
 *   healthCheck: {exec: [wget, -q, -O-, http://127.0.0.1:8080/], interval: 10s, timeout: 3s,
 *                 retries: 3, startPeriod: 5s}   # or http: {port: 8080, path: /} or tcp: {port: 8080}
 * </pre>
 *
 * @param image a blob digest ({@code sha256:<hex>} of the image's OCI archive) on a device; in a
 *     Git source also a registry reference pinned by manifest digest, which the controller resolves
 * @param cpus CPU share as a decimal string ({@code 0.5}); null for no limit
 * @param memoryBytes memory limit; 0 for none
 * @param devices host device paths ({@code /dev/ttyUSB0}) or CDI device names ({@code
 *     nvidia.com/gpu=all})
 */
public record ContainerSpec(
    String name,
    String image,
    List<String> command,
    List<String> args,
    Map<String, String> env,
    List<Port> ports,
    List<Volume> volumes,
    String restart,
    String cpus,
    long memoryBytes,
    List<String> devices,
    String user,
    String workingDir,
    HealthCheck healthCheck) {

  /** Restart policies. */
  public static final String RESTART_ALWAYS = "always";

  public static final String RESTART_ON_FAILURE = "on-failure";
  public static final String RESTART_NEVER = "never";

  private static final Pattern IMAGE_REFERENCE =
      Pattern.compile(
          "[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+@sha256:[0-9a-f]{64}");
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,254}");
  private static final Pattern CPUS = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3})?");
  private static final Pattern DEVICE =
      Pattern.compile(
          "/dev/[A-Za-z0-9._/-]{1,200}|[a-z0-9.-]{1,100}/[a-z0-9.-]{1,100}=[A-Za-z0-9._-]{1,100}");
  private static final Pattern USER =
      Pattern.compile("[a-z_][a-z0-9_-]{0,31}|[0-9]{1,9}(:[0-9]{1,9})?");

  public ContainerSpec {
    command = List.copyOf(command);
    args = List.copyOf(args);
    env = Map.copyOf(env);
    ports = List.copyOf(ports);
    volumes = List.copyOf(volumes);
    devices = List.copyOf(devices);
  }

  /**
   * A port published on the node.
   *
   * @param hostIp the node address it listens on ({@code 0.0.0.0}: all)
   */
  public record Port(int host, int container, String protocol, String hostIp) {}

  /**
   * A mount: a named volume of the app ({@code name}, kept across restarts and updates, removed
   * with the app) or a path of the node ({@code hostPath}); exactly one of the two is set.
   */
  public record Volume(String name, String hostPath, String mountPath, boolean readOnly) {}

  /**
   * How the container's health is checked: exactly one of {@code exec} (a command run inside it,
   * healthy when it exits 0), {@code httpPort}/{@code httpPath} (a GET answered below 400), or
   * {@code tcpPort} (a connection accepted), on the container's own ports.
   */
  public record HealthCheck(
      List<String> exec,
      int httpPort,
      String httpPath,
      int tcpPort,
      Duration interval,
      Duration timeout,
      int retries,
      Duration startPeriod) {
    public HealthCheck {
      exec = List.copyOf(exec);
    }
  }

  /** Whether {@code image} is a blob digest (what a device runs). */
  public boolean imageIsDigest() {
    return Fields.DIGEST.matcher(image).matches();
  }

  /**
   * This spec with {@code image} replaced (the controller's resolution of a registry reference).
   */
  public ContainerSpec withImage(String image) {
    return new ContainerSpec(
        name,
        image,
        command,
        args,
        env,
        ports,
        volumes,
        restart,
        cpus,
        memoryBytes,
        devices,
        user,
        workingDir,
        healthCheck);
  }

  /** Parses a {@code Container} document's {@code spec} mapping; {@code name} from metadata. */
  static ContainerSpec parse(String name, Object specValue) {
    Fields spec = Fields.of("spec", specValue);
    String image = spec.string("image");
    if (!Fields.DIGEST.matcher(image).matches() && !IMAGE_REFERENCE.matcher(image).matches()) {
      throw new WorkloadSpecException(
          spec.path("image"),
          "must be a blob digest sha256:<64 hex> or a registry reference pinned by digest"
              + " (registry.example/app@sha256:<64 hex>), got '"
              + image
              + "'");
    }
    List<String> command = spec.strings("command", 64);
    List<String> args = spec.strings("args", 256);
    Map<String, String> env = spec.stringMap("env", 256);
    for (String key : env.keySet()) {
      if (!ENV_NAME.matcher(key).matches()) {
        throw new WorkloadSpecException(
            spec.path("env") + "." + key, "is not an environment variable name");
      }
    }
    List<Port> ports = new ArrayList<>();
    Set<String> published = new HashSet<>();
    List<Object> portItems = spec.list("ports", 64);
    for (int i = 0; i < portItems.size(); i++) {
      Fields p = Fields.of(spec.path("ports") + "[" + i + "]", portItems.get(i));
      int container = p.integer("container", 0, 1, 65535);
      if (container == 0) {
        throw new WorkloadSpecException(p.path("container"), "is required");
      }
      int host = p.integer("host", container, 1, 65535);
      String protocol = p.oneOf("protocol", "tcp", "tcp", "udp");
      String hostIp = p.optionalString("hostIp").orElse("0.0.0.0");
      if (!hostIp.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}")) {
        throw new WorkloadSpecException(p.path("hostIp"), "must be an IPv4 address");
      }
      if (!published.add(host + "/" + protocol)) {
        throw new WorkloadSpecException(
            p.path("host"), "port " + host + "/" + protocol + " is published twice");
      }
      p.done();
      ports.add(new Port(host, container, protocol, hostIp));
    }
    List<Volume> volumes = new ArrayList<>();
    Set<String> mounts = new HashSet<>();
    List<Object> volumeItems = spec.list("volumes", 64);
    for (int i = 0; i < volumeItems.size(); i++) {
      Fields v = Fields.of(spec.path("volumes") + "[" + i + "]", volumeItems.get(i));
      Optional<String> volumeName = v.optionalString("name");
      Optional<String> hostPath = v.optionalString("hostPath");
      if (volumeName.isPresent() == hostPath.isPresent()) {
        throw new WorkloadSpecException(
            v.path("name"), "set exactly one of name (a volume of the app) or hostPath");
      }
      volumeName.ifPresent(
          n -> {
            if (!Fields.DNS_LABEL.matcher(n).matches()) {
              throw new WorkloadSpecException(v.path("name"), "must be a DNS label");
            }
          });
      hostPath.ifPresent(h -> absolute(v.path("hostPath"), h));
      String mountPath = v.string("mountPath");
      absolute(v.path("mountPath"), mountPath);
      if (!mounts.add(mountPath)) {
        throw new WorkloadSpecException(v.path("mountPath"), mountPath + " is mounted twice");
      }
      boolean readOnly = v.bool("readOnly", false);
      v.done();
      volumes.add(new Volume(volumeName.orElse(null), hostPath.orElse(null), mountPath, readOnly));
    }
    String restart =
        spec.oneOf("restart", RESTART_ALWAYS, RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER);
    String cpus = null;
    long memory = 0;
    Optional<Fields> resources = spec.optionalMap("resources");
    if (resources.isPresent()) {
      Fields r = resources.get();
      cpus = r.optionalString("cpus").orElse(null);
      if (cpus != null && (!CPUS.matcher(cpus).matches() || Double.parseDouble(cpus) <= 0)) {
        throw new WorkloadSpecException(
            r.path("cpus"), "must be a number of CPUs above 0 such as 0.5");
      }
      memory = r.bytes("memory", 4L << 20, 1L << 42);
      r.done();
    }
    List<String> devices = spec.strings("devices", 32);
    for (int i = 0; i < devices.size(); i++) {
      if (!DEVICE.matcher(devices.get(i)).matches() || devices.get(i).contains("..")) {
        throw new WorkloadSpecException(
            spec.path("devices") + "[" + i + "]",
            "must be a device path under /dev or a CDI name such as nvidia.com/gpu=all");
      }
    }
    String user = spec.optionalString("user").orElse(null);
    if (user != null && !USER.matcher(user).matches()) {
      throw new WorkloadSpecException(spec.path("user"), "must be a user name, uid or uid:gid");
    }
    String workingDir = spec.optionalString("workingDir").orElse(null);
    if (workingDir != null) {
      absolute(spec.path("workingDir"), workingDir);
    }
    HealthCheck health = spec.optionalMap("healthCheck").map(ContainerSpec::health).orElse(null);
    spec.done();
    return new ContainerSpec(
        name,
        image,
        command,
        args,
        env,
        ports,
        volumes,
        restart,
        cpus,
        memory,
        devices,
        user,
        workingDir,
        health);
  }

  private static HealthCheck health(Fields h) {
    List<String> exec = h.strings("exec", 64);
    int httpPort = 0;
    String httpPath = null;
    Optional<Fields> http = h.optionalMap("http");
    if (http.isPresent()) {
      httpPort = http.get().integer("port", 0, 1, 65535);
      if (httpPort == 0) {
        throw new WorkloadSpecException(http.get().path("port"), "is required");
      }
      httpPath = http.get().optionalString("path").orElse("/");
      if (!httpPath.startsWith("/")) {
        throw new WorkloadSpecException(http.get().path("path"), "must start with /");
      }
      http.get().done();
    }
    int tcpPort = 0;
    Optional<Fields> tcp = h.optionalMap("tcp");
    if (tcp.isPresent()) {
      tcpPort = tcp.get().integer("port", 0, 1, 65535);
      if (tcpPort == 0) {
        throw new WorkloadSpecException(tcp.get().path("port"), "is required");
      }
      tcp.get().done();
    }
    int kinds = (exec.isEmpty() ? 0 : 1) + (httpPort == 0 ? 0 : 1) + (tcpPort == 0 ? 0 : 1);
    if (kinds != 1) {
      throw new WorkloadSpecException(h.path("exec"), "set exactly one of exec, http or tcp");
    }
    Duration interval = h.duration("interval", Duration.ofSeconds(10), Duration.ofHours(1));
    Duration timeout = h.duration("timeout", Duration.ofSeconds(3), Duration.ofMinutes(5));
    int retries = h.integer("retries", 3, 1, 100);
    Duration startPeriod = h.duration("startPeriod", Duration.ZERO, Duration.ofHours(1));
    h.done();
    return new HealthCheck(
        exec, httpPort, httpPath, tcpPort, interval, timeout, retries, startPeriod);
  }

  static void absolute(String path, String value) {
    if (!value.startsWith("/")
        || value.contains("/../")
        || value.endsWith("/..")
        || value.indexOf('\0') >= 0
        || value.length() > 4096) {
      throw new WorkloadSpecException(
          path, "must be an absolute path without .., got '" + value + "'");
    }
  }
}
