package io.edgefleet.controller.render;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.edgefleet.protocol.workload.Workloads;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Kubernetes objects as YAML: parsing multi-document files, defaulting namespaces, prepending
 * {@code Namespace} objects and writing one deterministic multi-document string. Stateless and
 * thread-safe.
 */
final class Manifests {
  private static final YAMLMapper MAPPER =
      YAMLMapper.builder()
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
          .enable(YAMLGenerator.Feature.LITERAL_BLOCK_STYLE)
          .disable(YAMLGenerator.Feature.SPLIT_LINES)
          .build();
  private static final ObjectReader READER = MAPPER.readerFor(Object.class);
  private static final ObjectWriter WRITER = MAPPER.writer();

  /** Kinds of built-in Kubernetes resources that live outside namespaces. */
  private static final Set<String> CLUSTER_SCOPED =
      Set.of(
          "APIService",
          "CertificateSigningRequest",
          "ComponentStatus",
          "CSIDriver",
          "CSINode",
          "CustomResourceDefinition",
          "DeviceClass",
          "FlowSchema",
          "IngressClass",
          "IPAddress",
          "MutatingAdmissionPolicy",
          "MutatingAdmissionPolicyBinding",
          "MutatingWebhookConfiguration",
          "Namespace",
          "Node",
          "PersistentVolume",
          "PodSecurityPolicy",
          "PriorityClass",
          "PriorityLevelConfiguration",
          "ResourceSlice",
          "RuntimeClass",
          "SelfSubjectAccessReview",
          "SelfSubjectReview",
          "SelfSubjectRulesReview",
          "ServiceCIDR",
          "StorageClass",
          "StorageVersion",
          "StorageVersionMigration",
          "SubjectAccessReview",
          "TokenReview",
          "ValidatingAdmissionPolicy",
          "ValidatingAdmissionPolicyBinding",
          "ValidatingWebhookConfiguration",
          "VolumeAttachment",
          "VolumeAttributesClass");

  private Manifests() {}

  /** A YAML tree read from text, for values and overrides files. Null for an empty document. */
  static Object readYaml(String text, String origin) {
    try {
      return MAPPER.readValue(text, Object.class);
    } catch (IOException e) {
      throw new RenderException(origin + " is not valid YAML: " + brief(e));
    }
  }

