package io.edgefleet.agent.runtime;

import io.edgefleet.protocol.workload.WorkloadSpecException;
import io.edgefleet.protocol.workload.Workloads;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Reads an app's multi-document YAML into its {@link Workloads}: which runtime the app belongs to
 * and, for containers and VMs, their validated specs. Pure; thread-safe.
 *
 * <p>YAML is read as the Kubernetes runtime reads it (YAML 1.1, duplicate keys refused, timestamps
 * kept as strings), so a document means the same whichever runtime it is sent to.
 */
public final class WorkloadDocuments {
  private static final int MAX_CODE_POINTS = 16 * 1024 * 1024;

  private WorkloadDocuments() {}

  /**
   * The app's workloads.
   *
   * @throws UnreadableYaml when the YAML cannot be read or a document is not a mapping
   * @throws WorkloadSpecException when a workload document is invalid, or kinds are mixed
   */
  @SuppressWarnings("unchecked")
  public static Workloads read(String yaml) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    options.setCodePointLimit(MAX_CODE_POINTS);
    Yaml loader = new Yaml(new StringTimestamps(options));
    List<Map<String, Object>> documents = new ArrayList<>();
    Iterator<Object> it = loader.loadAll(yaml).iterator();
    int index = 0;
    while (true) {
      Object document;
      try {
        if (!it.hasNext()) {
          break;
        }
        document = it.next();
      } catch (YAMLException e) {
        throw new UnreadableYaml(
            "document " + (index + 1) + " is not valid YAML: " + e.getMessage());
      }
      index++;
      if (document == null) {
        continue;
      }
      if (!(document instanceof Map<?, ?> map)) {
        throw new UnreadableYaml("document " + index + " is not a YAML mapping");
      }
      documents.add((Map<String, Object>) map);
    }
    return Workloads.of(documents);
  }

  /** The documents are not YAML mappings: no runtime can read them. */
  public static final class UnreadableYaml extends IllegalArgumentException {
    UnreadableYaml(String message) {
      super(message);
    }
  }

  /** YAML 1.1 as Kubernetes reads it: timestamps are plain strings. */
  private static final class StringTimestamps extends SafeConstructor {
    StringTimestamps(LoaderOptions options) {
      super(options);
      this.yamlConstructors.put(Tag.TIMESTAMP, new ConstructYamlStr());
    }
  }
}
