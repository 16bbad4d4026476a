package io.edgefleet.controller.render;

import io.edgefleet.controller.common.Directories;
import io.edgefleet.controller.common.Lru;
import io.edgefleet.protocol.Labels;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Turns application content into the Kubernetes objects a device gets, for every feature that has
 * content: Git applications and catalog versions alike go through the same parser, Helm, overrides,
 * {@code ${tag:KEY}} substitution and render cache. Parsed content ({@link Bundle}s) is kept in a
 * bounded cache under keys the caller chooses. Helm runs one chart at a time, in a process of its
 * own ({@link HelmWorker}) that {@link #close} stops. Thread-safe.
 */
public final class Rendering implements AutoCloseable {
  /** The options of the JVM that runs Helm, unless told otherwise. */
  public static final List<String> DEFAULT_HELM_JVM_OPTIONS = HelmWorker.DEFAULT_JVM_OPTIONS;

  private static final Pattern CONTENT_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");

  /**
   * Tunables.
   *
   * @param renderCacheBytes bound of the rendered-output cache (characters of YAML, roughly bytes)
   * @param bundleCacheBytes bound of the cache of parsed application directories
   * @param chartCacheBytes bound of the chart files kept on disk for Helm ({@code charts/})
   * @param chartCacheEntries how many charts are kept on disk at most
   * @param helmRenderTimeout how long one Helm call may take before its process is killed
   * @param helmRendersPerProcess Helm calls one Helm process serves before it is replaced
   * @param helmIdleTimeout the Helm process is stopped after this long without work
   * @param helmJvmOptions options of the JVM that runs Helm
   */
  public record Settings(
      long renderCacheBytes,
      long bundleCacheBytes,
      long chartCacheBytes,
      int chartCacheEntries,
      Duration helmRenderTimeout,
      int helmRendersPerProcess,
      Duration helmIdleTimeout,
      List<String> helmJvmOptions) {
    public static final long DEFAULT_CHART_CACHE_BYTES = 256L << 20;
    public static final int DEFAULT_CHART_CACHE_ENTRIES = 1000;

    public Settings {
      helmJvmOptions = List.copyOf(helmJvmOptions);
    }

    /**
     * The defaults: 64 MiB for each in-memory cache, Helm's process as {@link HelmWorker} runs it.
     */
    public static Settings defaults() {
      HelmWorker.Options helm = HelmWorker.Options.defaults();
      return new Settings(
          64L << 20,
          64L << 20,
          DEFAULT_CHART_CACHE_BYTES,
          DEFAULT_CHART_CACHE_ENTRIES,
          helm.requestTimeout(),
          helm.requestsPerProcess(),
          helm.idleTimeout(),
          helm.jvmOptions());
    }
  }

  /**
   * What a commit is validated with: the content as every device would get it before overrides and
   * tags.
   *
   * @param revision the content revision (see {@link ContentRevision})
   * @param index identity → YAML of every rendered object
   */
  public record Base(String revision, Map<String, String> index) {}

  private final Renderer renderer;
  private final Lru<String, Bundle> bundles;

  /**
   * Creates the renderer. {@code workDir} holds the charts written for Helm ({@code charts/}), the
   * Helm process's files ({@code helm/}) and temporary files ({@code tmp/}), all emptied here.
   * Helm's process is started on the first Helm call.
   */
  public Rendering(Path workDir, Settings settings) {
    Path dir = workDir.toAbsolutePath();
    Directories.delete(dir.resolve("charts"));
    Directories.delete(dir.resolve("helm"));
    Directories.delete(dir.resolve("tmp"));
    this.renderer =
        new Renderer(
            new HelmRenderer(
                new ChartCache(
                    dir.resolve("charts"),
                    settings.chartCacheBytes(),
                    settings.chartCacheEntries()),
                dir.resolve("tmp"),
                new HelmWorker(
                    dir.resolve("helm"),
                    new HelmWorker.Options(
                        HelmWorker.Options.defaults().startTimeout(),
                        settings.helmRenderTimeout(),
                        settings.helmRendersPerProcess(),
                        settings.helmIdleTimeout(),
                        settings.helmJvmOptions()))),
            settings.renderCacheBytes());
    this.bundles = new Lru<>(settings.bundleCacheBytes(), Bundle::size);
  }

  // ---------------------------------------------------------------------------------------------
  // Parsed content, cached by the caller's key

  /** The parsed content kept under {@code key}, else {@code parse}'s, kept for next time. */
  public Bundle bundle(String key, Supplier<Bundle> parse) {
    Optional<Bundle> cached = bundles.get(key);
    if (cached.isPresent()) {
      return cached.get();
    }
    Bundle b = parse.get();
    bundles.put(key, b);
    return b;
  }

  /** Keeps parsed content under {@code key}. */
  public void keep(String key, Bundle b) {
    bundles.put(key, b);
  }

  /**
   * The application's objects for a device with these tags whose cluster runs {@code kubeVersion}:
   * see {@link Renderer}.
   *
   * @param kubeVersion the device's Kubernetes version ({@code v1.28.3}); null renders for Helm's
   *     default capabilities, as for a device that reports none
   * @throws RenderException if the application cannot be rendered for this device, such as a chart
   *     whose {@code kubeVersion} the device's cluster does not meet
   */
  public RenderedApp render(Bundle b, Map<String, String> deviceTags, String kubeVersion) {
    return renderer.render(b, Map.of(), deviceTags, kubeVersion);
  }

  /**
   * The content as every device would get it before overrides and tags, with its revision and its
   * objects by identity. A chart's {@code kubeVersion} constraint is not checked here: whether a
   * device's cluster meets it is decided per device.
   *
   * @throws RenderException if it does not render
   */
  public Base base(Bundle b) {
    RenderedApp base = renderer.renderBase(b);
    Map<String, String> index = Manifests.index(Manifests.parse(base.yaml(), "rendered output"));
    return new Base(revision(b, base), index);
  }

  /** The content revision of parsed content: see {@link ContentRevision}. */
  public String revision(Bundle b) {
    return switch (b.kind()) {
      case MANIFESTS -> ContentRevision.ofRendered(renderer.renderBase(b));
      case HELM -> ContentRevision.ofFiles(b.files());
    };
  }

  private static String revision(Bundle b, RenderedApp base) {
    return b.kind() == AppKind.MANIFESTS
        ? ContentRevision.ofRendered(base)
        : ContentRevision.ofFiles(b.files());
  }

  /** Identity → YAML of every object of the content before overrides and tags. */
  public Map<String, String> baseIndex(Bundle b) {
    return renderer.baseIndex(b);
  }

  // ---------------------------------------------------------------------------------------------
  // Content that does not come from Git (the app catalog)

  /**
   * Renders application content that does not come from Git exactly as a Git application is
   * rendered: the same parser, Helm, overrides, {@code ${tag:KEY}} substitution and render cache,
   * keyed by (name, content id, effective values). {@code extraValues} are deep-merged over the
   * chart's values after the matching entries of {@code edgefleet-overrides.yaml}, before tags are
   * substituted, for a device whose cluster runs {@code kubeVersion}. Thread-safe.
   *
   * @param name the application name: Helm release name and default namespace
   * @param contentId identifies the files, such as {@code sha256:<hex>}: equal ids must mean equal
   *     files ({@code [A-Za-z0-9._:-]}, at most 128 characters)
   * @param files the files by relative path; asked for only when the parsed content is not cached
   * @param kubeVersion the device's Kubernetes version ({@code v1.28.3}); null for Helm's default
   * @throws RenderException if the content does not parse, a tag is missing, the chart fails with
   *     these values or does not accept the device's Kubernetes version, or values are given for
   *     plain manifests
   * @throws HelmUnavailableException if Helm cannot run now (retryable; says nothing of the chart)
   */
  public RenderedApp renderContent(
      String name,
      String contentId,
      Supplier<SortedMap<String, byte[]>> files,
      Map<String, Object> extraValues,
      Map<String, String> deviceTags,
      String kubeVersion) {
    return renderer.render(
        content(name, contentId, files), checked(extraValues), deviceTags, kubeVersion);
  }

  /**
   * What identifies the objects a device with these tags whose cluster runs {@code kubeVersion}
   * (null: none reported) gets, without running Helm: equal answers mean equal rendered objects.
   * Cheap enough to ask for every device of a fleet.
   *
   * @throws RenderException if the content does not parse, a tag is missing, or values are given
   *     for plain manifests
   */
  public String contentConfiguration(
      String name,
      String contentId,
      Supplier<SortedMap<String, byte[]>> files,
      Map<String, Object> extraValues,
      Map<String, String> deviceTags,
      String kubeVersion) {
    return renderer.configuration(
        content(name, contentId, files), checked(extraValues), deviceTags, kubeVersion);
  }

  /**
   * The content as every device would get it before overrides and tags, as a commit is validated:
   * overrides ignored, {@code ${tag:KEY}} replaced by {@code tag-KEY}, the chart's {@code
   * kubeVersion} constraint not checked. See {@link #renderContent}.
   *
   * @throws RenderException if the content does not parse or does not render with these values
   * @throws HelmUnavailableException if Helm cannot run now (retryable; says nothing of the chart)
   */
  public RenderedApp renderContentBase(
      String name,
      String contentId,
      Supplier<SortedMap<String, byte[]>> files,
      Map<String, Object> extraValues) {
    return renderer.renderBase(content(name, contentId, files), checked(extraValues));
  }

  /**
   * Runs {@code helm package} over a chart's files and returns the archive Helm wrote: {@code
   * .helmignore} applied, {@code Chart.yaml} rewritten in Helm's form, subchart archives unpacked.
   * The same chart from a directory or from its packaged archive packages to the same files.
   *
   * @throws RenderException with Helm's message if the chart is invalid (bad {@code Chart.yaml},
   *     missing dependencies)
   * @throws HelmUnavailableException if Helm cannot run now (retryable; says nothing of the chart)
   */
  public byte[] packageChart(SortedMap<String, byte[]> files) {
    return renderer.packageChart(files);
  }

  private Bundle content(String name, String contentId, Supplier<SortedMap<String, byte[]>> files) {
    if (name == null || !Bundle.APP_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("invalid application name " + name);
    }
    if (contentId == null || !CONTENT_ID.matcher(contentId).matches()) {
      throw new IllegalArgumentException("invalid content id " + contentId);
    }
    // Keys of other content (Git applications) never start with NUL.
    String key = "\u0000content\u0000" + contentId + "\u0000" + name;
    return bundle(key, () -> Bundle.parse(name, contentId.replace(':', '-'), files.get()));
  }

  private static Map<String, Object> checked(Map<String, Object> values) {
    for (String key : Values.tagKeys(values)) {
      try {
        Labels.validateKey(key);
      } catch (IllegalArgumentException e) {
        throw new RenderException("values use '${tag:" + key + "}' but " + e.getMessage());
      }
    }
    return values;
  }

  // ---------------------------------------------------------------------------------------------
  // Counters and lifecycle

  /** How many times Helm rendered a chart. */
  public long helmRenders() {
    return renderer.helmRenders();
  }

  /** Renders answered from the cache. */
  public long cacheHits() {
    return renderer.hits();
  }

  /** Renders not answered from the cache. */
  public long cacheMisses() {
    return renderer.misses();
  }

  /** Stops the Helm process; a render waiting for Helm ends now. */
  @Override
  public void close() {
    renderer.close();
  }
}