  /**
   * The objects of a YAML stream, in order. Empty documents are skipped and {@code kind: …List}
   * documents are flattened into their items.
   *
   * @throws RenderException naming {@code origin} and the document if it is not YAML, not a
   *     mapping, or lacks apiVersion, kind or metadata.name
   */
  static List<Map<String, Object>> parse(String text, String origin) {
    List<Map<String, Object>> out = new ArrayList<>();
    int doc = 0;
    try (MappingIterator<Object> it = READER.readValues(text)) {
      while (it.hasNextValue()) {
        doc++;
        Object o = it.nextValue();
        add(out, o, origin, doc);
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof RenderException r) {
        throw r;
      }
      throw new RenderException(
          origin + " document " + Math.max(doc, 1) + " is not valid YAML: " + brief(e));
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  private static void add(List<Map<String, Object>> out, Object o, String origin, int doc) {
    if (o == null) {
      return;
    }
    if (!(o instanceof Map<?, ?> map)) {
      throw new RenderException(
          origin + " document " + doc + " is not a Kubernetes object (a YAML mapping)");
    }
    Map<String, Object> obj = (Map<String, Object>) map;
    Object kind = obj.get("kind");
    if (kind instanceof String k && k.endsWith("List") && obj.get("items") instanceof List<?> l) {
      for (Object item : l) {
        add(out, item, origin, doc);
      }
      return;
    }
    if (!(obj.get("apiVersion") instanceof String av) || av.isBlank()) {
      throw new RenderException(origin + " document " + doc + " has no apiVersion");
    }
    if (!(kind instanceof String k) || k.isBlank()) {
      throw new RenderException(origin + " document " + doc + " has no kind");
    }
    if (!(obj.get("metadata") instanceof Map<?, ?> md)
        || !(md.get("name") instanceof String name)
        || name.isBlank()) {
      throw new RenderException(origin + " document " + doc + " (" + k + ") has no metadata.name");
    }
    Object ns = md.get("namespace");
    if (ns != null && !(ns instanceof String)) {
      throw new RenderException(
          origin + " document " + doc + " (" + k + " " + name + ") has a non-string namespace");
    }
    out.add(obj);
  }

  /**
   * The final object list: namespaced objects without a namespace get {@code defaultNamespace};
   * then one {@code Namespace} object per namespace used or defined (the bundle's own definition if
   * it has one), sorted by name, followed by all other objects in their original order. Input
   * objects are not modified.
   */
  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> finish(
      List<Map<String, Object>> objects, String defaultNamespace) {
    Set<String> clusterScopedCustom = new TreeSet<>();
    for (Map<String, Object> o : objects) {
      if ("CustomResourceDefinition".equals(o.get("kind"))
          && o.get("spec") instanceof Map<?, ?> spec
          && "Cluster".equals(spec.get("scope"))
          && spec.get("names") instanceof Map<?, ?> names
          && names.get("kind") instanceof String k) {
        clusterScopedCustom.add(k);
      }
    }
    TreeMap<String, Map<String, Object>> namespaces = new TreeMap<>();
    List<Map<String, Object>> rest = new ArrayList<>();
    for (Map<String, Object> o : objects) {
      String kind = (String) o.get("kind");
      Map<String, Object> md = (Map<String, Object>) o.get("metadata");
      if (kind.equals("Namespace") && isCoreV1(o)) {
        if (namespaces.get((String) md.get("name")) != null) {
          throw new RenderException(
              "the Namespace " + md.get("name") + " is defined twice; keep one definition");
        }
        namespaces.put((String) md.get("name"), o);
        continue;
      }
      // Container and VirtualMachine documents run on the node, outside any namespace.
      if (clusterScoped(kind, clusterScopedCustom) || Workloads.isWorkload(o)) {
        rest.add(o);
        continue;
      }
      String ns = (String) md.get("namespace");
      if (ns == null || ns.isEmpty()) {
        ns = defaultNamespace;
        // Right after the name, where people look for it.
        Map<String, Object> md2 = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : md.entrySet()) {
          if (!e.getKey().equals("namespace")) {
            md2.put(e.getKey(), e.getValue());
          }
          if (e.getKey().equals("name")) {
            md2.put("namespace", ns);
          }
        }
        Map<String, Object> o2 = new LinkedHashMap<>(o);
        o2.put("metadata", md2);
        o = o2;
      }
      namespaces.putIfAbsent(ns, null);
      rest.add(o);
    }
    List<Map<String, Object>> out = new ArrayList<>(namespaces.size() + rest.size());
    namespaces.forEach((name, defined) -> out.add(defined != null ? defined : namespace(name)));
    out.addAll(rest);
    Set<String> seen = new java.util.HashSet<>();
    for (Map<String, Object> o : out) {
      String id = identity(o);
      if (!seen.add(id)) {
        throw new RenderException("the object " + id + " is defined twice; keep one definition");
      }
    }
    return out;
  }

  private static boolean isCoreV1(Map<String, Object> o) {
    return "v1".equals(o.get("apiVersion"));
  }

  private static boolean clusterScoped(String kind, Set<String> custom) {
    return CLUSTER_SCOPED.contains(kind) || kind.startsWith("Cluster") || custom.contains(kind);
  }

  private static Map<String, Object> namespace(String name) {
    Map<String, Object> md = new LinkedHashMap<>();
    md.put("name", name);
    Map<String, Object> ns = new LinkedHashMap<>();
    ns.put("apiVersion", "v1");
    ns.put("kind", "Namespace");
    ns.put("metadata", md);
    return ns;
  }

  /** One object as YAML text (no document marker). */
  static String write(Map<String, Object> object) {
    try {
      return WRITER.writeValueAsString(object);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("object cannot be written as YAML", e);
    }
  }

  /** The objects as one multi-document stream, each document starting with {@code ---}. */
  static String write(List<Map<String, Object>> objects) {
    StringBuilder sb = new StringBuilder();
    for (Map<String, Object> o : objects) {
      sb.append("---\n").append(write(o));
    }
    return sb.toString();
  }

  /** {@code apiVersion kind namespace/name}, or {@code apiVersion kind name} without namespace. */
  @SuppressWarnings("unchecked")
  static String identity(Map<String, Object> object) {
    Map<String, Object> md = (Map<String, Object>) object.get("metadata");
    Object ns = md.get("namespace");
    String name = (String) md.get("name");
    return object.get("apiVersion")
        + " "
        + object.get("kind")
        + " "
        + (ns instanceof String s && !s.isEmpty() ? s + "/" + name : name);
  }

  /** Identity → YAML text of every object, in order; the basis of per-commit diffs. */
  static Map<String, String> index(List<Map<String, Object>> finished) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map<String, Object> o : finished) {
      out.put(identity(o), write(o));
    }
    return out;
  }

  private static String brief(Exception e) {
    String m = e.getMessage() == null ? e.toString() : e.getMessage();
    int nl = m.indexOf("\n at [Source");
    m = nl > 0 ? m.substring(0, nl) : m;
    return m.replaceAll("\\s+", " ").trim();
  }
}
