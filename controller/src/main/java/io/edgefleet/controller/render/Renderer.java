package io.edgefleet.controller.render;

import io.edgefleet.controller.common.Lru;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Turns bundles into {@link RenderedApp}s and caches the results by (application, tree id, values
 * digest, Kubernetes version) in a bounded LRU: devices whose clusters run the same version share
 * one Helm run. Failures of the chart ({@link RenderException}) are cached too, so a chart that
 * fails for some devices does not make Helm run again for each of them; {@link
 * HelmUnavailableException} says nothing about the chart and is not cached. Concurrent requests for
 * the same key wait for one render. Thread-safe.
 */
final class Renderer implements AutoCloseable {
  private static final String MANIFESTS = "manifests";

  private final HelmRenderer helm;
  private final Lru<Key, Outcome> cache;
  private final ConcurrentHashMap<Key, CompletableFuture<Outcome>> inflight =
      new ConcurrentHashMap<>();
  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong misses = new AtomicLong();

  private record Key(String app, String treeId, String valuesDigest, String kubeVersion) {}

  private record Outcome(RenderedApp app, RenderException error) {
    RenderedApp get() {
      if (error != null) {
        throw new RenderException(error.getMessage(), error);
      }
      return app;
    }

    long weight() {
      return 256 + (app != null ? app.yaml().length() : error.getMessage().length());
    }
  }

  Renderer(HelmRenderer helm, long cacheBytes) {
    this.helm = helm;
    this.cache = new Lru<>(cacheBytes, Outcome::weight);
  }

  long hits() {
    return hits.get();
  }

  long misses() {
    return misses.get();
  }

  long helmRenders() {
    return helm.renders();
  }

  HelmRenderer helm() {
    return helm;
  }

  /** Stops Helm's process. */
  @Override
  public void close() {
    helm.close();
  }

  /**
   * The application for a device with these tags whose cluster runs {@code kubeVersion}, with
   * {@code extra} values deep-merged over the chart's values and matching overrides before tags are
   * substituted.
   *
   * @param kubeVersion the device's Kubernetes version ({@code v1.28.3}), what Helm's {@code
   *     .Capabilities.KubeVersion} reports and the chart's {@code kubeVersion} is checked against;
   *     null for Helm's default
   * @throws RenderException if a referenced tag is missing, the chart does not render, the device's
   *     cluster does not meet the chart's {@code kubeVersion}, or extra values are given for plain
   *     manifests
   */
  RenderedApp render(
      Bundle b, Map<String, Object> extra, Map<String, String> tags, String kubeVersion) {
    return switch (b.kind()) {
      case MANIFESTS -> {
        requireNoValues(b, extra);
        yield cached(new Key(b.name(), b.treeId(), MANIFESTS, null), () -> manifests(b));
      }
      case HELM -> helm(b, effectiveValues(b, extra, tags), forHelm(kubeVersion));
    };
  }

  /**
   * Identifies what a device with these tags whose cluster runs {@code kubeVersion} gets, without
   * rendering it: devices with equal configurations get the same objects (the cache key of their
   * render).
   *
   * @throws RenderException if a referenced tag is missing, or extra values are given for plain
   *     manifests
   */
  String configuration(
      Bundle b, Map<String, Object> extra, Map<String, String> tags, String kubeVersion) {
    return switch (b.kind()) {
      case MANIFESTS -> {
        requireNoValues(b, extra);
        yield MANIFESTS;
      }
      case HELM ->
          Values.digest(effectiveValues(b, extra, tags))
              + " "
              + Objects.requireNonNullElse(forHelm(kubeVersion), "");
    };
  }

