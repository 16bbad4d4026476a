package io.edgefleet.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The demo's stand-in for a workload runtime, for {@code edgefleet demo} only: it runs nothing. It
 * checks that an app's manifests are Kubernetes objects (each with {@code kind} and {@code
 * metadata.name}), records them, and reports the app READY, so that the demo can show an app
 * reaching a fleet, a rollout moving and an offline device converging on a machine without a
 * cluster. Every status it reports says it is the demo runtime. Real agents use the Kubernetes
 * runtime. Thread-safe.
 */
final class DemoRuntime implements WorkloadRuntime {
  /** What every status of this runtime starts with. */
  static final String LABEL = "demo runtime (nothing runs)";

  private static final YAMLMapper YAML = new YAMLMapper();

  /** An app as last applied: its revision and its objects ({@code Kind/name}). */
  record Recorded(String revision, List<String> objects, String manifests) {}

  private final Map<String, Recorded> apps = new ConcurrentHashMap<>();

  @Override
  public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
    List<String> objects;
    try {
      objects = objects(manifestsYaml);
    } catch (IOException | IllegalArgumentException e) {
      return new ApplyOutcome.Failed(LABEL + ": the manifests are not Kubernetes objects: " + e);
    }
    Recorded before = apps.get(app);
    if (before != null
        && before.revision().equals(revision)
        && before.manifests().equals(manifestsYaml)) {
      return new ApplyOutcome.InSync();
    }
    apps.put(app, new Recorded(revision, List.copyOf(objects), manifestsYaml));
    int pruned =
        before == null
            ? 0
            : (int) before.objects().stream().filter(o -> !objects.contains(o)).count();
    return new ApplyOutcome.Applied(objects.size(), pruned);
  }

  @Override
  public ApplyOutcome remove(String app) {
    Recorded gone = apps.remove(app);
    return gone == null
        ? new ApplyOutcome.InSync()
        : new ApplyOutcome.Applied(0, gone.objects().size());
  }

  @Override
  public AppHealth health(String app) {
    Recorded r = apps.get(app);
    if (r == null) {
      return new AppHealth(AppHealth.State.MISSING, LABEL + ": nothing recorded for " + app);
    }
    return new AppHealth(
        AppHealth.State.READY, LABEL + ": " + r.objects().size() + " object(s) recorded");
  }

  @Override
  public Set<String> ownedApps() {
    return Set.copyOf(apps.keySet());
  }

  /** What is recorded for an app, if anything (tests). */
  Recorded recorded(String app) {
    return apps.get(app);
  }

  @Override
  public void close() {}

  /** {@code Kind/name} of every document; empty documents are skipped. */
  private static List<String> objects(String yaml) throws IOException {
    List<String> out = new ArrayList<>();
    try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(yaml)) {
      while (docs.hasNextValue()) {
        JsonNode doc = docs.nextValue();
        if (doc == null || doc.isNull() || doc.isEmpty()) {
          continue;
        }
        String kind = doc.path("kind").asText("");
        String name = doc.path("metadata").path("name").asText("");
        if (kind.isEmpty() || name.isEmpty()) {
          throw new IllegalArgumentException("a document has no kind or no metadata.name");
        }
        out.add(kind + "/" + name);
      }
    }
    return out;
  }
}
