package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;

/**
 * What one device should run. Generations strictly increase per device; an agent refuses a document
 * whose generation is not above the one it holds (replay, downgrade).
 *
 * @param signingKeys the controller's other desired-state signing keys the device is to trust from
 *     now on, besides the key that signed this document: a key rotation announces the next key this
 *     way, in documents signed by the key the device already trusts. Once a device takes the
 *     document, it trusts exactly the signer and these; empty (and absent from the JSON) when there
 *     is nothing to announce.
 * @param cluster the K3s node the device should be; null (and absent from the JSON) when it is no
 *     member of a cluster
 * @param agent the agent release the device should run, for its architecture; null (and absent from
 *     the JSON) when no release is rolled out to it, so the agent stays as installed
 * @param stage artifacts the device should download ahead of a change that is not released to it
 *     yet (a rollout's next revision): "download early, switch in the window"; the device reports
 *     what it holds and the rollout releases it once they are there. Empty (and absent) for none
 * @param downloads when and how much the device may download artifacts; null (and absent): at any
 *     time, without a budget
 * @param siteCache the device of the same site that serves blobs over the LAN: this device itself
 *     when it is the site's cache ({@link SiteCache#serve()}), else its neighbour to fetch from
 *     first; null (and absent) when the device's site has no cache
 * @param controllerUrls every URL of the controller (its replicas behind other addresses), for the
 *     device to spread over and fail over across besides those of its bootstrap file: a replica
 *     added later reaches devices this way. Empty (and absent) when the controller has one URL
 */