  /** The chart's values for a device: overrides, then {@code extra}, then tags substituted. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> effectiveValues(
      Bundle b, Map<String, Object> extra, Map<String, String> tags) {
    return (Map<String, Object>)
        Values.substitute(
            extra.isEmpty() ? b.valuesFor(tags) : Values.merge(b.valuesFor(tags), extra),
            key -> {
              String v = tags.get(key);
              if (v == null) {
                throw new RenderException(
                    "values use ${tag:"
                        + key
                        + "} but the device has no tag '"
                        + key
                        + "'; add the tag to the device or remove the reference");
              }
              return v;
            });
  }

  /**
   * The application as every device would get it before overrides and tags: overrides ignored,
   * {@code ${tag:KEY}} replaced by {@code tag-KEY}, Helm's default capabilities, and the chart's
   * {@code kubeVersion} constraint not checked (each device's cluster is checked when rendering for
   * it). Used to validate commits and to compute diffs.
   */
  RenderedApp renderBase(Bundle b) {
    return renderBase(b, Map.of());
  }

  /** {@link #renderBase(Bundle)} with {@code extra} values deep-merged over the chart's values. */
  RenderedApp renderBase(Bundle b, Map<String, Object> extra) {
    return switch (b.kind()) {
      case MANIFESTS -> render(b, extra, Map.of(), null);
      case HELM ->
          helm(
              b.withoutKubeVersionConstraint(),
              Values.substitute(
                  extra.isEmpty() ? b.values() : Values.merge(b.values(), extra),
                  key -> "tag-" + key.replaceAll("[^A-Za-z0-9]", "-")),
              null);
    };
  }

  /**
   * The version as Helm's {@code .Capabilities.KubeVersion} shows it: with its {@code v}, without
   * build metadata ({@code v1.30.6+k3s1} is {@code v1.30.6}), so clusters Helm cannot tell apart
   * share one render.
   */
  static String forHelm(String kubeVersion) {
    if (kubeVersion == null) {
      return null;
    }
    String v = kubeVersion.strip();
    int plus = v.indexOf('+');
    v = plus >= 0 ? v.substring(0, plus) : v;
    return v.startsWith("v") ? v : "v" + v;
  }

  private static void requireNoValues(Bundle b, Map<String, Object> extra) {
    if (!extra.isEmpty()) {
      throw new RenderException(
          "values apply to Helm charts only; '"
              + b.name()
              + "' is plain Kubernetes YAML, so change its files instead");
    }
  }

  /** See {@link HelmRenderer#packageChart}. */
  byte[] packageChart(java.util.SortedMap<String, byte[]> files) {
    return helm.packageChart(files);
  }

  /** Identity → YAML of every object of {@link #renderBase}. */
  Map<String, String> baseIndex(Bundle b) {
    return Manifests.index(Manifests.parse(renderBase(b).yaml(), "rendered output"));
  }

  @SuppressWarnings("unchecked")
  private RenderedApp helm(Bundle b, Object values, String kubeVersion) {
    Map<String, Object> v = (Map<String, Object>) values;
    return cached(
        new Key(b.name(), b.treeId(), Values.digest(v), kubeVersion),
        () -> {
          String out = helm.template(b, v, kubeVersion);
          List<Map<String, Object>> objects = new java.util.ArrayList<>(b.objects());
          objects.addAll(Manifests.parse(out, "Helm output"));
          return RenderedApp.of(Manifests.write(Manifests.finish(objects, b.name())));
        });
  }

  private static RenderedApp manifests(Bundle b) {
    return RenderedApp.of(Manifests.write(Manifests.finish(b.objects(), b.name())));
  }

  private RenderedApp cached(Key key, Supplier<RenderedApp> compute) {
    var hit = cache.get(key);
    if (hit.isPresent()) {
      hits.incrementAndGet();
      return hit.get().get();
    }
    CompletableFuture<Outcome> mine = new CompletableFuture<>();
    CompletableFuture<Outcome> running = inflight.putIfAbsent(key, mine);
    if (running != null) {
      hits.incrementAndGet();
      try {
        return running.join().get();
      } catch (CompletionException e) {
        throw e.getCause() instanceof RuntimeException r ? r : e;
      }
    }
    misses.incrementAndGet();
    try {
      Outcome outcome;
      try {
        outcome = new Outcome(compute.get(), null);
      } catch (RenderException e) {
        outcome = new Outcome(null, e);
      }
      cache.put(key, outcome);
      mine.complete(outcome);
      return outcome.get();
    } catch (RuntimeException | Error e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      inflight.remove(key, mine);
    }
  }
}
