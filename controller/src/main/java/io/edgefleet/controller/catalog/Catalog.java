package io.edgefleet.controller.catalog;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.controller.render.RenderedApp;
import io.edgefleet.controller.render.Rendering;
import io.edgefleet.protocol.ErrorCode;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jdbi.v3.core.Jdbi;

/**
 * The app catalog: named applications with immutable, content-addressed versions, pushed as Helm
 * charts or plain Kubernetes YAML and rendered with the same machinery (and render cache) as Git
 * applications.
 *
 * <p>A pushed archive is normalized before it is addressed: a single top-level directory is
 * stripped, and a chart is run through {@code helm package} ({@code .helmignore} applied, {@code
 * Chart.yaml} in Helm's form), so a chart directory and its {@code helm package} archive have the
 * same digest. The digest is the SHA-256 of the sorted paths and bytes. A version is stored only if
 * it renders with its default values, and never changes afterwards: pushing the same content again
 * is a no-op, pushing other content under the same version is refused.
 *
 * <p>Thread-safe. Versions are cached in memory once read (they never change); their files are read
 * from the database only when the renderer has no parsed copy cached.
 */
public final class Catalog {
  /** The largest push request body: the base64 of an archive of up to about 12 MiB, in JSON. */
  public static final int MAX_PUSH_BODY = 16 << 20;

  /** Kind of a version that is a Helm chart. */
  public static final String CHART = "chart";

  /** Kind of a version that is plain Kubernetes YAML. */
  public static final String MANIFESTS = "manifests";

  static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  static final Pattern VERSION = Pattern.compile("[0-9A-Za-z][0-9A-Za-z._-]{0,63}");
  static final int MAX_DESCRIPTION = 1000;

  /**
   * One pushed version.
   *
   * @param app the application name
   * @param version the version as pushed, such as {@code 1.2.0}
   * @param kind {@value #CHART} or {@value #MANIFESTS}
   * @param digest {@code sha256:<hex>} of the normalized files
   * @param size total bytes of the files, uncompressed
   * @param description what the pusher said about this version; empty if nothing
   * @param createdAt when it was pushed
   */
  public record Version(
      String app,
      String version,
      String kind,
      String digest,
      long size,
      String description,
      Instant createdAt) {}

  /** Body of {@code POST /api/v1/catalog/apps/{name}/versions}. */
  public record PushRequest(String version, String kind, String description, String archive) {}

  /** Body of {@code POST …/versions/{version}/preview}; every field is optional. */
  public record PreviewRequest(
      String device, Map<String, String> tags, Map<String, Object> values) {}

  /** An app in the list. */
  public record AppSummary(
      String name,
      String description,
      String latestVersion,
      int versions,
      String kind,
      Instant updatedAt) {}

  /** An app with its versions, newest first. */
  public record AppView(
      String name,
      String description,
      String latestVersion,
      String kind,
      Instant createdAt,
      Instant updatedAt,
      List<VersionView> versions) {}

  /** A version as the API shows it; {@code files} is the number of files. */
  public record VersionView(
      String name,
      String version,
      String kind,
      String digest,
      long size,
      int files,
      String description,
      Instant createdAt,
      String createdBy) {}

  /** A version with its file paths and, for charts, the text of {@code values.yaml}. */
  public record VersionDetail(
      String name,
      String version,
      String kind,
      String digest,
      long size,
      int files,
      String description,
      Instant createdAt,
      String createdBy,
      List<String> paths,
      String values) {}

  /** The answer to a push; {@code created} is false when the same content was already there. */
  public record PushResult(
      String name,
      String version,
      String kind,
      String digest,
      long size,
      int files,
      String description,
      Instant createdAt,
      String createdBy,
      boolean created) {}

  /** What a device would get. Without device or tags, tags are placeholders ({@code tag-KEY}). */
  public record Preview(
      String app,
      String version,
      String device,
      Map<String, String> tags,
      String yaml,
      String digest) {}

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final Rendering rendering;
  private final CatalogStore store;
  private final ConcurrentHashMap<String, CatalogStore.VersionRow> versions =
      new ConcurrentHashMap<>();

