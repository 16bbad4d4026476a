package io.edgefleet.protocol.workload;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The workloads of one app's bundle: its YAML documents (already parsed into maps, one per
 * document, empty documents dropped) are either all Kubernetes objects, all {@code edgefleet.io/v1
 * Container}s or all {@code edgefleet.io/v1 VirtualMachine}s. Controller and agent read them the
 * same way, so a document the controller accepted is one the agent runs.
 *
 * @param runtime {@code kubernetes}, {@code container} or {@code vm} (the values of {@code
 *     DeviceFacts.RUNTIME_*})
 * @param containers the containers, in document order (empty unless the runtime is container)
 * @param vms the virtual machines, in document order (empty unless the runtime is vm)
 */
public record Workloads(String runtime, List<ContainerSpec> containers, List<VmSpec> vms) {
  public static final String API_VERSION = "edgefleet.io/v1";
  public static final String CONTAINER = "Container";
  public static final String VIRTUAL_MACHINE = "VirtualMachine";

  /** The most workloads one app may hold. */
  public static final int MAX_WORKLOADS = 64;

  public Workloads {
    containers = List.copyOf(containers);
    vms = List.copyOf(vms);
  }

  /** Whether a parsed document claims the {@code edgefleet.io/v1} API. */
  public static boolean isWorkload(Map<?, ?> document) {
    return API_VERSION.equals(document.get("apiVersion"));
  }

  /**
   * Reads an app's documents.
   *
   * @throws WorkloadSpecException when a workload document is invalid, when Kubernetes objects and
   *     workloads (or containers and VMs) are mixed in one app, or when two workloads share a name;
   *     the path starts with the document's index ({@code documents[2].spec.image})
   */
  public static Workloads of(List<Map<String, Object>> documents) {
    List<ContainerSpec> containers = new ArrayList<>();
    List<VmSpec> vms = new ArrayList<>();
    int kubernetes = 0;
    Set<String> names = new HashSet<>();
    for (int i = 0; i < documents.size(); i++) {
      Map<String, Object> doc = documents.get(i);
      String at = "documents[" + i + "]";
      if (!isWorkload(doc)) {
        kubernetes++;
        continue;
      }
      if (containers.size() + vms.size() >= MAX_WORKLOADS) {
        throw new WorkloadSpecException(at, "an app holds at most " + MAX_WORKLOADS + " workloads");
      }
      Fields top;
      try {
        top = Fields.of("", doc);
      } catch (WorkloadSpecException e) {
        throw new WorkloadSpecException(at, e.detail());
      }
      try {
        top.raw("apiVersion");
        String kind = top.oneOf("kind", "", CONTAINER, VIRTUAL_MACHINE);
        Fields metadata =
            top.optionalMap("metadata")
                .orElseThrow(() -> new WorkloadSpecException("metadata.name", "is required"));
        String name = metadata.string("name");
        if (!Fields.DNS_LABEL.matcher(name).matches()) {
          throw new WorkloadSpecException(
              "metadata.name",
              "must be a DNS label (lower-case letters, digits and -, at most 63), got '"
                  + name
                  + "'");
        }
        metadata.stringMap("labels", 64);
        metadata.done();
        if (!names.add(name)) {
          throw new WorkloadSpecException(
              "metadata.name", "'" + name + "' is used twice in the app");
        }
        Object spec = top.raw("spec");
        top.done();
        if (CONTAINER.equals(kind)) {
          containers.add(ContainerSpec.parse(name, spec));
        } else {
          vms.add(VmSpec.parse(name, spec));
        }
      } catch (WorkloadSpecException e) {
        throw new WorkloadSpecException(at + "." + e.path(), e.detail());
      }
    }
    int kinds = (kubernetes > 0 ? 1 : 0) + (containers.isEmpty() ? 0 : 1) + (vms.isEmpty() ? 0 : 1);
    if (kinds > 1) {
      throw new WorkloadSpecException(
          "documents",
          "an app holds one kind of workload: Kubernetes objects ("
              + kubernetes
              + "), Containers ("
              + containers.size()
              + ") and VirtualMachines ("
              + vms.size()
              + ") cannot be mixed; split them into separate apps");
    }
    String runtime = !containers.isEmpty() ? "container" : !vms.isEmpty() ? "vm" : "kubernetes";
    return new Workloads(runtime, containers, vms);
  }

  /** Every blob digest the workloads name (images, disks, kernels, initrds), in order, once. */
  public List<String> blobs() {
    Set<String> out = new LinkedHashSet<>();
    for (ContainerSpec c : containers) {
      if (c.imageIsDigest()) {
        out.add(c.image());
      }
    }
    for (VmSpec v : vms) {
      out.addAll(v.blobs());
    }
    return List.copyOf(out);
  }
}
