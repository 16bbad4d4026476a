package io.edgefleet.controller.sitecache;

import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.protocol.DesiredState;
import java.net.URI;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which device of each site is its cache, and where it serves. A device names its site with the tag
 * {@code site=<name>} ({@link DesiredState.SiteCache#SITE_TAG}); the active device of the site
 * tagged {@code edgefleet.io/site-cache=true} ({@link DesiredState.SiteCache#CACHE_TAG}) is its
 * cache (when several are, the first by device id; the others serve nothing). The cache reports the
 * URL it serves at in its artifact reports; the URL is kept in {@code site_cache_urls}, and the
 * site's devices are recomputed when it changes, so each device's desired state names its cache.
 *
 * <p>The index of sites is rebuilt from the devices' tags only when they were written since ({@link
 * DeviceStore#lightGeneration()}). Thread-safe; {@link #reported} never blocks.
 */
public final class SiteCaches implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SiteCaches.class);

  /** The longest URL kept. */
  static final int MAX_URL = 300;

  /** A site: its cache (the first tagged device by id) and its devices. */
  record Site(String name, String cache, List<String> devices) {}

  /** The sites, by name, as the devices' tags said at {@code generation}. */
  private record Index(long generation, Map<String, Site> sites) {}

  private final Jdbi jdbi;
  private final Clock clock;
  private final DeviceStore devices;
  private final Predicate<String> quarantined;
  private final Consumer<String> recompute;
  private final Runnable recomputeAll;
  private final Map<String, String> urls = new ConcurrentHashMap<>();
  private final ExecutorService writer;
  private final AtomicBoolean reviewQueued = new AtomicBoolean();

  private volatile Index index = new Index(-1, Map.of());

  // Guarded by this: the sites when devices last changed.
  private Map<String, Site> notified;

  /**
   * @param quarantined whether a device is in quarantine: its site's cache does not serve it
   * @param recompute asks for one device's desired state to be computed again
   * @param recomputeAll asks for every device's
   */
  public SiteCaches(
      Jdbi jdbi,
      Clock clock,
      DeviceStore devices,
      Predicate<String> quarantined,
      Consumer<String> recompute,
      Runnable recomputeAll) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.devices = devices;
    this.quarantined = quarantined;
    this.recompute = recompute;
    this.recomputeAll = recomputeAll;
    this.writer =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "site-caches");
              t.setDaemon(true);
              return t;
            });
    jdbi.useHandle(
        h ->
            h.createQuery("SELECT device_id, url FROM site_cache_urls")
                .map((rs, ctx) -> Map.entry(rs.getString(1), rs.getString(2)))
                .forEach(e -> urls.put(e.getKey(), e.getValue())));
    this.notified = sites();
  }

  /**
   * The site-cache section of a device's desired state: its site's cache, or null when its site has
   * none or it names no site. The cache's own section says to serve, and whom: the site's other
   * active devices that are not in quarantine (a revoked, retired or quarantined device, or one of
   * another site, is refused at the handshake).
   */
  public DesiredState.SiteCache sectionFor(String deviceId, Map<String, String> tags) {
    String site = tags.get(DesiredState.SiteCache.SITE_TAG);
    if (site == null || site.isBlank()) {
      return null;
    }
    Site s = sites().get(site);
    if (s == null || s.cache() == null) {
      return null;
    }
    boolean self = s.cache().equals(deviceId);
    List<String> neighbours =
        self
            ? s.devices().stream().filter(d -> !d.equals(deviceId) && !quarantined.test(d)).toList()
            : null;
    return new DesiredState.SiteCache(site, s.cache(), urls.get(s.cache()), self, neighbours);
  }

  /**
   * A device's site cache as shown.
   *
   * @param site the device's site (tag {@code site}); null when it names none
   * @param cache the site's cache device; null when the site has none
   * @param cacheName that device's name
   * @param url where the cache serves; null until it reported an address
   * @param serves whether the device is the cache itself
   */
  public record View(
      String deviceId, String site, String cache, String cacheName, String url, boolean serves) {}

  /** The site cache of {@code deviceId}; empty when there is no such device. */
  public Optional<View> view(String deviceId) {
    return jdbi.withHandle(
        h ->
            devices
                .byId(h, deviceId)
                .map(
                    d -> {
                      String site = d.tags().get(DesiredState.SiteCache.SITE_TAG);
                      DesiredState.SiteCache c = sectionFor(deviceId, d.tags());
                      if (c == null) {
                        return new View(deviceId, site, null, null, null, false);
                      }
                      String name =
                          devices.names(h, List.of(c.deviceId())).getOrDefault(c.deviceId(), null);
                      return new View(deviceId, site, c.deviceId(), name, c.url(), c.serve());
                    }));
  }

  /**
   * Takes the URL a device reports it serves at (null: none); called on the socket's thread. A
   * changed URL is stored, then the devices of the device's site are recomputed.
   *
   * @throws IllegalArgumentException when the URL is no {@code https://host:port}
   */
  public void reported(String deviceId, String url) {
    if (url != null) {
      URI u;
      try {
        u = URI.create(url);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("the site cache URL is malformed");
      }
      if (url.length() > MAX_URL
          || !"https".equals(u.getScheme())
          || u.getHost() == null
          || u.getPort() <= 0
          || (u.getPath() != null && !u.getPath().isEmpty())) {
        throw new IllegalArgumentException("the site cache URL must be https://host:port");
      }
    }
    if (Objects.equals(urls.get(deviceId), url)) {
      return;
    }
    if (url == null) {
      urls.remove(deviceId);
    } else {
      urls.put(deviceId, url);
    }
    try {
      writer.execute(() -> store(deviceId, url));
    } catch (RejectedExecutionException e) {
      // Closing: the device reports again after the next start.
    }
  }

  private void store(String deviceId, String url) {
    try {
      jdbi.useTransaction(
          h -> {
            if (url == null) {
              h.createUpdate("DELETE FROM site_cache_urls WHERE device_id = :d")
                  .bind("d", deviceId)
                  .execute();
            } else {
              h.createUpdate(
                      "INSERT INTO site_cache_urls (device_id, url, reported_at) VALUES (:d, :u,"
                          + " :at) ON CONFLICT (device_id) DO UPDATE SET url = excluded.url,"
                          + " reported_at = excluded.reported_at")
                  .bind("d", deviceId)
                  .bind("u", url)
                  .bind("at", clock.millis())
                  .execute();
            }
          });
    } catch (RuntimeException e) {
      LOG.warn("the site cache URL of {} could not be stored: {}", deviceId, e.toString());
    }
    for (Site s : sites().values()) {
      if (deviceId.equals(s.cache())) {
        s.devices().forEach(recompute);
      }
    }
  }

  /**
   * A device's tags or lifecycle changed: the sites are reviewed at once on this object's own
   * thread (see {@link #review()}), and the changes made while a review is queued are covered by
   * it. Returns at once: a review reads every active device's tags, which the request enrolling or
   * changing a device must not pay, nor an enrollment storm once per device.
   */
  public void devicesChanged() {
    if (reviewQueued.compareAndSet(false, true)) {
      try {
        writer.execute(
            () -> {
              reviewQueued.set(false);
              try {
                review();
              } catch (RuntimeException e) {
                LOG.warn("the sites could not be reviewed: {}", e.toString());
              }
            });
      } catch (RejectedExecutionException e) {
        // Closing: nothing is served any more.
        reviewQueued.set(false);
      }
    }
  }

  /**
   * Reviews the sites now: when the devices' tags or lifecycles changed which device is a site's
   * cache, every device is recomputed; when they only changed who belongs to a site, the site's
   * cache is (it is told whom to serve).
   */
  void review() {
    Map<String, Site> now = sites();
    Map<String, Site> before;
    synchronized (this) {
      before = notified;
      notified = now;
    }
    if (!caches(now).equals(caches(before))) {
      recomputeAll.run();
      return;
    }
    now.forEach(
        (name, site) -> {
          Site was = before.get(name);
          if (site.cache() != null && (was == null || !was.devices().equals(site.devices()))) {
            recompute.accept(site.cache());
          }
        });
  }

  /**
   * A device entered or left quarantine: its site's cache is recomputed, to stop or resume serving
   * it.
   */
  public void memberChanged(String deviceId) {
    for (Site s : sites().values()) {
      if (s.cache() != null && !s.cache().equals(deviceId) && s.devices().contains(deviceId)) {
        recompute.accept(s.cache());
      }
    }
  }

  private static Map<String, String> caches(Map<String, Site> sites) {
    Map<String, String> out = new TreeMap<>();
    sites.forEach(
        (name, s) -> {
          if (s.cache() != null) {
            out.put(name, s.cache());
          }
        });
    return out;
  }

  /** The sites as the devices' tags say now. */
  Map<String, Site> sites() {
    Index i = index;
    long generation = DeviceStore.lightGeneration();
    if (i.generation() == generation) {
      return i.sites();
    }
    Map<String, List<String>> members = new TreeMap<>();
    Map<String, String> caches = new TreeMap<>();
    jdbi.useHandle(
        h -> {
          for (Map.Entry<String, Map<String, String>> d : devices.activeTags(h)) {
            String site = d.getValue().get(DesiredState.SiteCache.SITE_TAG);
            if (site == null || site.isBlank()) {
              continue;
            }
            members.computeIfAbsent(site, s -> new ArrayList<>()).add(d.getKey());
            if ("true".equals(d.getValue().get(DesiredState.SiteCache.CACHE_TAG))) {
              // In id order: the first tagged device of the site is its cache.
              caches.putIfAbsent(site, d.getKey());
            }
          }
        });
    Map<String, Site> sites = new TreeMap<>();
    members.forEach((s, ids) -> sites.put(s, new Site(s, caches.get(s), List.copyOf(ids))));
    Map<String, Site> built = Map.copyOf(sites);
    index = new Index(generation, built);
    return built;
  }

  @Override
  public void close() {
    writer.shutdown();
  }
}