  public Catalog(Jdbi jdbi, Clock clock, AuditLog audit, Rendering rendering) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.rendering = rendering;
    this.store = new CatalogStore(jdbi);
  }

  // ---------------------------------------------------------------------------------------------
  // For deployments and rollouts

  /**
   * One version.
   *
   * @throws ControllerException {@code NOT_FOUND} naming the versions that do exist
   */
  public Version version(String app, String version) {
    CatalogStore.VersionRow v = row(app, version);
    return new Version(
        v.app(), v.version(), v.kind(), v.digest(), v.size(), v.description(), v.createdAt());
  }

  /**
   * The version for a device with these tags whose cluster runs {@code kubeVersion}: values
   * deep-merged over the chart's values after its matching {@code edgefleet-overrides.yaml}
   * entries, then {@code ${tag:KEY}} substituted, rendered with Helm's {@code .Capabilities}
   * reporting that Kubernetes version. Deterministic and cached by (app, content, effective values,
   * Kubernetes version), so devices with the same relevant tags and version share one Helm run.
   *
   * @param kubeVersion the Kubernetes version the device reports ({@code v1.28.3}, see {@code
   *     DeviceFacts#kubernetesVersion}); null if it reports none, which renders for Helm's default
   * @throws ControllerException {@code NOT_FOUND} for an unknown app or version
   * @throws RenderException with a message for a person if it cannot be rendered for this device: a
   *     missing tag, a chart failing with these values, a chart whose {@code kubeVersion} the
   *     device's cluster does not meet, values given for plain manifests
   */
  public RenderedApp render(
      String app,
      String version,
      Map<String, Object> values,
      Map<String, String> deviceTags,
      String kubeVersion) {
    CatalogStore.VersionRow v = row(app, version);
    try {
      return rendering.renderContent(
          v.app(),
          v.digest(),
          files(v),
          Objects.requireNonNullElse(values, Map.of()),
          Objects.requireNonNullElse(deviceTags, Map.of()),
          kubeVersion);
    } catch (RenderException e) {
      throw new RenderException("app " + label(v) + ": " + e.getMessage(), e);
    }
  }

  /**
   * What identifies the objects a device with these tags, whose cluster runs {@code kubeVersion}
   * (null: none reported), gets of the version with these values, without running Helm (see {@link
   * Rendering#contentConfiguration}): devices with equal answers get the same objects, so one
   * render checks them all.
   *
   * @throws ControllerException {@code NOT_FOUND} for an unknown app or version
   * @throws RenderException if a referenced tag is missing or values are given for plain manifests
   */
  public String configuration(
      String app,
      String version,
      Map<String, Object> values,
      Map<String, String> deviceTags,
      String kubeVersion) {
    CatalogStore.VersionRow v = row(app, version);
    return rendering.contentConfiguration(
        v.app(),
        v.digest(),
        files(v),
        Objects.requireNonNullElse(values, Map.of()),
        Objects.requireNonNullElse(deviceTags, Map.of()),
        kubeVersion);
  }

  /**
   * Checks that the version renders with these values, once, with placeholder tags ({@code
   * ${tag:KEY}} becomes {@code tag-KEY}; overrides ignored), as a Git commit is checked.
   *
   * @throws ControllerException {@code NOT_FOUND} for an unknown app or version, {@code
   *     CATALOG_CONTENT_INVALID} if the chart fails with these values or values are given for plain
   *     manifests
   */
  public void validateValues(String app, String version, Map<String, Object> values) {
    CatalogStore.VersionRow v = row(app, version);
    Map<String, Object> vals = Objects.requireNonNullElse(values, Map.of());
    if (MANIFESTS.equals(v.kind()) && !vals.isEmpty()) {
      throw invalid("values apply to Helm charts only; " + label(v) + " is plain Kubernetes YAML");
    }
    try {
      rendering.renderContentBase(v.app(), v.digest(), files(v), vals);
    } catch (RenderException e) {
      throw invalid(label(v) + " does not render with these values: " + e.getMessage());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // For the API

  /**
   * Stores a version. Idempotent: the same content under an existing version changes nothing and
   * answers {@code created=false}; nothing is stored when anything is refused.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} for a bad name, version, kind or base64;
   *     {@code CATALOG_CONTENT_INVALID} for an unsafe archive or content that does not render;
   *     {@code APP_VERSION_EXISTS} if the version exists with other content; {@code UNAVAILABLE} if
   *     Helm cannot run now (nothing is stored; pushing again later may succeed)
   */
  public PushResult push(String app, PushRequest req, String actor) {
    String name = checkName(app);
    if (req == null) {
      throw ControllerException.invalid("a push needs version, kind and archive");
    }
    String version = checkVersion(req.version());
    String kind = checkKind(req.kind());
    String description = checkDescription(req.description());
    byte[] archive = decode(req.archive());
    SortedMap<String, byte[]> files =
        normalize(name, version, kind, Archives.stripTopDirectory(Archives.readTarGz(archive)));
    String digest = Archives.digest(files);

    Optional<CatalogStore.VersionRow> existing = store.version(name, version);
    if (existing.isPresent()) {
      return same(existing.get(), digest);
    }
    RenderedApp base;
    try {
      base = rendering.renderContentBase(name, digest, () -> files, Map.of());
    } catch (RenderException e) {
      throw invalid(
          name + "@" + version + " was not stored: it does not render: " + e.getMessage());
    }
    if (base.yaml().isBlank()) {
      throw invalid(name + "@" + version + " was not stored: it contains no Kubernetes objects");
    }
    long now = clock.millis();
    boolean inserted;
    try {
      jdbi.useTransaction(
          h -> {
            store.upsertApp(h, name, description, now);
            store.insertContent(h, digest, files, now);
            if (!store.insertVersion(h, name, version, kind, digest, description, now, actor)) {
              throw new LostRace();
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("kind", kind);
            detail.put("digest", digest);
            detail.put("size", Archives.size(files));
            detail.put("files", files.size());
            if (!description.isEmpty()) {
              detail.put("description", description);
            }
            audit.record(h, actor, "catalog-version.push", name + "@" + version, detail);
          });
      inserted = true;
    } catch (LostRace e) {
      inserted = false;
    }
    CatalogStore.VersionRow row =
        store
            .version(name, version)
            .orElseThrow(() -> new IllegalStateException(name + "@" + version + " vanished"));
    if (!inserted) {
      // Another push of the same version won the race.
      return same(row, digest);
    }
    return result(row, true);
  }

  /** Every app with its latest version, by name. */
  List<AppSummary> list() {
    Map<String, List<CatalogStore.VersionRow>> byApp =
        store.versions().stream().collect(Collectors.groupingBy(CatalogStore.VersionRow::app));
    List<AppSummary> out = new ArrayList<>();
    for (CatalogStore.AppRow a : store.apps()) {
      List<CatalogStore.VersionRow> vs = newestFirst(byApp.getOrDefault(a.name(), List.of()));
      CatalogStore.VersionRow latest = vs.isEmpty() ? null : vs.get(0);
      out.add(
          new AppSummary(
              a.name(),
              blankToNull(a.description()),
              latest == null ? null : latest.version(),
              vs.size(),
              latest == null ? null : latest.kind(),
              a.updatedAt()));
    }
    return out;
  }

  /**
   * One app with its versions, newest first.
   *
   * @throws ControllerException {@code NOT_FOUND}
   */
  AppView app(String name) {
    CatalogStore.AppRow a = store.app(name).orElseThrow(() -> unknownApp(name));
    List<CatalogStore.VersionRow> vs = newestFirst(store.versions(a.name()));
    return new AppView(
        a.name(),
        blankToNull(a.description()),
        vs.isEmpty() ? null : vs.get(0).version(),
        vs.isEmpty() ? null : vs.get(0).kind(),
        a.createdAt(),
        a.updatedAt(),
        vs.stream().map(Catalog::view).toList());
  }

  /**
   * One version with its paths and chart values.
   *
   * @throws ControllerException {@code NOT_FOUND}
   */
  VersionDetail detail(String app, String version) {
    CatalogStore.VersionRow v = row(app, version);
    SortedMap<String, byte[]> files = files(v).get();
    byte[] values = CHART.equals(v.kind()) ? files.get("values.yaml") : null;
    return new VersionDetail(
        v.app(),
        v.version(),
        v.kind(),
        v.digest(),
        v.size(),
        v.fileCount(),
        blankToNull(v.description()),
        v.createdAt(),
        v.createdBy(),
        List.copyOf(files.keySet()),
        values == null ? null : new String(values, StandardCharsets.UTF_8));
  }

  /**
   * The YAML a device with these tags would get, or with placeholder tags when {@code tags} is
   * empty (as pushes are checked).
   *
   * @param device the device the tags are from, shown in the answer and in messages; may be null
   * @param kubeVersion the Kubernetes version of that device's cluster; null for Helm's default
   * @throws ControllerException {@code NOT_FOUND}, or {@code CATALOG_CONTENT_INVALID} with the
   *     renderer's message
   */
  Preview preview(
      String app,
      String version,
      String device,
      Optional<Map<String, String>> tags,
      String kubeVersion,
      Map<String, Object> values) {
    CatalogStore.VersionRow v = row(app, version);
    Map<String, Object> vals = Objects.requireNonNullElse(values, Map.of());
    RenderedApp r;
    try {
      r =
          tags.isPresent()
              ? rendering.renderContent(
                  v.app(), v.digest(), files(v), vals, tags.get(), kubeVersion)
              : rendering.renderContentBase(v.app(), v.digest(), files(v), vals);
    } catch (RenderException e) {
      throw invalid(
          label(v)
              + (device == null ? "" : " for device " + device)
              + " cannot be rendered: "
              + e.getMessage());
    }
    return new Preview(v.app(), v.version(), device, tags.orElse(null), r.yaml(), r.digest());
  }

  // ---------------------------------------------------------------------------------------------

  /** Rolls the push transaction back: another push stored the same version first. */
  private static final class LostRace extends RuntimeException {
    LostRace() {
      super(null, null, false, false);
    }
  }

  private CatalogStore.VersionRow row(String app, String version) {
    String key = app + "@" + version;
    CatalogStore.VersionRow cached = versions.get(key);
    if (cached != null) {
      return cached;
    }
    Optional<CatalogStore.VersionRow> found =
        app == null || version == null ? Optional.empty() : store.version(app, version);
    if (found.isEmpty()) {
      if (app == null || store.app(app).isEmpty()) {
        throw unknownApp(app);
      }
      List<String> pushed =
          new ArrayList<>(newestFirst(store.versions(app)).stream().map(v -> v.version()).toList());
      java.util.Collections.reverse(pushed);
      throw new ControllerException(
          ErrorCode.NOT_FOUND,
          "no version "
              + version
              + " of app '"
              + app
              + "'; pushed versions: "
              + String.join(", ", pushed));
    }
    // Versions never change once stored, so a cached row can never be stale.
    versions.put(key, found.get());
    return found.get();
  }

  private Supplier<SortedMap<String, byte[]>> files(CatalogStore.VersionRow v) {
    return () ->
        store
            .files(v.digest())
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "content " + v.digest() + " of " + label(v) + " is missing"));
  }

  private SortedMap<String, byte[]> normalize(
      String name, String version, String kind, SortedMap<String, byte[]> files) {
    String label = name + "@" + version;
    if (files.isEmpty()) {
      throw invalid(label + " was not stored: the archive contains no files");
    }
    if (kind.equals(CHART)) {
      if (!files.containsKey("Chart.yaml")) {
        throw invalid(
            label
                + " was not stored: a chart needs Chart.yaml at its root; the archive has "
                + Archives.sample(files.keySet()));
      }
      byte[] packaged;
      try {
        packaged = rendering.packageChart(files);
      } catch (RenderException e) {
        throw invalid(label + " was not stored: " + e.getMessage());
      }
      return Archives.stripTopDirectory(Archives.readTarGz(packaged));
    }
    if (files.containsKey("Chart.yaml")) {
      throw invalid(
          label
              + " was not stored: the archive has Chart.yaml, so it is a Helm chart; push it as"
              + " kind chart (--chart)");
    }
    if (files.keySet().stream().noneMatch(Catalog::isYaml)) {
      throw invalid(
          label
              + " was not stored: manifests need *.yaml, *.yml or *.json files; the archive has "
              + Archives.sample(files.keySet()));
    }
    return files;
  }

  private PushResult same(CatalogStore.VersionRow existing, String digest) {
    if (!existing.digest().equals(digest)) {
      throw new ControllerException(
          ErrorCode.APP_VERSION_EXISTS,
          label(existing)
              + " already exists with different content (digest "
              + existing.digest()
              + ", this push has "
              + digest
              + "); versions are immutable: push it as a new version");
    }
    return result(existing, false);
  }

  private static PushResult result(CatalogStore.VersionRow v, boolean created) {
    return new PushResult(
        v.app(),
        v.version(),
        v.kind(),
        v.digest(),
        v.size(),
        v.fileCount(),
        blankToNull(v.description()),
        v.createdAt(),
        v.createdBy(),
        created);
  }

  private static VersionView view(CatalogStore.VersionRow v) {
    return new VersionView(
        v.app(),
        v.version(),
        v.kind(),
        v.digest(),
        v.size(),
        v.fileCount(),
        blankToNull(v.description()),
        v.createdAt(),
        v.createdBy());
  }

  private static List<CatalogStore.VersionRow> newestFirst(List<CatalogStore.VersionRow> vs) {
    return VersionOrder.newestFirst(
        vs, CatalogStore.VersionRow::version, CatalogStore.VersionRow::createdAt);
  }

  private static boolean isYaml(String path) {
    String p = path.toLowerCase(Locale.ROOT);
    return p.endsWith(".yaml") || p.endsWith(".yml") || p.endsWith(".json");
  }

  private static String label(CatalogStore.VersionRow v) {
    return v.app() + "@" + v.version();
  }

  private static String checkName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw ControllerException.invalid(
          "app name '"
              + name
              + "' is invalid: use 1 to 63 lower-case letters, digits and '-', starting and"
              + " ending with a letter or digit");
    }
    return name;
  }

  private static String checkVersion(String version) {
    if (version == null || version.isBlank()) {
      throw ControllerException.invalid("version is required, such as 1.2.0");
    }
    String v = version.strip();
    if (!VERSION.matcher(v).matches()) {
      throw ControllerException.invalid(
          "version '"
              + version
              + "' is invalid: use 1 to 64 letters, digits, '.', '_' and '-', starting with a"
              + " letter or digit, such as 1.2.0 or 2024.06.1-rc1");
    }
    return v;
  }

  private static String checkKind(String kind) {
    String k = kind == null ? "" : kind.strip().toLowerCase(Locale.ROOT);
    if (!k.equals(CHART) && !k.equals(MANIFESTS)) {
      throw ControllerException.invalid(
          "kind must be '" + CHART + "' or '" + MANIFESTS + "', got '" + kind + "'");
    }
    return k;
  }

  private static String checkDescription(String description) {
    String d = description == null ? "" : description.strip();
    if (d.length() > MAX_DESCRIPTION) {
      throw ControllerException.invalid(
          "description is longer than " + MAX_DESCRIPTION + " characters");
    }
    if (d.chars().anyMatch(c -> Character.isISOControl(c) && c != '\n' && c != '\t')) {
      throw ControllerException.invalid("description must not contain control characters");
    }
    return d;
  }

  private static byte[] decode(String archive) {
    if (archive == null || archive.isBlank()) {
      throw ControllerException.invalid(
          "archive is required: the base64 of a .tar.gz of the chart or manifests");
    }
    try {
      return Base64.getDecoder().decode(archive);
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid(
          "archive is not valid base64 (" + e.getMessage() + "): send the base64 of a .tar.gz");
    }
  }

  private static ControllerException unknownApp(String app) {
    return new ControllerException(
        ErrorCode.NOT_FOUND,
        "app '"
            + app
            + "' is not in the catalog; push a version first: edgefleet apps push "
            + app
            + " --version …");
  }

  private static ControllerException invalid(String message) {
    return new ControllerException(ErrorCode.CATALOG_CONTENT_INVALID, message);
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
