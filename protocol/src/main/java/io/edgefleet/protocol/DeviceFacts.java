package io.edgefleet.protocol;

import java.util.List;

/**
 * What the agent observed about its hardware and software at enrollment.
 *
 * @param memoryBytes total physical memory
 * @param diskBytes size of the file system holding the agent state
 * @param k3s whether K3s is installed on the node
 * @param kubelet whether a kubelet binary is present
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
    boolean kubelet) {
  public DeviceFacts {
    macs = macs == null ? List.of() : List.copyOf(macs);
  }
}
