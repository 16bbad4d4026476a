package io.edgefleet.agent.runtime.vm;

import io.edgefleet.protocol.workload.WorkloadSpecException;
import io.edgefleet.protocol.workload.Workloads;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads an app's multi-document YAML into its workloads. Pure; thread-safe. Reading is bounded
 * (characters, aliases, nesting) because the documents come from outside the device.
 */
final class VmDocuments {
  private static final int MAX_CODE_POINTS = 4 * 1024 * 1024;

  private VmDocuments() {}

  /**
   * @throws WorkloadSpecException when the YAML cannot be read or a document is not valid; the path
   *     names the document ({@code documents[1].spec.cpus})
   */
  @SuppressWarnings("unchecked")
  static Workloads parse(String yaml) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    options.setCodePointLimit(MAX_CODE_POINTS);
    options.setMaxAliasesForCollections(50);
    options.setNestingDepthLimit(50);
    Yaml loader = new Yaml(new SafeConstructor(options));
    List<Map<String, Object>> documents = new ArrayList<>();
    int index = 0;
    try {
      for (Object doc : loader.loadAll(yaml)) {
        if (doc == null) {
          index++;
          continue;
        }
        if (!(doc instanceof Map<?, ?> m)) {
          throw new WorkloadSpecException(
              "documents[" + index + "]", "must be a mapping (a VirtualMachine document)");
        }
        documents.add((Map<String, Object>) m);
        index++;
      }
    } catch (YAMLException e) {
      throw new WorkloadSpecException(
          "documents[" + index + "]", "is not valid YAML: " + firstLine(e.getMessage()));
    }
    return Workloads.of(documents);
  }

  private static String firstLine(String s) {
    return s == null ? "unreadable" : s.lines().findFirst().orElse(s);
  }
}
