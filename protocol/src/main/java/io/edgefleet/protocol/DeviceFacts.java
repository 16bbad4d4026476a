package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What the agent observed about its hardware and software at enrollment, and about its Kubernetes
 * cluster since: the cluster facts are reported again on every connection and whenever the agent
 * sees them change ({@link AgentMessage.Cluster}).
 *
 * @param memoryBytes total physical memory
 * @param diskBytes size of the file system holding the agent state
 * @param k3s whether K3s is installed on the node
 * @param kubelet whether a kubelet binary is present
 * @param kubernetesVersion the {@code gitVersion} of the cluster's API server ({@code v1.28.3} or
 *     {@code v1.30.6+k3s1}); null if the device reports none (no Kubernetes runtime, or not yet
 *     reached)
 * @param kubernetesApiVersions the group versions the API server serves ({@code v1}, {@code
 *     apps/v1}, ...), sorted; empty if unknown
 * @param identity where the device key lives: {@code tpm} (in a TPM 2.0) or {@code software} (a
 *     file in the agent's state); null from agents that do not say
 * @param model the hardware model as the firmware names it (DMI product name or device-tree model);
 *     null if the device reports none. Measured-boot references can be pinned per model.
 * @param remoteAccess the remote-access stream kinds the device's own configuration allows, such as
 *     {@code shell} and {@code file} (agent options {@code --allow-shell}, {@code
 *     --allow-file-copy}); reported in every {@link AgentMessage.Hello}; empty when none is allowed
 * @param runtimes the kinds of workload the node can run: {@link #RUNTIME_KUBERNETES}, {@link
 *     #RUNTIME_CONTAINER} (a container engine), {@link #RUNTIME_VM} (QEMU); empty from agents that
 *     do not say, which are taken to run Kubernetes apps only
 */
public record DeviceFacts(
    String hostname,
    String serial,
    List<String> macs,
    String arch,
    int cpus,
    long memoryBytes,
    long diskBytes,
    String os,
    String osVersion,
    String agentVersion,
    boolean k3s,
    boolean kubelet,
    String kubernetesVersion,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> kubernetesApiVersions,
    @JsonInclude(JsonInclude.Include.NON_NULL) String identity,
    @JsonInclude(JsonInclude.Include.NON_NULL) String model,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> remoteAccess,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> runtimes) {

  /** {@link #identity()} of a device whose key lives in a TPM. */
  public static final String IDENTITY_TPM = "tpm";

  /** {@link #identity()} of a device whose key is a file. */
  public static final String IDENTITY_SOFTWARE = "software";

  /** A Kubernetes version as Helm and the API server's {@code /version} write it. */
  public static final Pattern KUBERNETES_VERSION =
      Pattern.compile("v?[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,6}([-+][0-9A-Za-z.+-]{1,40})?");

  /** A group version as API discovery lists it ({@code v1}, {@code apps/v1}). */
  public static final Pattern API_VERSION =
      Pattern.compile("([a-z0-9]([-a-z0-9.]{0,200}[a-z0-9])?/)?v[0-9a-z]{1,20}");

  /** The most group versions a device may report. */
  public static final int MAX_API_VERSIONS = 256;

  /** {@link #remoteAccess()} of a device that allows a remote shell. */
  public static final String ALLOW_SHELL = "shell";

  /** {@link #remoteAccess()} of a device that allows copying files from it. */
  public static final String ALLOW_FILE = "file";

  /** {@link #runtimes()}: Kubernetes manifests and charts. */
  public static final String RUNTIME_KUBERNETES = "kubernetes";

  /** {@link #runtimes()}: {@code edgefleet.io/v1 Container} workloads (podman). */
  public static final String RUNTIME_CONTAINER = "container";

  /** {@link #runtimes()}: {@code edgefleet.io/v1 VirtualMachine} workloads (QEMU). */
  public static final String RUNTIME_VM = "vm";

  public DeviceFacts {
    runtimes = runtimes == null ? List.of() : List.copyOf(runtimes);
    remoteAccess = remoteAccess == null ? List.of() : List.copyOf(remoteAccess);
    macs = macs == null ? List.of() : List.copyOf(macs);
    kubernetesApiVersions =
        kubernetesApiVersions == null ? List.of() : List.copyOf(kubernetesApiVersions);
  }

  /** Facts that name no runtimes (agents before workload kinds). */
  public DeviceFacts(
      String hostname,
      String serial,
      List<String> macs,
      String arch,
      int cpus,
      long memoryBytes,
      long diskBytes,
      String os,
      String osVersion,
      String agentVersion,
      boolean k3s,
      boolean kubelet,
      String kubernetesVersion,
      List<String> kubernetesApiVersions,
      String identity,
      String model,
      List<String> remoteAccess) {
    this(
        hostname,
        serial,
        macs,
        arch,
        cpus,
        memoryBytes,
        diskBytes,
        os,
        osVersion,
        agentVersion,
        k3s,
        kubelet,
        kubernetesVersion,
        kubernetesApiVersions,
        identity,
        model,
        remoteAccess,
        List.of());
  }

  /** These facts with {@code runtimes} as the node's workload runtimes. */
  public DeviceFacts withRuntimes(List<String> runtimes) {
    return new DeviceFacts(
        hostname,
        serial,
        macs,
        arch,
        cpus,
        memoryBytes,
        diskBytes,
        os,
        osVersion,
        agentVersion,
        k3s,
        kubelet,
        kubernetesVersion,
        kubernetesApiVersions,
        identity,
        model,
        remoteAccess,
        runtimes);
  }

  /**
   * Whether the node can run workloads of {@code runtime}: listed, or Kubernetes on a node that
   * names no runtimes.
   */
  public boolean canRun(String runtime) {
    return runtimes.isEmpty() ? RUNTIME_KUBERNETES.equals(runtime) : runtimes.contains(runtime);
  }

  /** Facts without remote access allowed. */
  public DeviceFacts(
      String hostname,
      String serial,
      List<String> macs,
      String arch,
      int cpus,
      long memoryBytes,
      long diskBytes,
      String os,
      String osVersion,
      String agentVersion,
      boolean k3s,
      boolean kubelet,
      String kubernetesVersion,
      List<String> kubernetesApiVersions,
      String identity,
      String model) {
    this(
        hostname,
        serial,
        macs,
        arch,
        cpus,
        memoryBytes,
        diskBytes,
        os,
        osVersion,
        agentVersion,
        k3s,
        kubelet,
        kubernetesVersion,
        kubernetesApiVersions,
        identity,
        model,
        List.of());
  }

  /** Facts without a hardware model. */
  public DeviceFacts(
      String hostname,
      String serial,
      List<String> macs,
      String arch,
      int cpus,
      long memoryBytes,
      long diskBytes,
      String os,
      String osVersion,
      String agentVersion,
      boolean k3s,
      boolean kubelet,
      String kubernetesVersion,
      List<String> kubernetesApiVersions,
      String identity) {
    this(
        hostname,
        serial,
        macs,
        arch,
        cpus,
        memoryBytes,
        diskBytes,
        os,
        osVersion,
        agentVersion,
        k3s,
        kubelet,
        kubernetesVersion,
        kubernetesApiVersions,
        identity,
        null);
  }

  /** Facts that do not say where the device key lives. */
  public DeviceFacts(
      String hostname,
      String serial,
      List<String> macs,
      String arch,
      int cpus,
      long memoryBytes,
      long diskBytes,
      String os,
      String osVersion,
      String agentVersion,
      boolean k3s,
      boolean kubelet,
      String kubernetesVersion,
      List<String> kubernetesApiVersions) {
    this(
        hostname,
        serial,
        macs,
        arch,
        cpus,
        memoryBytes,
        diskBytes,
        os,
        osVersion,
        agentVersion,
        k3s,
        kubelet,
        kubernetesVersion,
        kubernetesApiVersions,
        null);
  }

  /** Facts without anything known of a Kubernetes cluster. */
  public DeviceFacts(
      String hostname,
      String serial,
      List<String> macs,
      String arch,
      int cpus,
      long memoryBytes,
      long diskBytes,
      String os,
      String osVersion,
      String agentVersion,
      boolean k3s,
      boolean kubelet) {
    this(
        hostname,
        serial,
        macs,
        arch,
        cpus,
        memoryBytes,
        diskBytes,
        os,
        osVersion,
        agentVersion,
        k3s,
        kubelet,
        null,
        List.of());
  }

  /** These facts with the cluster's as reported now. */
  public DeviceFacts withKubernetes(String version, List<String> apiVersions) {
    return new DeviceFacts(
        hostname,
        serial,
        macs,
        arch,
        cpus,
        memoryBytes,
        diskBytes,
        os,
        osVersion,
        agentVersion,
        k3s,
        kubelet,
        version,
        apiVersions,
        identity,
        model,
        remoteAccess,
        runtimes);
  }

  /** These facts saying where the device key lives ({@link #IDENTITY_TPM} or software). */
  public DeviceFacts withIdentity(String kind) {
    return new DeviceFacts(
        hostname,
        serial,
        macs,
        arch,
        cpus,
        memoryBytes,
        diskBytes,
        os,
        osVersion,
        agentVersion,
        k3s,
        kubelet,
        kubernetesVersion,
        kubernetesApiVersions,
        kind,
        model,
        remoteAccess,
        runtimes);
  }

  /** These facts with the remote-access kinds the device allows now. */
  public DeviceFacts withRemoteAccess(List<String> kinds) {
    return new DeviceFacts(
        hostname,
        serial,
        macs,
        arch,
        cpus,
        memoryBytes,
        diskBytes,
        os,
        osVersion,
        agentVersion,
        k3s,
        kubelet,
        kubernetesVersion,
        kubernetesApiVersions,
        identity,
        model,
        kinds,
        runtimes);
  }
}
