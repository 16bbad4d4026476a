package io.edgefleet.agent;

import io.edgefleet.device.Timeouts;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * How an {@link Agent} runs.
 *
 * @param maxBackoff cap of the reconnect backoff window when the controller refuses or fails
 * @param refusedBackoff wait after the controller refused this device (revoked, rejected, bad
 *     token); long, so refused devices do not hammer the controller
 * @param name the device name to ask for at enrollment; empty: the host name
 * @param clusterCheckInterval how often the Kubernetes version and API groups of the node's cluster
 *     are read, so that an upgraded cluster is reported while the agent stays connected
 * @param tpm the TPM that holds the device key ({@code /dev/tpmrm0}, {@code tcp://host:port},
 *     {@code unix:///path}); empty: a software key in the state directory
 * @param tpmEventLog the measured-boot event log sent with quotes; empty: none
 * @param k3sDataDir the data directory of the K3s node the agent runs when its desired state makes
 *     the device a cluster member; removed when it leaves the cluster
 * @param nodeIp the address the K3s node advertises; empty: the local address of the connection to
 *     the controller
 * @param k3sKubeconfig where a K3s server the agent runs writes its admin kubeconfig
 * @param remoteAccess the remote-access stream kinds this device's own configuration allows ({@code
 *     shell}, {@code file}); none unless the device's owner turns them on
 * @param tunnelHosts the hosts besides the device itself (loopback) that a port-forward tunnel may
 *     reach from the device; empty: only the device itself
 */
public record AgentOptions(
    Path bootstrapFile,
    Path stateDir,
    Optional<String> serial,
    Duration maxBackoff,
    Duration refusedBackoff,
    boolean showQr,
    Duration reconcileInterval,
    Duration stallTimeout,
    Optional<String> name,
    Duration clusterCheckInterval,
    Optional<String> tpm,
    Optional<Path> tpmEventLog,
    Path k3sDataDir,
    Optional<String> nodeIp,
    Path k3sKubeconfig,
    java.util.List<String> tunnelHosts,
    java.util.Set<String> remoteAccess) {

  public AgentOptions {
    tunnelHosts = java.util.List.copyOf(tunnelHosts);
    remoteAccess = remoteAccess == null ? java.util.Set.of() : java.util.Set.copyOf(remoteAccess);
  }

  /** Options that allow no remote shell or file copy. */
  public AgentOptions(
      Path bootstrapFile,
      Path stateDir,
      Optional<String> serial,
      Duration maxBackoff,
      Duration refusedBackoff,
      boolean showQr,
      Duration reconcileInterval,
      Duration stallTimeout,
      Optional<String> name,
      Duration clusterCheckInterval,
      Optional<String> tpm,
      Optional<Path> tpmEventLog,
      Path k3sDataDir,
      Optional<String> nodeIp,
      Path k3sKubeconfig,
      java.util.List<String> tunnelHosts) {
    this(
        bootstrapFile,
        stateDir,
        serial,
        maxBackoff,
        refusedBackoff,
        showQr,
        reconcileInterval,
        stallTimeout,
        name,
        clusterCheckInterval,
        tpm,
        tpmEventLog,
        k3sDataDir,
        nodeIp,
        k3sKubeconfig,
        tunnelHosts,
        java.util.Set.of());
  }

  /** K3s's own default data directory. */
  public static final Path DEFAULT_K3S_DATA_DIR = Path.of("/var/lib/rancher/k3s");

  /** K3s's own default kubeconfig. */
  public static final Path DEFAULT_K3S_KUBECONFIG = Path.of("/etc/rancher/k3s/k3s.yaml");

  /** Options for a device with a software key. */
  public AgentOptions(
      Path bootstrapFile,
      Path stateDir,
      Optional<String> serial,
      Duration maxBackoff,
      Duration refusedBackoff,
      boolean showQr,
      Duration reconcileInterval,
      Duration stallTimeout,
      Optional<String> name,
      Duration clusterCheckInterval) {
    this(
        bootstrapFile,
        stateDir,
        serial,
        maxBackoff,
        refusedBackoff,
        showQr,
        reconcileInterval,
        stallTimeout,
        name,
        clusterCheckInterval,
        Optional.empty(),
        Optional.empty(),
        DEFAULT_K3S_DATA_DIR,
        Optional.empty(),
        DEFAULT_K3S_KUBECONFIG,
        java.util.List.of());
  }

  public static AgentOptions of(Path bootstrapFile, Path stateDir) {
    return new AgentOptions(
        bootstrapFile,
        stateDir,
        Optional.empty(),
        Timeouts.MAX_BACKOFF,
        Timeouts.REFUSED_BACKOFF,
        true,
        Duration.ofSeconds(10),
        Transfers.Limits.defaults().progressWindow(),
        Optional.empty(),
        Duration.ofMinutes(5));
  }

  public AgentOptions withSerial(String s) {
    return with(c -> c.serial = Optional.ofNullable(s));
  }

  /** The device name to ask for at enrollment; null for the host name. */
  public AgentOptions withName(String n) {
    return with(c -> c.name = Optional.ofNullable(n));
  }

  public AgentOptions withMaxBackoff(Duration d) {
    return with(c -> c.maxBackoff = d);
  }

  public AgentOptions withRefusedBackoff(Duration d) {
    return with(c -> c.refusedBackoff = d);
  }

  public AgentOptions withQr(boolean show) {
    return with(c -> c.showQr = show);
  }

  /** How often the runtime is compared with the desired state (self-healing drift). */
  public AgentOptions withReconcileInterval(Duration d) {
    return with(c -> c.reconcileInterval = d);
  }

  /**
   * How long a transfer may go without progress (fewer than 512 bytes) before it is abandoned and
   * resumed later.
   */
  public AgentOptions withStallTimeout(Duration d) {
    return with(c -> c.stallTimeout = d);
  }

  /** How often the node's cluster is read for its Kubernetes version (positive). */
  public AgentOptions withClusterCheckInterval(Duration d) {
    if (!d.isPositive()) {
      throw new IllegalArgumentException("the cluster check interval must be positive");
    }
    return with(c -> c.clusterCheckInterval = d);
  }

  /**
   * The TPM that holds the device key: a device path or {@code tcp://host:port} / {@code
   * unix:///path}; null for a software key.
   */
  public AgentOptions withTpm(String spec) {
    return with(c -> c.tpm = Optional.ofNullable(spec));
  }

  /** The measured-boot event log to send with quotes; null for none. */
  public AgentOptions withTpmEventLog(Path log) {
    return with(c -> c.tpmEventLog = Optional.ofNullable(log));
  }

  /** The data directory of the K3s node the agent runs (absolute). */
  public AgentOptions withK3sDataDir(Path dir) {
    if (!dir.isAbsolute() || dir.normalize().getNameCount() < 2) {
      throw new IllegalArgumentException(
          "the K3s data directory must be an absolute path below a top-level directory, like"
              + " /var/lib/rancher/k3s; it is removed when the device leaves its cluster");
    }
    return with(c -> c.k3sDataDir = dir.normalize());
  }

  /** The address the K3s node advertises; null for the local address of the connection. */
  public AgentOptions withNodeIp(String ip) {
    if (ip != null && !ip.matches("[0-9a-fA-F:.]+")) {
      throw new IllegalArgumentException("--node-ip takes an IPv4 or IPv6 address, not " + ip);
    }
    return with(c -> c.nodeIp = Optional.ofNullable(ip));
  }

  /** Where a K3s server the agent runs writes its admin kubeconfig. */
  public AgentOptions withK3sKubeconfig(Path file) {
    return with(c -> c.k3sKubeconfig = file);
  }

  /**
   * The hosts a port-forward tunnel may reach besides the device itself: names or addresses as
   * given, or {@code *} for any.
   */
  public AgentOptions withTunnelHosts(java.util.List<String> hosts) {
    for (String h : hosts) {
      if (h.isBlank() || h.length() > 253 || !h.matches("[*]|[A-Za-z0-9.:\\-]+")) {
        throw new IllegalArgumentException(
            "--tunnel-host takes a host name, an IP address or *, not '" + h + "'");
      }
    }
    return with(c -> c.tunnelHosts = java.util.List.copyOf(hosts));
  }

  /**
   * The remote-access stream kinds this device allows ({@code shell}, {@code file}): reported in
   * every hello; the agent's shell and file handlers refuse unless their kind is here.
   */
  public AgentOptions withRemoteAccess(java.util.Set<String> kinds) {
    return with(c -> c.remoteAccess = java.util.Set.copyOf(kinds));
  }

  /** A copy of these options with {@code change} applied. */
  private AgentOptions with(Consumer<Copy> change) {
    Copy c = new Copy(this);
    change.accept(c);
    return new AgentOptions(
        bootstrapFile,
        stateDir,
        c.serial,
        c.maxBackoff,
        c.refusedBackoff,
        c.showQr,
        c.reconcileInterval,
        c.stallTimeout,
        c.name,
        c.clusterCheckInterval,
        c.tpm,
        c.tpmEventLog,
        c.k3sDataDir,
        c.nodeIp,
        c.k3sKubeconfig,
        c.tunnelHosts,
        c.remoteAccess);
  }

  /** The options a {@code withX} method may change. */
  private static final class Copy {
    Optional<String> serial;
    Duration maxBackoff;
    Duration refusedBackoff;
    boolean showQr;
    Duration reconcileInterval;
    Duration stallTimeout;
    Optional<String> name;
    Duration clusterCheckInterval;
    Optional<String> tpm;
    Optional<Path> tpmEventLog;
    Path k3sDataDir;
    Optional<String> nodeIp;
    Path k3sKubeconfig;
    java.util.List<String> tunnelHosts;
    java.util.Set<String> remoteAccess;

    Copy(AgentOptions o) {
      serial = o.serial;
      maxBackoff = o.maxBackoff;
      refusedBackoff = o.refusedBackoff;
      showQr = o.showQr;
      reconcileInterval = o.reconcileInterval;
      stallTimeout = o.stallTimeout;
      name = o.name;
      clusterCheckInterval = o.clusterCheckInterval;
      tpm = o.tpm;
      tpmEventLog = o.tpmEventLog;
      k3sDataDir = o.k3sDataDir;
      nodeIp = o.nodeIp;
      k3sKubeconfig = o.k3sKubeconfig;
      tunnelHosts = o.tunnelHosts;
      remoteAccess = o.remoteAccess;
    }
  }
}