public record DesiredState(
    String deviceId,
    long generation,
    Instant issuedAt,
    List<DesiredApp> apps,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<SigningKey> signingKeys,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<SecretRef> secrets,
    @JsonInclude(JsonInclude.Include.NON_NULL) ClusterSpec cluster,
    @JsonInclude(JsonInclude.Include.NON_NULL) AgentRelease agent,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<ArtifactRef> stage,
    @JsonInclude(JsonInclude.Include.NON_NULL) DownloadPolicy downloads,
    @JsonInclude(JsonInclude.Include.NON_NULL) SiteCache siteCache,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> controllerUrls) {
  /**
   * The largest generation a controller issues: 2^53 - 1, the largest integer every JSON reader
   * keeps exact. Generations grow by one per change, so no device comes near it in practice; a
   * claim above it is refused instead of wrapping around.
   */
  public static final long MAX_GENERATION = (1L << 53) - 1;

  public DesiredState {
    stage = stage == null ? List.of() : List.copyOf(stage);
    apps = apps == null ? List.of() : List.copyOf(apps);
    signingKeys = signingKeys == null ? List.of() : List.copyOf(signingKeys);
    secrets = secrets == null ? List.of() : List.copyOf(secrets);
    controllerUrls = controllerUrls == null ? List.of() : List.copyOf(controllerUrls);
  }

  /** A document that names no other controller URL. */
  public DesiredState(
      String deviceId,
      long generation,
      Instant issuedAt,
      List<DesiredApp> apps,
      List<SigningKey> signingKeys,
      List<SecretRef> secrets,
      ClusterSpec cluster,
      AgentRelease agent,
      List<ArtifactRef> stage,
      DownloadPolicy downloads,
      SiteCache siteCache) {
    this(
        deviceId,
        generation,
        issuedAt,
        apps,
        signingKeys,
        secrets,
        cluster,
        agent,
        stage,
        downloads,
        siteCache,
        List.of());
  }

  /** A document that names no site cache. */
  public DesiredState(
      String deviceId,
      long generation,
      Instant issuedAt,
      List<DesiredApp> apps,
      List<SigningKey> signingKeys,
      List<SecretRef> secrets,
      ClusterSpec cluster,
      AgentRelease agent,
      List<ArtifactRef> stage,
      DownloadPolicy downloads) {
    this(
        deviceId,
        generation,
        issuedAt,
        apps,
        signingKeys,
        secrets,
        cluster,
        agent,
        stage,
        downloads,
        null);
  }

  /** A document that stages nothing ahead and sets no download policy. */
  public DesiredState(
      String deviceId,
      long generation,
      Instant issuedAt,
      List<DesiredApp> apps,
      List<SigningKey> signingKeys,
      List<SecretRef> secrets,
      ClusterSpec cluster,
      AgentRelease agent) {
    this(
        deviceId,
        generation,
        issuedAt,
        apps,
        signingKeys,
        secrets,
        cluster,
        agent,
        List.of(),
        null);
  }

  /** This document with {@code stage} and {@code downloads}. */
  public DesiredState withDownloads(List<ArtifactRef> stage, DownloadPolicy downloads) {
    return new DesiredState(
        deviceId,
        generation,
        issuedAt,
        apps,
        signingKeys,
        secrets,
        cluster,
        agent,
        stage,
        downloads,
        siteCache,
        controllerUrls);
  }

  /** This document with {@code siteCache} (null: none). */
  public DesiredState withSiteCache(SiteCache siteCache) {
    return new DesiredState(
        deviceId,
        generation,
        issuedAt,
        apps,
        signingKeys,
        secrets,
        cluster,
        agent,
        stage,
        downloads,
        siteCache,
        controllerUrls);
  }

  /** This document with {@code controllerUrls} (empty: none besides the bootstrap file's). */
  public DesiredState withControllerUrls(List<String> controllerUrls) {
    return new DesiredState(
        deviceId,
        generation,
        issuedAt,
        apps,
        signingKeys,
        secrets,
        cluster,
        agent,
        stage,
        downloads,
        siteCache,
        controllerUrls);
  }

  /**
   * The device of a site that serves the blobs it holds to the other devices of the site over their
   * LAN, and fetches from the controller what they ask for and it does not hold. Devices name their
   * site with the tag {@link #SITE_TAG}; the cache is the one tagged {@link #CACHE_TAG}{@code
   * =true}. The server presents the cache device's own certificate and requires one issued by the
   * same fleet CA; a neighbour accepts only the certificate of {@code deviceId}, and verifies every
   * chunk against the controller's digests, so a cache cannot plant a blob.
   *
   * @param site the site's name (the value of {@link #SITE_TAG})
   * @param deviceId the device that is the site's cache
   * @param url where it serves, {@code https://host:port}; null while the cache has not reported
   *     one (a neighbour then fetches from the controller)
   * @param serve whether the document's own device is the cache and should serve
   * @param neighbours in the cache's own document: the devices it serves (the site's other devices,
   *     without revoked or quarantined ones); any other certificate is refused at the handshake.
   *     Null when not told (a neighbour's document, or an older controller: then any device of the
   *     fleet is served)
   */
  public record SiteCache(
      String site,
      String deviceId,
      @JsonInclude(JsonInclude.Include.NON_NULL) String url,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean serve,
      @JsonInclude(JsonInclude.Include.NON_NULL) List<String> neighbours) {
    public SiteCache {
      neighbours = neighbours == null ? null : List.copyOf(neighbours);
    }

    /** A section that names no neighbours. */
    public SiteCache(String site, String deviceId, String url, boolean serve) {
      this(site, deviceId, url, serve, null);
    }

    /** The tag whose value names a device's site. */
    public static final String SITE_TAG = "site";

    /** The tag ({@code =true}) that makes a device its site's cache. */
    public static final String CACHE_TAG = "edgefleet.io/site-cache";
  }

  /**
   * How the device may use its link for artifacts (container images, VM disks, agent releases): at
   * most {@code bytesPerDay} (0: no limit) and only inside {@code windows} (empty: at any time).
   * Desired-state documents and bundles are not artifacts and always travel.
   *
   * @param windows daily windows as {@code HH:MM-HH:MM} in {@code zone} (an IANA zone id, UTC when
   *     null); a window may wrap past midnight ({@code 22:00-06:00})
   */
  public record DownloadPolicy(long bytesPerDay, List<String> windows, String zone) {
    public DownloadPolicy {
      if (bytesPerDay < 0) {
        throw new IllegalArgumentException("bytesPerDay must not be negative");
      }
      windows = windows == null ? List.of() : List.copyOf(windows);
    }
  }

  /** A document that rolls out no agent release. */
  public DesiredState(
      String deviceId,
      long generation,
      Instant issuedAt,
      List<DesiredApp> apps,
      List<SigningKey> signingKeys,
      List<SecretRef> secrets,
      ClusterSpec cluster) {
    this(deviceId, generation, issuedAt, apps, signingKeys, secrets, cluster, null);
  }

  /** A document for a device that is no member of a cluster. */
  public DesiredState(
      String deviceId,
      long generation,
      Instant issuedAt,
      List<DesiredApp> apps,
      List<SigningKey> signingKeys,
      List<SecretRef> secrets) {
    this(deviceId, generation, issuedAt, apps, signingKeys, secrets, null);
  }

  /** A document without secrets. */
  public DesiredState(
      String deviceId,
      long generation,
      Instant issuedAt,
      List<DesiredApp> apps,
      List<SigningKey> signingKeys) {
    this(deviceId, generation, issuedAt, apps, signingKeys, List.of());
  }

  /** A document that announces no signing key. */
  public DesiredState(String deviceId, long generation, Instant issuedAt, List<DesiredApp> apps) {
    this(deviceId, generation, issuedAt, apps, List.of(), List.of(), null, null);
  }

  /**
   * A secret the device should hold: fetched sealed to its key from {@code
   * /device/v1/secrets/{name}?version=}, materialised as a Kubernetes Secret {@code name} in {@code
   * namespace}, and removed once no document references it.
   */
  public record SecretRef(String name, long version, String namespace) {}

  /**
   * A desired-state signing key of the controller: its id ({@link
   * io.edgefleet.protocol.tls.Signatures#keyId}, which the agent checks against the key) and the
   * Ed25519 public key as PEM.
   */
  public record SigningKey(String id, String publicKeyPem) {}

  /**
   * One application: its manifests are the content-addressed bundle {@code bundle} ({@code
   * sha256:<hex>} of the UTF-8 bytes), fetched once from {@code /device/v1/bundles/}.
   *
   * @param revision what the device reports running once applied; it changes only when the app's
   *     content changes (a Git app's {@code sha256:<12 hex>} content digest, a catalog version)
   * @param commit optional: for an app from Git, the full SHA of the commit that brought it to this
   *     revision; provenance only (absent from the JSON when null, and from documents of older
   *     controllers)
   * @param keepInQuarantine the app keeps running while the device is quarantined (absent from the
   *     JSON when false)
   * @param runtime the runtime the app's bundle needs ({@link DeviceFacts#RUNTIME_CONTAINER},
   *     {@link DeviceFacts#RUNTIME_VM}); null (and absent from the JSON) for Kubernetes objects
   * @param artifacts the content-addressed blobs the app's workloads use (container images, VM
   *     disks), which the device fetches and verifies before it applies the app; empty (and absent)
   *     when it uses none
   */
  public record DesiredApp(
      String name,
      String source,
      String revision,
      String bundle,
      long size,
      String commit,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean keepInQuarantine,
      @JsonInclude(JsonInclude.Include.NON_NULL) String runtime,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) List<ArtifactRef> artifacts) {
    public DesiredApp {
      artifacts = artifacts == null ? List.of() : List.copyOf(artifacts);
    }

    /** A Kubernetes app. */
    public DesiredApp(
        String name,
        String source,
        String revision,
        String bundle,
        long size,
        String commit,
        boolean keepInQuarantine) {
      this(name, source, revision, bundle, size, commit, keepInQuarantine, null, List.of());
    }

    /** The runtime the app needs: {@link #runtime()}, or Kubernetes when that is null. */
    public String runtimeOrKubernetes() {
      return runtime == null ? DeviceFacts.RUNTIME_KUBERNETES : runtime;
    }

    /** This app with {@code runtime} and {@code artifacts}. */
    public DesiredApp withWorkload(String runtime, List<ArtifactRef> artifacts) {
      return new DesiredApp(
          name, source, revision, bundle, size, commit, keepInQuarantine, runtime, artifacts);
    }

    /** An app the device stops while it is quarantined. */
    public DesiredApp(
        String name, String source, String revision, String bundle, long size, String commit) {
      this(name, source, revision, bundle, size, commit, false);
    }

    /** An app without provenance (not from Git). */
    public DesiredApp(String name, String source, String revision, String bundle, long size) {
      this(name, source, revision, bundle, size, null, false);
    }
  }
}
