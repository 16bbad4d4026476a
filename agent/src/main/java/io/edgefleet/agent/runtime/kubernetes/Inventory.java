package io.edgefleet.agent.runtime.kubernetes;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What edgefleet applied for one app, kept in the cluster as the data of a ConfigMap so that a
 * later revision can prune what it no longer names, and so that it survives agent restarts and
 * reinstalls. Immutable; thread-safe.
 *
 * <p>An inventory is <em>complete</em> when it describes a finished apply ({@code digest} set); an
 * apply first writes an incomplete one that names the union of the old and the new objects, so that
 * an apply cut short (crash, lost cluster) never leaves an object that nothing will prune.
 *
 * @param entries objects in apply order
 * @param revision the revision of the last finished apply, or ""
 * @param digest {@link Manifests#digest} of the last finished apply, or "" when incomplete
 */
record Inventory(List<Entry> entries, String revision, String digest) {

  /**
   * One applied object and what it looked like right after the apply.
   *
   * @param stamp {@code g<generation>} for kinds with a generation (their spec changes bump it),
   *     else {@code r<resourceVersion>}, or "". A different stamp later means someone wrote the
   *     object: the next apply writes it again.
   * @param fields a fingerprint of the fields edgefleet's apply owned ({@link
   *     KubernetesRuntime#fieldsOf}), or "" when unknown (an older inventory, or a server that does
   *     not track field managers). A different fingerprint later means someone changed or removed a
   *     field edgefleet manages: ownership of a field moves to whoever changes its value, so this
   *     tells drift from writes to fields that are not edgefleet's (a controller's status, an
   *     annotation someone added).
   */
  record Entry(ObjectRef ref, String stamp, String fields) {
    Entry {
      Objects.requireNonNull(ref, "ref");
      Objects.requireNonNull(stamp, "stamp");
      Objects.requireNonNull(fields, "fields");
      if (stamp.contains(" ") || stamp.contains(FIELDS_SEPARATOR)) {
        throw new IllegalArgumentException("stamp must not contain spaces or commas");
      }
      if (fields.contains(" ") || fields.contains(FIELDS_SEPARATOR)) {
        throw new IllegalArgumentException("fields must not contain spaces or commas");
      }
    }

    /** An entry without a fields fingerprint. */
    Entry(ObjectRef ref, String stamp) {
      this(ref, stamp, "");
    }
  }

  static final String OBJECTS_KEY = "objects";
  static final String REVISION_KEY = "revision";
  static final String DIGEST_KEY = "digest";
  private static final String NONE = "-";

  /**
   * Joins the stamp and the fields fingerprint in the fifth column ({@code g3,f0c1d…}), so that a
   * line keeps five columns and an older agent still reads the object (it sees a changed stamp and
   * applies once more).
   */
  private static final String FIELDS_SEPARATOR = ",";

  Inventory {
    entries = List.copyOf(entries);
    Objects.requireNonNull(revision, "revision");
    Objects.requireNonNull(digest, "digest");
  }

  boolean complete() {
    return !digest.isEmpty();
  }

  List<ObjectRef> refs() {
    return entries.stream().map(Entry::ref).toList();
  }

  /**
   * Objects of this inventory that {@code next} no longer names, in reverse apply order (workloads
   * before the namespaces that hold them). Objects are matched regardless of API version.
   */
  List<ObjectRef> pruneCandidates(List<ObjectRef> next) {
    Set<String> kept = next.stream().map(ObjectRef::identity).collect(Collectors.toSet());
    List<ObjectRef> gone = new ArrayList<>();
    for (int i = entries.size() - 1; i >= 0; i--) {
      ObjectRef ref = entries.get(i).ref();
      if (!kept.contains(ref.identity())) {
        gone.add(ref);
      }
    }
    return gone;
  }

  /**
   * An incomplete inventory naming the objects of both: written before an apply starts, so that
   * whatever the apply gets to create is recorded before it exists.
   */
  Inventory intending(List<ObjectRef> next) {
    Map<String, Entry> union = new LinkedHashMap<>();
    for (Entry e : entries) {
      union.put(e.ref().identity(), e);
    }
    for (ObjectRef ref : next) {
      union.putIfAbsent(ref.identity(), new Entry(ref, ""));
    }
    return new Inventory(List.copyOf(union.values()), revision, "");
  }

  static Inventory empty() {
    return new Inventory(List.of(), "", "");
  }

  /** As ConfigMap data: one line per object, readable with {@code kubectl get configmap}. */
  Map<String, String> toData() {
    StringBuilder lines = new StringBuilder();
    for (Entry e : entries) {
      ObjectRef r = e.ref();
      lines
          .append(r.apiVersion())
          .append(' ')
          .append(r.kind())
          .append(' ')
          .append(r.clusterScoped() ? NONE : r.namespace())
          .append(' ')
          .append(r.name())
          .append(' ')
          .append(e.stamp().isEmpty() ? NONE : e.stamp())
          .append(e.fields().isEmpty() ? "" : FIELDS_SEPARATOR + e.fields())
          .append('\n');
    }
    Map<String, String> data = new LinkedHashMap<>();
    data.put(OBJECTS_KEY, lines.toString());
    data.put(REVISION_KEY, revision);
    data.put(DIGEST_KEY, digest);
    return data;
  }

  /**
   * Reads {@link #toData()} back. Lines that do not parse are skipped, and then the inventory is
   * marked incomplete so that the next apply re-applies everything instead of trusting it.
   */
  static Inventory fromData(Map<String, String> data) {
    List<Entry> entries = new ArrayList<>();
    boolean damaged = false;
    for (String line : data.getOrDefault(OBJECTS_KEY, "").split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.trim().split(" +");
      if (f.length != 5) {
        damaged = true;
        continue;
      }
      try {
        ObjectRef ref = new ObjectRef(f[0], f[1], NONE.equals(f[2]) ? "" : f[2], f[3]);
        int comma = f[4].indexOf(FIELDS_SEPARATOR);
        String stamp = comma < 0 ? f[4] : f[4].substring(0, comma);
        String fields = comma < 0 ? "" : f[4].substring(comma + 1);
        entries.add(new Entry(ref, NONE.equals(stamp) ? "" : stamp, fields));
      } catch (IllegalArgumentException e) {
        damaged = true;
      }
    }
    return new Inventory(
        entries,
        data.getOrDefault(REVISION_KEY, ""),
        damaged ? "" : data.getOrDefault(DIGEST_KEY, ""));
  }
}
