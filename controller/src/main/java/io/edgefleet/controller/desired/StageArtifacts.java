package io.edgefleet.controller.desired;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.controller.common.Lru;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Json;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.jdbi.v3.core.Handle;

/**
 * The artifacts a device stages: per app, those of the revision a rollout holds back from the
 * device, which its desired state lists in {@code stage} so it downloads them before it is released
 * ("download early, switch in the window"). What each device was told to stage is kept in {@code
 * device_stages}, written with the document that says it, and read by rollouts to release a device
 * only once it holds them. Thread-safe.
 */
public final class StageArtifacts {
  /** The artifacts of one app's held-back revision. */
  public record Stage(String revision, List<ArtifactRef> artifacts) {
    public Stage {
      artifacts = List.copyOf(artifacts);
    }
  }

  /**
   * Artifacts per rendered (app, revision, tags, Kubernetes version): rendering a held revision for
   * every recomputation of every held device would cost a render each time.
   */
  private final Lru<String, List<ArtifactRef>> rendered = Lru.ofEntries(4096);

  /**
   * The stage of an app's current catalog revision for a device; empty when that revision uses no
   * artifacts, cannot be rendered for the device (its render error shows once it is released), or
   * is a kind of workload the device cannot run (it is never placed there, so it stages nothing).
   *
   * @param facts what the device reported; null if nothing yet
   */
  Optional<Stage> of(
      AppCatalog catalog, AppCatalog.App app, AppCatalog.Device device, DeviceFacts facts) {
    String key =
        app.subject()
            + "\n"
            + app.revision()
            + "\n"
            + new TreeMap<>(device.tags())
            + "\n"
            + device.kubeVersion()
            + "\n"
            + device.arch();
    List<ArtifactRef> artifacts = rendered.get(key).orElse(null);
    if (artifacts == null) {
      try {
        AppCatalog.Rendered r = catalog.render(app, device);
        artifacts = Placement.refusal(facts, r.runtime()).isPresent() ? List.of() : r.artifacts();
      } catch (RuntimeException e) {
        // Not kept: the next computation tries again (the error may pass, e.g. a chart fetch).
        return Optional.empty();
      }
      rendered.put(key, artifacts);
    }
    return artifacts.isEmpty()
        ? Optional.empty()
        : Optional.of(new Stage(app.revision(), artifacts));
  }

  /** Every artifact of these stages once, in the order of the apps' names. */
  static List<ArtifactRef> union(Map<String, Stage> stages) {
    Map<String, ArtifactRef> out = new LinkedHashMap<>();
    new TreeMap<>(stages)
        .values()
        .forEach(s -> s.artifacts().forEach(a -> out.putIfAbsent(a.digest(), a)));
    return List.copyOf(out.values());
  }

  /** {@code digest:size} of each artifact, joined by spaces. */
  static String digests(List<ArtifactRef> artifacts) {
    return artifacts.stream()
        .map(a -> a.digest() + ":" + a.size())
        .collect(Collectors.joining(" "));
  }

  /**
   * What the stages and download policy add to a document's fingerprint: nothing when there are
   * none, so documents without them keep the fingerprint they had.
   */
  static String fingerprint(Map<String, Stage> stages, DesiredState.DownloadPolicy downloads) {
    StringBuilder sb = new StringBuilder();
    new TreeMap<>(stages)
        .forEach(
            (app, s) ->
                sb.append("\nstage ")
                    .append(app)
                    .append(' ')
                    .append(s.revision())
                    .append(' ')
                    .append(digests(s.artifacts())));
    if (downloads != null) {
      sb.append("\ndownloads ").append(Json.write(downloads));
    }
    return sb.toString();
  }

  /** Replaces what the device is recorded to stage, inside the caller's transaction. */
  static void record(Handle h, String deviceId, Map<String, Stage> stages) {
    h.createUpdate("DELETE FROM device_stages WHERE device_id = :d").bind("d", deviceId).execute();
    stages.forEach(
        (app, s) ->
            h.createUpdate(
                    "INSERT INTO device_stages (device_id, app, revision, artifacts) VALUES (:d,"
                        + " :app, :rev, :a)")
                .bind("d", deviceId)
                .bind("app", app)
                .bind("rev", s.revision())
                .bind("a", Json.write(s.artifacts()))
                .execute());
  }

  /**
   * What the given devices were told to stage of {@code app} at {@code revision}, by device id;
   * devices told nothing for it are left out.
   */
  public static Map<String, List<ArtifactRef>> staged(
      Handle h, String app, String revision, Collection<String> deviceIds) {
    Map<String, List<ArtifactRef>> out = new HashMap<>();
    if (deviceIds.isEmpty()) {
      return out;
    }
    List<String> ids = new ArrayList<>(deviceIds);
    for (int i = 0; i < ids.size(); i += 500) {
      h.createQuery(
              "SELECT device_id, artifacts FROM device_stages WHERE app = :app AND revision = :rev"
                  + " AND device_id IN (<ids>)")
          .bind("app", app)
          .bind("rev", revision)
          .bindList("ids", ids.subList(i, Math.min(ids.size(), i + 500)))
          .map((rs, ctx) -> Map.entry(rs.getString(1), artifacts(rs.getString(2))))
          .forEach(e -> out.put(e.getKey(), e.getValue()));
    }
    return out;
  }

  /** Every stage of one device, by app name. */
  public static Map<String, Stage> of(Handle h, String deviceId) {
    Map<String, Stage> out = new TreeMap<>();
    h.createQuery("SELECT app, revision, artifacts FROM device_stages WHERE device_id = :d")
        .bind("d", deviceId)
        .map(
            (rs, ctx) ->
                Map.entry(rs.getString(1), new Stage(rs.getString(2), artifacts(rs.getString(3)))))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /** Every device's stage of one app, by device id. */
  public static Map<String, Stage> ofApp(Handle h, String app) {
    Map<String, Stage> out = new HashMap<>();
    h.createQuery("SELECT device_id, revision, artifacts FROM device_stages WHERE app = :app")
        .bind("app", app)
        .map(
            (rs, ctx) ->
                Map.entry(rs.getString(1), new Stage(rs.getString(2), artifacts(rs.getString(3)))))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  private static List<ArtifactRef> artifacts(String json) {
    try {
      return Json.mapper().readValue(json, new TypeReference<List<ArtifactRef>>() {});
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("stored stage is unreadable", e);
    }
  }
}
