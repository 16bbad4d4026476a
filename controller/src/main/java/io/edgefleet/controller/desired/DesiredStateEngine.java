package io.edgefleet.controller.desired;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Lru;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.controller.render.ContentRevision;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Gzip;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the app catalog and each device's tags into a signed, versioned desired state per device. A
 * device's generation increases only when what it should run changes; bundles are stored once per
 * content digest. Recomputations requested while one runs are coalesced and run on one background
 * thread; {@link #recompute} runs synchronously.
 */
public final class DesiredStateEngine implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DesiredStateEngine.class);

  private final Jdbi jdbi;
  private final Clock clock;
  private final DeviceStore devices;
  private final BundleStore bundles;
  private final SigningKeys signingKeys;
  private final AppCatalog catalog;
  private final SecretTargets secrets;
  private final ClusterSections clusters;
  private final AgentSections agents;
  private final DownloadSections downloads;
  private final SiteCacheSections siteCaches;
  private final Supplier<List<String>> controllerUrls;
  private final StageArtifacts stageArtifacts = new StageArtifacts();
  private final ExecutorService worker;
  private final Object lock = new Object();

  /** Devices recomputed in one transaction by the background worker. */
  private static final int CHUNK = 64;

  private final Set<String> pending = new LinkedHashSet<>();

  /** Devices taken from {@link #pending} and not yet recomputed. */
  private final Set<String> computing = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private boolean pendingAll;

  /** The worker is reading which devices "all" are: every device counts as settling meanwhile. */
  private boolean listingAll;

  private boolean scheduled;
  private final BiConsumer<String, ControllerMessage.Nudge> nudger;

  /**
   * Gzip (base64) of recently rendered bundles by digest; "" for a bundle too large to go inline.
   */
  private final Lru<String, String> inlineBundles = Lru.ofEntries(64);

  private final ReleaseGate gate;

  /** Digests of bundles known to be stored (bundles are immutable and never deleted). */
  private final Lru<String, Boolean> storedBundles = Lru.ofEntries(1024);

  private final java.util.concurrent.atomic.LongAdder recomputations =
      new java.util.concurrent.atomic.LongAdder();

  /**
   * @param gate decides which revision of a phased app each device gets
   * @param nudger called whenever a device's desired state changed, with the nudge to send it: the
   *     new generation, the signed document, and the newly referenced bundles that are small enough
   *     to travel inline
   */
  public DesiredStateEngine(
      Jdbi jdbi,
      Clock clock,
      DeviceStore devices,
      BundleStore bundles,
      SigningKeys signingKeys,
      AppCatalog catalog,
      ReleaseGate gate,
      BiConsumer<String, ControllerMessage.Nudge> nudger) {
    this(jdbi, clock, devices, bundles, signingKeys, catalog, SecretTargets.NONE, gate, nudger);
  }

  /**
   * @param secrets the secrets whose references go into the documents of the devices they target
   */
  public DesiredStateEngine(
      Jdbi jdbi,
      Clock clock,
      DeviceStore devices,
      BundleStore bundles,
      SigningKeys signingKeys,
      AppCatalog catalog,
      SecretTargets secrets,
      ReleaseGate gate,
      BiConsumer<String, ControllerMessage.Nudge> nudger) {
    this(
        jdbi,
        clock,
        devices,
        bundles,
        signingKeys,
        catalog,
        secrets,
        ClusterSections.NONE,
        AgentSections.NONE,
        gate,
        nudger);
  }

  /**
   * @param clusters the K3s node each device should be (the document's {@code cluster} section)
   * @param agents the agent release each device should run (the document's {@code agent} section)
   */
  public DesiredStateEngine(
      Jdbi jdbi,
      Clock clock,
      DeviceStore devices,
      BundleStore bundles,
      SigningKeys signingKeys,
      AppCatalog catalog,
      SecretTargets secrets,
      ClusterSections clusters,
      AgentSections agents,
      ReleaseGate gate,
      BiConsumer<String, ControllerMessage.Nudge> nudger) {
    this(
        jdbi,
        clock,
        devices,
        bundles,
        signingKeys,
        catalog,
        secrets,
        clusters,
        agents,
        DownloadSections.NONE,
        gate,
        nudger);
  }

  /**
   * @param downloads when and how much each device may download artifacts (the document's {@code
   *     downloads} section)
   */
  public DesiredStateEngine(
      Jdbi jdbi,
      Clock clock,
      DeviceStore devices,
      BundleStore bundles,
      SigningKeys signingKeys,
      AppCatalog catalog,
      SecretTargets secrets,
      ClusterSections clusters,
      AgentSections agents,
      DownloadSections downloads,
      ReleaseGate gate,
      BiConsumer<String, ControllerMessage.Nudge> nudger) {
    this(
        jdbi,
        clock,
        devices,
        bundles,
        signingKeys,
        catalog,
        secrets,
        clusters,
        agents,
        downloads,
        SiteCacheSections.NONE,
        gate,
        nudger);
  }

  /**
   * @param downloads when and how much each device may download artifacts (the document's {@code
   *     downloads} section)
   * @param siteCaches the device of its site each device fetches blobs from first, or itself to
   *     serve them (the document's {@code siteCache} section)
   */
  public DesiredStateEngine(
      Jdbi jdbi,
      Clock clock,
      DeviceStore devices,
      BundleStore bundles,
      SigningKeys signingKeys,
      AppCatalog catalog,
      SecretTargets secrets,
      ClusterSections clusters,
      AgentSections agents,
      DownloadSections downloads,
      SiteCacheSections siteCaches,
      ReleaseGate gate,
      BiConsumer<String, ControllerMessage.Nudge> nudger) {
    this(
        jdbi,
        clock,
        devices,
        bundles,
        signingKeys,
        catalog,
        secrets,
        clusters,
        agents,
        downloads,
        siteCaches,
        List::of,
        gate,
        nudger);
  }

  /**
   * @param controllerUrls every URL of the controller when it has several (replicas behind other
   *     addresses; the document's {@code controllerUrls}), empty when it has one
   */
  public DesiredStateEngine(
      Jdbi jdbi,
      Clock clock,
      DeviceStore devices,
      BundleStore bundles,
      SigningKeys signingKeys,
      AppCatalog catalog,
      SecretTargets secrets,
      ClusterSections clusters,
      AgentSections agents,
      DownloadSections downloads,
      SiteCacheSections siteCaches,
      Supplier<List<String>> controllerUrls,
      ReleaseGate gate,
      BiConsumer<String, ControllerMessage.Nudge> nudger) {
    this.controllerUrls = controllerUrls;
    this.siteCaches = siteCaches;
    this.downloads = downloads;
    this.agents = agents;
    this.secrets = secrets;
    this.clusters = clusters;
    this.gate = gate;
    this.nudger = nudger;
    this.jdbi = jdbi;
    this.clock = clock;
    this.devices = devices;
    this.bundles = bundles;
    this.signingKeys = signingKeys;
    this.catalog = catalog;
    this.worker =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "edgefleet-desired-state");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Whether a recomputation of the device is queued or running on this controller: until it ends,
   * the device's stored document may not yet say what a change just made means for it (e.g. what it
   * is to download ahead of a rollout).
   */
  public boolean settling(String deviceId) {
    synchronized (lock) {
      if (pendingAll || listingAll || pending.contains(deviceId)) {
        return true;
      }
    }
    return computing.contains(deviceId);
  }

  /**
   * A document's fingerprint with its staging, download, site-cache and controller-URL sections:
   * unchanged without any (documents from before the sections keep theirs), else one digest of all,
   * which fits the stored column (80 characters).
   */
  private static String withSections(
      String fingerprint, String sections, DesiredState.SiteCache c, List<String> urls) {
    String all =
        c == null
            ? sections
            : sections
                + "\nsite-cache "
                + c.site()
                + " "
                + c.deviceId()
                + " "
                + c.url()
                + " "
                + c.serve()
                + (c.neighbours() == null ? "" : " serves " + String.join(",", c.neighbours()));
    if (!urls.isEmpty()) {
      all += "\ncontroller-urls " + String.join(" ", urls);
    }
    if (all.isEmpty()) {
      return fingerprint;
    }
    return Fingerprints.sha256((fingerprint + all).getBytes(StandardCharsets.UTF_8));
  }

  /** Recomputes every active device soon. */
  public void requestAll() {
    synchronized (lock) {
      pendingAll = true;
      schedule();
    }
  }

  /** Recomputes one device soon. */
  public void request(String deviceId) {
    synchronized (lock) {
      pending.add(deviceId);
      schedule();
    }
  }

  private void schedule() {
    if (!scheduled) {
      scheduled = true;
      worker.execute(this::drain);
    }
  }

  private void drain() {
    while (true) {
      List<String> ids;
      boolean all;
      synchronized (lock) {
        if (!pendingAll && pending.isEmpty()) {
          scheduled = false;
          return;
        }
        all = pendingAll;
        ids = new ArrayList<>(pending);
        listingAll = all;
        pendingAll = false;
        pending.clear();
        computing.addAll(ids);
      }
      if (all) {
        // Read outside the lock: a thread holding a database connection (a rollout's transaction)
        // asks settling(), which takes the lock; holding the lock here while waiting for a
        // connection would deadlock the two until the pool's timeout, and with SQLite's single
        // connection stall every other request meanwhile.
        try {
          ids = activeDeviceIds();
          computing.addAll(ids);
        } catch (RuntimeException e) {
          LOG.warn("the devices to recompute could not be read: {}", e.toString());
          ids.forEach(computing::remove);
          synchronized (lock) {
            listingAll = false;
            pendingAll = true;
            scheduled = false;
          }
          return;
        } finally {
          synchronized (lock) {
            listingAll = false;
          }
        }
      }
      // One read of the catalog per batch, not per device.
      Sources apps;
      try {
        apps = new Sources(catalog.apps(), secrets.secrets());
      } catch (RuntimeException e) {
        LOG.warn("the app catalog could not be read: {}", e.toString());
        ids.forEach(computing::remove);
        continue;
      }
      for (int i = 0; i < ids.size(); i += CHUNK) {
        List<String> chunk = ids.subList(i, Math.min(ids.size(), i + CHUNK));
        try {
          recomputeChunk(chunk, apps);
        } finally {
          chunk.forEach(computing::remove);
        }
      }
    }
  }

  /**
   * Recomputes devices with one transaction for all of them (one connection hold instead of one per
   * device); their nudges go out once it committed. If the transaction fails, each device is tried
   * on its own, so one device's problem does not hold back the others.
   */
  private void recomputeChunk(List<String> ids, Sources apps) {
    Map<String, Prepared> prepared = new LinkedHashMap<>();
    for (String id : ids) {
      try {
        Prepared desired = prepare(id, apps);
        if (desired == null) {
          retire(id);
        } else {
          prepared.put(id, desired);
        }
      } catch (RuntimeException e) {
        LOG.warn("desired state of {} could not be computed: {}", id, e.toString());
      }
    }
    if (prepared.isEmpty()) {
      return;
    }
    Map<String, Written> written;
    SigningKeys.Ring ring = signingKeys.ring();
    try {
      written =
          jdbi.inTransaction(
              h -> {
                Map<String, Written> out = new LinkedHashMap<>();
                Set<String> storedHere = new java.util.HashSet<>();
                prepared.forEach(
                    (id, desired) -> out.put(id, write(h, id, desired, storedHere, ring)));
                return out;
              });
    } catch (RuntimeException e) {
      for (var p : prepared.entrySet()) {
        try {
          writeAlone(p.getKey(), p.getValue());
        } catch (RuntimeException again) {
          LOG.warn("desired state of {} could not be computed: {}", p.getKey(), again.toString());
        }
      }
      return;
    }
    written.forEach((id, w) -> committed(id, prepared.get(id), w));
  }

  private List<String> activeDeviceIds() {
    return jdbi.withHandle(devices::activeIds);
  }

  /**
   * Recomputes one device now.
   *
   * @return the device's generation afterwards (0 if it has none)
   */
  public long recompute(String deviceId) {
    return recompute(deviceId, new Sources(catalog.apps(), secrets.secrets()));
  }

  /** Desired states computed since start, changed or not (for {@code /metrics}). */
  public long recomputations() {
    return recomputations.sum();
  }

  private long recompute(String deviceId, Sources catalogApps) {
    Prepared desired = prepare(deviceId, catalogApps);
    if (desired == null) {
      retire(deviceId);
      return generation(deviceId);
    }
    return writeAlone(deviceId, desired).generation();
  }

  /** Writes one device in its own transaction, then sends its nudge. */
  private Written writeAlone(String deviceId, Prepared desired) {
    SigningKeys.Ring ring = signingKeys.ring();
    Written w =
        jdbi.inTransaction(h -> write(h, deviceId, desired, new java.util.HashSet<>(), ring));
    committed(deviceId, desired, w);
    return w;
  }

  /** A retired device runs nothing any more: it leaves every app's status. */
  private void retire(String deviceId) {
    jdbi.useHandle(
        h ->
            h.createUpdate("DELETE FROM device_apps WHERE device_id = :d")
                .bind("d", deviceId)
                .execute());
    jdbi.useHandle(h -> StageArtifacts.record(h, deviceId, Map.of()));
  }

  /**
   * What the device should run, per app: targeting, the rollouts' decisions and renders; nothing is
   * written. Null if the device is not active.
   */
  private Prepared prepare(String deviceId, Sources sources) {
    List<AppCatalog.App> catalogApps = sources.apps();
    recomputations.increment();
    Optional<DeviceRecord> found = jdbi.withHandle(h -> devices.byId(h, deviceId));
    if (found.isEmpty() || found.get().lifecycle() != DeviceRecord.Lifecycle.ACTIVE) {
      return null;
    }
    Map<String, String> tags = found.get().tags();
    DeviceFacts facts = found.get().facts();
    String kubeVersion = facts == null ? null : facts.kubernetesVersion();
    AppCatalog.Device device =
        new AppCatalog.Device(tags, kubeVersion, facts == null ? null : facts.arch());
    List<AppCatalog.App> apps = new ArrayList<>(catalogApps);
    apps.sort(Comparator.comparing(AppCatalog.App::source).thenComparing(AppCatalog.App::name));
    Map<String, AppCatalog.App> targeting = new LinkedHashMap<>();
    for (AppCatalog.App app : apps) {
      if (app.target().matches(tags)) {
        targeting.putIfAbsent(app.name(), app);
      }
    }
    List<AppCatalog.App> phased =
        targeting.values().stream().filter(AppCatalog.App::phased).toList();
    Map<String, ReleaseGate.Decision> decisions =
        phased.isEmpty() ? Map.of() : jdbi.withHandle(h -> gate.decide(h, deviceId, phased));
    Set<String> staging =
        phased.isEmpty() ? Set.of() : jdbi.withHandle(h -> gate.staging(h, deviceId, phased));
    Map<String, Entry> desired = new LinkedHashMap<>();
    for (AppCatalog.App app : targeting.values()) {
      ReleaseGate.Decision decision = decisions.getOrDefault(app.name(), ReleaseGate.FOLLOW);
      switch (decision) {
        case ReleaseGate.Follow f -> {
          try {
            AppCatalog.Rendered r = catalog.render(app, device);
            // A device that cannot run this kind of workload never gets it, and says why.
            Optional<String> refusal = Placement.refusal(facts, r.runtime());
            desired.put(
                app.name(),
                refusal.isPresent()
                    ? new Entry(app, Optional.empty(), null, decision, refusal.get())
                    : new Entry(app, Optional.of(r), null, decision));
          } catch (RuntimeException e) {
            desired.put(app.name(), new Entry(app, Optional.empty(), e.getMessage(), decision));
          }
        }
        case ReleaseGate.Keep k ->
            desired.put(app.name(), new Entry(app, Optional.empty(), null, k));
        case ReleaseGate.Pin p ->
            desired.put(app.name(), new Entry(app, Optional.empty(), null, p));
        case ReleaseGate.Absent a -> {}
      }
    }
    List<DesiredState.SecretRef> refs = new ArrayList<>();
    for (SecretTargets.Secret secret : sources.secrets()) {
      if (secret.target().matches(tags)) {
        refs.add(new DesiredState.SecretRef(secret.name(), secret.version(), secret.namespace()));
      }
    }
    refs.sort(Comparator.comparing(DesiredState.SecretRef::name));
    // The artifacts of a revision held back from the device, to download ahead of its release.
    Map<String, StageArtifacts.Stage> stages = new java.util.TreeMap<>();
    for (AppCatalog.App app : phased) {
      // Also an app the device has nothing of yet (Absent): it stages the first revision.
      if (staging.contains(app.name())
          && !(decisions.getOrDefault(app.name(), ReleaseGate.FOLLOW)
              instanceof ReleaseGate.Follow)) {
        stageArtifacts.of(catalog, app, device, facts).ifPresent(s -> stages.put(app.name(), s));
      }
    }
    return new Prepared(
        desired,
        refs,
        clusters.sectionFor(deviceId),
        found.get(),
        stages,
        downloads.sectionFor(tags),
        siteCaches.sectionFor(deviceId, tags));
  }

  /** What one recomputation reads: the apps and the secrets. */
  private record Sources(List<AppCatalog.App> apps, List<SecretTargets.Secret> secrets) {}

  /** What a device should run and hold. */
  private record Prepared(
      Map<String, Entry> apps,
      List<DesiredState.SecretRef> secrets,
      ClusterSpec cluster,
      DeviceRecord device,
      Map<String, StageArtifacts.Stage> stages,
      DesiredState.DownloadPolicy downloads,
      DesiredState.SiteCache siteCache) {}

  /** The device's new generation, and the nudge to send it if it changed. */
  private record Written(long generation, ControllerMessage.Nudge nudge) {}

  /**
   * Inside the caller's transaction: the signed document if what the device should run changed, or
   * the key it is to be signed with or the keys it is to announce; its bundles and its app rows.
   */
  private Written write(
      Handle h, String deviceId, Prepared prepared, Set<String> storedHere, SigningKeys.Ring ring) {
    Map<String, Entry> desired = prepared.apps();
    Map<String, AppRow> rows = appRows(h, deviceId);
    Map<String, String> previousBundles = new LinkedHashMap<>();
    rows.forEach(
        (name, row) -> {
          if (row.bundle() != null) {
            previousBundles.put(name, row.bundle());
          }
        });
    List<DesiredState.DesiredApp> list = new ArrayList<>();
    Optional<Current> current = current(h, deviceId);
    // What the device was told of each app's workload (runtime, artifacts), for apps it keeps.
    java.util.function.Supplier<Map<String, DesiredState.DesiredApp>> told =
        new java.util.function.Supplier<>() {
          private Map<String, DesiredState.DesiredApp> apps;

          @Override
          public Map<String, DesiredState.DesiredApp> get() {
            if (apps == null) {
              apps = new HashMap<>();
              current.ifPresent(
                  c -> decode(c.payload()).apps().forEach(a -> apps.put(a.name(), a)));
            }
            return apps;
          }
        };
    for (Entry e : desired.values()) {
      if (e.notPlaced() != null) {
        continue; // recorded with its reason, not sent
      }
      if (e.decision() instanceof ReleaseGate.Pin pin) {
        list.add(
            sameWorkload(
                new DesiredState.DesiredApp(
                    e.app().name(),
                    e.app().source(),
                    pin.revision(),
                    pin.bundle(),
                    bundleSize(h, pin.bundle()),
                    pin.commit(),
                    e.app().keepInQuarantine()),
                told,
                h));
        continue;
      }
      Optional<String> digest =
          e.rendered()
              .map(AppCatalog.Rendered::digest)
              .or(() -> Optional.ofNullable(previousBundles.get(e.app().name())));
      // A bundle the device was already told about, or that an earlier committed
      // recomputation stored, is stored already (bundles are never deleted).
      e.rendered()
          .filter(r -> !r.digest().equals(previousBundles.get(e.app().name())))
          .filter(r -> storedBundles.get(r.digest()).isEmpty())
          .ifPresent(r -> bundles.put(h, r.digest(), r.yaml(), r.runtime(), r.artifacts()));
      if (digest.isPresent()) {
        long size =
            e.rendered()
                .map(r -> (long) r.yaml().getBytes(StandardCharsets.UTF_8).length)
                .orElseGet(() -> bundleSize(h, digest.get()));
        // A device keeps the last bundle that rendered if the new one cannot be, and
        // what it had while a rollout holds it back.
        AppRow previous = rows.get(e.app().name());
        boolean keep = e.rendered().isEmpty() || keepsCommitRevision(e, previous);
        DesiredState.DesiredApp app =
            new DesiredState.DesiredApp(
                e.app().name(),
                e.app().source(),
                keep ? previous.revision() : e.app().revision(),
                digest.get(),
                size,
                keep ? previous.commit() : e.app().commit(),
                e.app().keepInQuarantine());
        list.add(
            e.rendered().isPresent()
                ? app.withWorkload(e.rendered().get().runtime(), e.rendered().get().artifacts())
                : sameWorkload(app, told, h));
      }
    }
    AgentRelease agent =
        agents.sectionFor(
            h,
            deviceId,
            prepared.device().facts(),
            prepared.device().tags(),
            () -> current.map(c -> decode(c.payload()).agent()).orElse(null));
    List<ArtifactRef> stage = StageArtifacts.union(prepared.stages());
    List<String> urls = controllerUrls.get();
    String fingerprint =
        withSections(
            fingerprint(list, prepared.secrets(), prepared.cluster(), agent),
            StageArtifacts.fingerprint(prepared.stages(), prepared.downloads()),
            prepared.siteCache(),
            urls);
    SigningKeys.Plan plan = ring.plan(trusted(h, deviceId, ring));
    long gen = current.map(Current::generation).orElse(0L);
    ControllerMessage.Nudge nudge = null;
    if (current.isEmpty()
        || !current.get().fingerprint().equals(fingerprint)
        || !current.get().matches(ring, plan)) {
      gen = next(deviceId, gen);
      SignedDesiredState doc =
          store(
              h,
              deviceId,
              gen,
              fingerprint,
              list,
              prepared.secrets(),
              prepared.cluster(),
              agent,
              stage,
              prepared.downloads(),
              prepared.siteCache(),
              urls,
              plan,
              ring);
      nudge = new ControllerMessage.Nudge(gen, doc, inline(desired.values(), previousBundles));
      StageArtifacts.record(h, deviceId, prepared.stages());
    }
    if (!recorded(rows, desired, list)) {
      recordApps(h, deviceId, desired, list, rows);
    }
    return new Written(gen, nudge);
  }

  /**
   * Whether a device keeps the revision it was told before although the app's revision is another:
   * a Git app it was given before revisions were content digests (its revision is that commit's
   * SHA) whose content is, for this device, byte for byte what it has. Renaming the revision would
   * make the device re-apply every object of the app to change one annotation, and report the app
   * as updated, on every device at once after an upgrade; so the old name stays until the content
   * changes. Only for apps that follow the catalog at once: a rollout judges devices by the
   * revision they report, so phased apps take the new name (through a rollout in which nothing else
   * changes).
   */
  private static boolean keepsCommitRevision(Entry e, AppRow previous) {
    return previous != null
        && !e.app().phased()
        && e.decision() instanceof ReleaseGate.Follow
        && ContentRevision.isCommitSha(previous.revision())
        && !ContentRevision.isCommitSha(e.app().revision())
        && e.rendered().get().digest().equals(previous.bundle());
  }

  /** After the transaction that wrote {@code w} committed. */
  private void committed(String deviceId, Prepared prepared, Written w) {
    Map<String, Entry> desired = prepared.apps();
    // These bundles are in the database now.
    for (Entry e : desired.values()) {
      e.rendered().ifPresent(r -> storedBundles.put(r.digest(), true));
    }
    if (w.nudge() != null) {
      nudger.accept(deviceId, w.nudge());
    }
  }

  /**
   * The bundles rendered now that the device was not told before, gzip and base64, as long as each
   * and all together stay small; a bundle left out is fetched by the device.
   */
  private Map<String, String> inline(
      java.util.Collection<Entry> entries, Map<String, String> previousBundles) {
    Map<String, String> out = new LinkedHashMap<>();
    int total = 0;
    for (Entry e : entries) {
      if (e.rendered().isEmpty()
          || e.rendered().get().digest().equals(previousBundles.get(e.app().name()))) {
        continue;
      }
      AppCatalog.Rendered r = e.rendered().get();
      String packed = inlineBundles.get(r.digest()).orElse(null);
      if (packed == null) {
        byte[] gz = Gzip.deflate(r.yaml().getBytes(StandardCharsets.UTF_8));
        packed =
            gz.length > ControllerMessage.Nudge.MAX_INLINE_BUNDLE_BYTES
                ? ""
                : Base64.getEncoder().encodeToString(gz);
        inlineBundles.put(r.digest(), packed);
      }
      if (packed.isEmpty()
          || total + packed.length() * 3 / 4 > ControllerMessage.Nudge.MAX_INLINE_TOTAL_BYTES) {
        continue;
      }
      total += packed.length() * 3 / 4;
      out.put(r.digest(), packed);
    }
    return out;
  }

  /**
   * The signed document for a device that holds {@code known}. A device that holds a generation
   * above ours (the controller's database was restored from an older backup) gets the same content
   * re-issued above its generation, so it never stays stuck on a stale document.
   *
   * <p>Only a device's own certificate can make this claim, and it can only push its own generation
   * up; the claim is still bounded: no generation above {@link DesiredState#MAX_GENERATION} is ever
   * signed, so nothing wraps around into a value the device would take for a replay.
   *
   * @throws ControllerException {@code GENERATION_OUT_OF_RANGE} if {@code known} is negative, or at
   *     or above the largest generation while above the device's own
   */
  public Optional<SignedDesiredState> newerThan(String deviceId, long known) {
    if (known < 0 || known > DesiredState.MAX_GENERATION) {
      throw outOfRange(deviceId, known);
    }
    Optional<Current> current = jdbi.withHandle(h -> current(h, deviceId));
    if (current.isEmpty()) {
      return Optional.empty();
    }
    Current c = current.get();
    if (c.generation() > known) {
      return Optional.of(new SignedDesiredState(c.payload(), c.signature(), c.keyId()));
    }
    if (c.generation() == known) {
      return Optional.empty();
    }
    if (known == DesiredState.MAX_GENERATION) {
      throw outOfRange(deviceId, known);
    }
    LOG.warn(
        "device {} holds generation {} but this controller's latest is {}: re-issuing its desired"
            + " state above it (was the database restored from a backup?)",
        deviceId,
        known,
        c.generation());
    SigningKeys.Ring ring = signingKeys.ring();
    return jdbi.inTransaction(
        h -> {
          DesiredState old = decode(c.payload());
          SigningKeys.Plan plan = ring.plan(trusted(h, deviceId, ring));
          return Optional.of(
              store(
                  h,
                  deviceId,
                  Math.addExact(known, 1),
                  c.fingerprint(),
                  old.apps(),
                  old.secrets(),
                  old.cluster(),
                  old.agent(),
                  old.stage(),
                  old.downloads(),
                  old.siteCache(),
                  old.controllerUrls(),
                  plan,
                  ring));
        });
  }

  /**
   * What a device that just connected and holds {@code known} should get on its new socket: the
   * newer signed document with the small bundles it references (the device skips those it has), so
   * a reconnect after an outage costs no HTTPS request. Empty if the device is up to date or the
   * claim cannot be served (it is then logged; the device keeps what it runs).
   */
  public Optional<ControllerMessage.Nudge> catchUp(String deviceId, long known) {
    Optional<SignedDesiredState> doc;
    try {
      doc = newerThan(deviceId, known);
    } catch (ControllerException e) {
      LOG.warn("device {}: no catch-up document: {}", deviceId, e.getMessage());
      return Optional.empty();
    }
    return doc.map(
        d -> {
          Map<String, String> inline = new LinkedHashMap<>();
          int total = 0;
          for (DesiredState.DesiredApp app : decode(d.payload()).apps()) {
            Optional<BundleStore.Encoded> gz = bundles.encoded(app.bundle(), true);
            if (gz.isEmpty()
                || gz.get().bytes().length > ControllerMessage.Nudge.MAX_INLINE_BUNDLE_BYTES
                || total + gz.get().bytes().length
                    > ControllerMessage.Nudge.MAX_INLINE_TOTAL_BYTES) {
              continue;
            }
            total += gz.get().bytes().length;
            inline.put(app.bundle(), Base64.getEncoder().encodeToString(gz.get().bytes()));
          }
          return new ControllerMessage.Nudge(decode(d.payload()).generation(), d, inline);
        });
  }

  private static ControllerException outOfRange(String deviceId, long known) {
    return new ControllerException(
        ErrorCode.GENERATION_OUT_OF_RANGE,
        "device "
            + deviceId
            + " claims to hold desired-state generation "
            + known
            + "; a controller issues generations 0 to "
            + DesiredState.MAX_GENERATION
            + " and none above this claim. Clear the desired state stored on the device (the 'desired' directory and"
            + " 'replay-floor.json' in the agent's state directory) and restart its agent");
  }

  // ---------------------------------------------------------------- signing keys

  /** Most key ids kept from one report: more than a rotation ever has in flight. */
  private static final int MAX_REPORTED_KEYS = 8;

  /**
   * The key ids last recorded per device: every app report carries them, and a fleet reconnecting
   * must not cost a database read per report when nothing changed.
   */
  private final Lru<String, String> recordedTrust = Lru.ofEntries(65_536);

  /**
   * The key ids a device trusts: as recorded; '*' is the key the controller had before keys could
   * be rotated. A device with no record has not been handed a key yet: it will get the current one.
   */
  private static Set<String> trusted(Handle h, String deviceId, SigningKeys.Ring ring) {
    return h.createQuery("SELECT key_ids FROM device_signing_keys WHERE device_id = :d")
        .bind("d", deviceId)
        .mapTo(String.class)
        .findOne()
        .map(ids -> ids(ids, ring))
        .orElseGet(() -> Set.of(ring.current().id()));
  }

  private static Set<String> ids(String joined, SigningKeys.Ring ring) {
    Set<String> out = new LinkedHashSet<>();
    for (String id : joined.split(",")) {
      if (id.equals("*")) {
        out.add(ring.preRotationKey());
      } else if (!id.isBlank()) {
        out.add(id);
      }
    }
    return out;
  }

  /**
   * Records the signing keys a device reports it trusts (from its app report). If that changes
   * which key signs its documents or which keys they announce, its desired state is recomputed
   * soon: this is how a device that learned the current key gets documents signed with it. Ids this
   * controller never had are left out; a report with none it knows changes nothing.
   */
  public void trusts(String deviceId, List<String> keyIds) {
    if (keyIds == null || keyIds.isEmpty()) {
      return; // an agent that knows one key only
    }
    SigningKeys.Ring ring = signingKeys.ring();
    Set<String> known = new java.util.TreeSet<>();
    for (String id : keyIds.subList(0, Math.min(keyIds.size(), MAX_REPORTED_KEYS))) {
      if (id != null && ring.byId(id).isPresent()) {
        known.add(id);
      }
    }
    if (!known.isEmpty()) {
      record(deviceId, String.join(",", known));
    }
  }

  /**
   * The signing key a device that holds none is given, at enrollment or when it asks: the current
   * key, recorded as the one the device trusts.
   */
  public SigningKeys.Key handOut(String deviceId) {
    SigningKeys.Key current = signingKeys.ring().current();
    record(deviceId, current.id());
    return current;
  }

  private void record(String deviceId, String keyIds) {
    if (recordedTrust.get(deviceId).filter(keyIds::equals).isPresent()) {
      return;
    }
    boolean changed =
        jdbi.inTransaction(
            h -> {
              Optional<String> before =
                  h.createQuery("SELECT key_ids FROM device_signing_keys WHERE device_id = :d")
                      .bind("d", deviceId)
                      .mapTo(String.class)
                      .findOne();
              if (before.isPresent() && before.get().equals(keyIds)) {
                return false;
              }
              h.createUpdate(
                      "INSERT INTO device_signing_keys (device_id, key_ids, updated_at) VALUES (:d,"
                          + " :k, :now) ON CONFLICT (device_id) DO UPDATE SET key_ids ="
                          + " excluded.key_ids, updated_at = excluded.updated_at")
                  .bind("d", deviceId)
                  .bind("k", keyIds)
                  .bind("now", clock.millis())
                  .execute();
              return true;
            });
    recordedTrust.put(deviceId, keyIds);
    if (changed) {
      request(deviceId);
    }
  }

  /**
   * How active devices stand towards one signing key.
   *
   * @param signs devices whose stored document this key signed
   * @param trustedBy devices that trust it
   * @param dependOn devices whose documents must be signed with it: they trust it and not the
   *     current key (at most {@code sample} of their ids in {@code examples})
   */
  public record KeyUse(int signs, int trustedBy, int dependOn, List<String> examples) {}

  /** Per key id, how active devices stand towards it; keys no device uses are absent. */
  public Map<String, KeyUse> keyUse(int sample) {
    SigningKeys.Ring ring = signingKeys.ring();
    Map<String, int[]> counts = new LinkedHashMap<>();
    Map<String, List<String>> examples = new LinkedHashMap<>();
    jdbi.useHandle(
        h -> {
          Map<String, String> trusted = new HashMap<>();
          h.createQuery("SELECT device_id, key_ids FROM device_signing_keys")
              .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
              .forEach(r -> trusted.put(r[0], r[1]));
          // A device with a desired state; the key that signed it, null before key rotation.
          Map<String, String> signedBy = new HashMap<>();
          h.createQuery("SELECT device_id, key_id FROM device_desired")
              .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
              .forEach(r -> signedBy.put(r[0], r[1]));
          for (String id : devices.activeIds(h)) {
            String keyIds = trusted.get(id);
            Set<String> trusts = keyIds == null ? Set.of(ring.current().id()) : ids(keyIds, ring);
            if (signedBy.containsKey(id)) {
              String signer = signedBy.get(id) == null ? ring.preRotationKey() : signedBy.get(id);
              counts.computeIfAbsent(signer, k -> new int[3])[0]++;
            }
            trusts.forEach(k -> counts.computeIfAbsent(k, x -> new int[3])[1]++);
            String planned = ring.plan(trusts).signer().id();
            if (!planned.equals(ring.current().id())) {
              counts.computeIfAbsent(planned, x -> new int[3])[2]++;
              List<String> e = examples.computeIfAbsent(planned, x -> new ArrayList<>());
              if (e.size() < sample) {
                e.add(id);
              }
            }
          }
        });
    Map<String, KeyUse> out = new LinkedHashMap<>();
    counts.forEach(
        (id, c) -> out.put(id, new KeyUse(c[0], c[1], c[2], examples.getOrDefault(id, List.of()))));
    return out;
  }

  public long generation(String deviceId) {
    return jdbi.withHandle(h -> current(h, deviceId).map(Current::generation).orElse(0L));
  }

  /** Whether the device's current desired state references this bundle. */
  public boolean references(String deviceId, String digest) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                        "SELECT COUNT(*) FROM device_apps WHERE device_id = :d AND desired_bundle = :b")
                    .bind("d", deviceId)
                    .bind("b", digest)
                    .mapTo(Integer.class)
                    .one()
                > 0);
  }

  /** The generation after {@code gen}; never above {@link DesiredState#MAX_GENERATION}. */
  private static long next(String deviceId, long gen) {
    if (gen >= DesiredState.MAX_GENERATION) {
      throw new ControllerException(
          ErrorCode.GENERATION_OUT_OF_RANGE,
          "device "
              + deviceId
              + " holds the largest generation a controller issues ("
              + DesiredState.MAX_GENERATION
              + "); it gets no newer desired state until the state stored on the device is"
              + " cleared and its agent restarted");
    }
    return Math.addExact(gen, 1);
  }

  private SignedDesiredState store(
      Handle h,
      String deviceId,
      long gen,
      String fingerprint,
      List<DesiredState.DesiredApp> list,
      List<DesiredState.SecretRef> secretRefs,
      ClusterSpec cluster,
      AgentRelease agent,
      List<ArtifactRef> stage,
      DesiredState.DownloadPolicy downloadPolicy,
      DesiredState.SiteCache siteCache,
      List<String> urls,
      SigningKeys.Plan plan,
      SigningKeys.Ring ring) {
    List<DesiredState.SigningKey> announced = new ArrayList<>();
    for (SigningKeys.Key k : plan.announced()) {
      announced.add(new DesiredState.SigningKey(k.id(), k.publicKeyPem()));
    }
    DesiredState doc =
        new DesiredState(
                deviceId, gen, clock.instant(), list, announced, secretRefs, cluster, agent)
            .withDownloads(stage, downloadPolicy)
            .withSiteCache(siteCache)
            .withControllerUrls(urls);
    byte[] payload = Json.writeBytes(doc);
    String keyId = plan.signer().id();
    SignedDesiredState signed =
        new SignedDesiredState(
            Base64.getEncoder().encodeToString(payload),
            Signatures.sign(ring.privateKey(keyId), payload),
            keyId);
    h.createUpdate(
            "INSERT INTO device_desired (device_id, generation, fingerprint, payload, signature,"
                + " key_id, announced, updated_at) VALUES (:d, :g, :f, :p, :s, :k, :a, :now) ON"
                + " CONFLICT (device_id) DO UPDATE SET generation = excluded.generation,"
                + " fingerprint = excluded.fingerprint, payload = excluded.payload, signature ="
                + " excluded.signature, key_id = excluded.key_id, announced = excluded.announced,"
                + " updated_at = excluded.updated_at")
        .bind("d", deviceId)
        .bind("g", gen)
        .bind("f", fingerprint)
        .bind("p", signed.payload())
        .bind("s", signed.signature())
        .bind("k", keyId)
        .bind("a", plan.announcedIds())
        .bind("now", clock.millis())
        .execute();
    return signed;
  }

  private void recordApps(
      Handle h,
      String deviceId,
      Map<String, Entry> desired,
      List<DesiredState.DesiredApp> list,
      Map<String, AppRow> rows) {
    long now = clock.millis();
    for (DesiredState.DesiredApp a : list) {
      String err = desired.get(a.name()).renderError();
      if (new AppRow(a.source(), a.revision(), a.bundle(), err, a.commit(), null)
          .equals(rows.get(a.name()))) {
        continue; // this app's row says so already
      }
      h.createUpdate(
              "INSERT INTO device_apps (device_id, app, source, desired_revision, desired_bundle,"
                  + " desired_since, render_error, desired_commit, not_placed) VALUES (:d, :app, :src,"
                  + " :rev, :bundle, :now, :err, :commit, NULL) ON CONFLICT (device_id, app) DO"
                  + " UPDATE SET source = excluded.source, desired_bundle = excluded.desired_bundle,"
                  + " render_error = excluded.render_error, desired_commit ="
                  + " excluded.desired_commit, not_placed = NULL, desired_since = CASE WHEN"
                  + " device_apps.desired_revision = excluded.desired_revision THEN"
                  + " device_apps.desired_since ELSE excluded.desired_since END, desired_revision"
                  + " = excluded.desired_revision")
          .bind("d", deviceId)
          .bind("app", a.name())
          .bind("src", a.source())
          .bind("rev", a.revision())
          .bind("bundle", a.bundle())
          .bind("now", now)
          .bind("err", desired.get(a.name()).renderError())
          .bind("commit", a.commit())
          .execute();
    }
    List<String> names = new ArrayList<>();
    list.forEach(a -> names.add(a.name()));
    for (Entry e : desired.values()) {
      if ((e.renderError() != null || e.notPlaced() != null) && !names.contains(e.app().name())) {
        // Never rendered for this device: visible as a failure, nothing to run. Or not placed on
        // it: visible with the reason, nothing to run either.
        h.createUpdate(
                "INSERT INTO device_apps (device_id, app, source, desired_revision, desired_since,"
                    + " render_error, desired_commit, not_placed) VALUES (:d, :app, :src, :rev,"
                    + " :now, :err, :commit, :np) ON CONFLICT (device_id, app) DO UPDATE SET"
                    + " render_error = excluded.render_error, desired_revision ="
                    + " excluded.desired_revision, desired_commit = excluded.desired_commit,"
                    + " not_placed = excluded.not_placed, desired_bundle = NULL")
            .bind("d", deviceId)
            .bind("app", e.app().name())
            .bind("src", e.app().source())
            .bind("rev", e.app().revision())
            .bind("now", now)
            .bind("err", e.renderError())
            .bind("commit", e.app().commit())
            .bind("np", e.notPlaced())
            .execute();
        names.add(e.app().name());
      }
    }
    if (names.containsAll(rows.keySet())) {
      return; // no app to remove
    }
    if (names.isEmpty()) {
      h.createUpdate("DELETE FROM device_apps WHERE device_id = :d").bind("d", deviceId).execute();
    } else {
      h.createUpdate("DELETE FROM device_apps WHERE device_id = :d AND app NOT IN (<names>)")
          .bind("d", deviceId)
          .bindList("names", names)
          .execute();
    }
  }

  private record AppRow(
      String source,
      String revision,
      String bundle,
      String renderError,
      String commit,
      String notPlaced) {}

  private static Map<String, AppRow> appRows(Handle h, String deviceId) {
    Map<String, AppRow> out = new LinkedHashMap<>();
    h.createQuery(
            "SELECT app, source, desired_revision, desired_bundle, render_error, desired_commit,"
                + " not_placed FROM device_apps WHERE device_id = :d")
        .bind("d", deviceId)
        .map(
            (rs, ctx) ->
                Map.entry(
                    rs.getString(1),
                    new AppRow(
                        rs.getString(2),
                        rs.getString(3),
                        rs.getString(4),
                        rs.getString(5),
                        rs.getString(6),
                        rs.getString(7))))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /**
   * Whether the device's app rows already say what {@link #recordApps} would write: then a
   * recomputation that changed nothing (the periodic one, a reconnect storm) writes nothing.
   */
  private static boolean recorded(
      Map<String, AppRow> rows, Map<String, Entry> desired, List<DesiredState.DesiredApp> list) {
    Set<String> names = new java.util.HashSet<>();
    for (DesiredState.DesiredApp a : list) {
      names.add(a.name());
      AppRow row = rows.get(a.name());
      if (row == null
          || !new AppRow(
                  a.source(),
                  a.revision(),
                  a.bundle(),
                  desired.get(a.name()).renderError(),
                  a.commit(),
                  null)
              .equals(row)) {
        return false;
      }
    }
    for (Entry e : desired.values()) {
      if ((e.renderError() != null || e.notPlaced() != null) && names.add(e.app().name())) {
        AppRow row = rows.get(e.app().name());
        if (row == null
            || !java.util.Objects.equals(e.renderError(), row.renderError())
            || !java.util.Objects.equals(e.notPlaced(), row.notPlaced())
            || row.bundle() != null
            || !e.app().revision().equals(row.revision())
            || !java.util.Objects.equals(e.app().commit(), row.commit())) {
          return false;
        }
      }
    }
    return names.equals(rows.keySet());
  }

  /**
   * {@code app} with the runtime and artifacts of its bundle: those the device was told of before
   * for the same bundle, else those stored with the bundle when it was rendered. So what a device
   * keeps or returns to (a rollback to an older revision) is the workload that bundle had (it names
   * the same blobs).
   */
  private DesiredState.DesiredApp sameWorkload(
      DesiredState.DesiredApp app,
      java.util.function.Supplier<Map<String, DesiredState.DesiredApp>> told,
      Handle h) {
    DesiredState.DesiredApp before = told.get().get(app.name());
    if (before != null && before.bundle().equals(app.bundle())) {
      return app.withWorkload(before.runtime(), before.artifacts());
    }
    return bundles
        .workload(h, app.bundle())
        .map(w -> app.withWorkload(w.runtime(), w.artifacts()))
        .orElse(app);
  }

  private long bundleSize(Handle h, String digest) {
    return h.createQuery("SELECT size FROM bundles WHERE digest = :d")
        .bind("d", digest)
        .mapTo(Long.class)
        .findOne()
        .orElse(0L);
  }

  private static Optional<Current> current(Handle h, String deviceId) {
    return h.createQuery(
            "SELECT generation, fingerprint, payload, signature, key_id, announced FROM"
                + " device_desired WHERE device_id = :d")
        .bind("d", deviceId)
        .map(
            (rs, ctx) ->
                new Current(
                    rs.getLong(1),
                    rs.getString(2),
                    rs.getString(3),
                    rs.getString(4),
                    rs.getString(5),
                    rs.getString(6)))
        .findOne();
  }

  private static DesiredState decode(String payload) {
    try {
      return Json.mapper().readValue(Base64.getDecoder().decode(payload), DesiredState.class);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("stored desired state is unreadable", e);
    }
  }

  private static String fingerprint(
      List<DesiredState.DesiredApp> apps,
      List<DesiredState.SecretRef> secretRefs,
      ClusterSpec cluster,
      AgentRelease agent) {
    StringBuilder sb = new StringBuilder();
    // Only where there is one, so that documents from before the section keep their fingerprint.
    if (agent != null) {
      sb.append("agent ")
          .append(agent.version())
          .append(' ')
          .append(agent.arch())
          .append(' ')
          .append(agent.digest())
          .append('\n');
    }
    apps.stream()
        .sorted(Comparator.comparing(DesiredState.DesiredApp::name))
        .forEach(
            a ->
                sb.append(a.name())
                    .append('\n')
                    .append(a.source())
                    .append('\n')
                    .append(a.revision())
                    .append('\n')
                    .append(a.bundle())
                    .append('\n')
                    // Provenance only where there is one, so that documents from before it was
                    // carried keep their fingerprint.
                    .append(a.commit() == null ? "" : "commit " + a.commit() + "\n")
                    .append(a.keepInQuarantine() ? "keep in quarantine\n" : "")
                    // The workload only where there is one, as for the commit.
                    .append(a.runtime() == null ? "" : "runtime " + a.runtime() + "\n")
                    .append(
                        a.artifacts().isEmpty()
                            ? ""
                            : "artifacts " + StageArtifacts.digests(a.artifacts()) + "\n"));
    // Secrets only where there are some, so that documents without any keep their fingerprint.
    for (DesiredState.SecretRef r : secretRefs) {
      sb.append("secret ")
          .append(r.name())
          .append(' ')
          .append(r.namespace())
          .append(' ')
          .append(r.version())
          .append('\n');
    }
    // The cluster section only where there is one, so that other documents keep their fingerprint.
    if (cluster != null) {
      sb.append("cluster ").append(Json.write(cluster)).append('\n');
    }
    return Fingerprints.sha256(sb.toString().getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    worker.shutdownNow();
  }

  /**
   * @param notPlaced why the device cannot run the app ({@link Placement}), or null when it can
   */
  private record Entry(
      AppCatalog.App app,
      Optional<AppCatalog.Rendered> rendered,
      String renderError,
      ReleaseGate.Decision decision,
      String notPlaced) {
    Entry(
        AppCatalog.App app,
        Optional<AppCatalog.Rendered> rendered,
        String renderError,
        ReleaseGate.Decision decision) {
      this(app, rendered, renderError, decision, null);
    }
  }

  /**
   * The stored document. {@code keyId} and {@code announced} are null for documents signed before
   * keys could be rotated: by the key of that time, announcing none.
   */
  private record Current(
      long generation,
      String fingerprint,
      String payload,
      String signature,
      String keyId,
      String announced) {

    /** Whether this document was signed and announces keys as {@code plan} says. */
    boolean matches(SigningKeys.Ring ring, SigningKeys.Plan plan) {
      return plan.signer().id().equals(keyId == null ? ring.preRotationKey() : keyId)
          && plan.announcedIds().equals(announced == null ? "" : announced);
    }
  }
}
