package io.edgefleet.agent.artifacts;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.runtime.Blobs;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeps the {@link BlobCache} holding what the desired state in effect names: the artifacts of its
 * apps first (in app order), then its {@code stage} list, each blob once however many apps share
 * it, one download at a time through an {@link ArtifactSource}, under the document's {@link
 * DesiredState.DownloadPolicy} (daily budget, windows). Blobs no longer named are deleted after
 * {@link Options#grace}, never while a process has them open.
 *
 * <p>Reports {@link AgentMessage.ArtifactReport} after each (re)connect, when what is held, fetched
 * or waited for changes, and at most every {@link Options#reportEvery} while bytes arrive. When the
 * last artifact of an app arrives, a reconcile pass is asked for, so the app starts at once. A
 * chunk or blob that does not match its digest is an event ({@code artifact-mismatch}) and is
 * fetched again after a pause.
 *
 * <p>All work runs on the feature's own thread; the connection and the reconcile loop never wait
 * for a download. Thread-safe.
 */
public final class ArtifactsFeature implements AgentFeature {

  /**
   * How the feature paces itself.
   *
   * @param tick how often it looks again without being asked (windows opening, a new day's budget,
   *     blobs whose grace ended)
   * @param reportEvery the shortest time between two reports that only show progress
   * @param grace how long a blob no longer named stays on disk
   * @param retryMin the first pause after a failed attempt; it doubles with each failure
   * @param retryMax the longest pause after failures
   */
  public record Options(
      Duration tick, Duration reportEvery, Duration grace, Duration retryMin, Duration retryMax) {
    public Options {
      for (Duration d : List.of(tick, reportEvery, retryMin, retryMax)) {
        if (d.isNegative() || d.isZero()) {
          throw new IllegalArgumentException("the artifact feature's periods must be positive");
        }
      }
      if (grace.isNegative()) {
        throw new IllegalArgumentException("the grace period must not be negative");
      }
      if (retryMax.compareTo(retryMin) < 0) {
        throw new IllegalArgumentException("retryMax must not be shorter than retryMin");
      }
    }

    /** Looks every 10 s, reports progress every 3 s, keeps unnamed blobs an hour. */
    public static Options defaults() {
      return new Options(
          Duration.ofSeconds(10),
          Duration.ofSeconds(3),
          Duration.ofHours(1),
          Duration.ofSeconds(2),
          Duration.ofMinutes(5));
    }

    public Options withTick(Duration d) {
      return new Options(d, reportEvery, grace, retryMin, retryMax);
    }

    public Options withReportEvery(Duration d) {
      return new Options(tick, d, grace, retryMin, retryMax);
    }

    public Options withGrace(Duration d) {
      return new Options(tick, reportEvery, d, retryMin, retryMax);
    }

    public Options withRetry(Duration min, Duration max) {
      return new Options(tick, reportEvery, grace, min, max);
    }
  }

  /** Where the feature's events go. */
  @FunctionalInterface
  public interface Sink {
    void event(String kind, String severity, String app, String message);
  }

  /**
   * Counters since start.
   *
   * @param fetched blobs downloaded and verified
   * @param received bytes received from the source, refetched ones included
   * @param mismatches chunks (or whole blobs) whose bytes did not match their digest and were
   *     fetched again
   */
  public record Stats(long fetched, long received, long mismatches) {}

  /** What one pass found: the report's substance, read by the progress reports in between. */
  private record Plan(
      List<ArtifactRef> wanted,
      List<ArtifactRef> own,
      Set<String> held,
      Map<String, Long> verified,
      String waiting) {}

  /** A pause after a failed attempt, until {@code at} on the feature's clock. */
  private record Retry(java.time.Instant at, Duration delay, String why) {}

  private final BlobCache cache;
  private final Options options;
  private final ScheduledExecutorService timer;
  private final Clock clock;
  private final PrintStream out;
  private final Sink sink;
  private final Runnable reconcile;
  private final ExecutorService worker;
  private final Downloader downloader;
  private final ArtifactSource downloaderSource;
  private final AtomicLong fetched = new AtomicLong();
  private final AtomicLong mismatches = new AtomicLong();

  private volatile DesiredState wanted;
  private volatile Plan plan;

  // Guarded by this.
  private Channel channel;
  private AgentMessage.ArtifactReport last;
  private AgentMessage.ArtifactReport sent;
  private long sentAt;
  private boolean queued;
  private boolean closed;
  private ScheduledFuture<?> periodic;
  private ScheduledFuture<?> retryLater;

  /** Blobs neighbours asked this site cache for, by digest: each fetched once however many ask. */
  private final Map<String, Pull> pulls = new java.util.concurrent.ConcurrentHashMap<>();

  private volatile String serving;

  // Worker only.
  private final Map<String, Retry> retries = new HashMap<>();
  private final Set<String> refused = new HashSet<>();

  /**
   * @param cache where blobs go; also the {@link Blobs} the workload runtimes read
   * @param source where blobs come from
   * @param reconcile asks the agent for a reconcile pass (an app's artifacts all arrived)
   */
  public ArtifactsFeature(
      BlobCache cache,
      ArtifactSource source,
      Options options,
      ScheduledExecutorService timer,
      Clock clock,
      PrintStream out,
      Sink sink,
      Runnable reconcile) {
    this.cache = cache;
    this.options = options;
    this.timer = timer;
    this.clock = clock;
    this.out = out;
    this.sink = sink;
    this.reconcile = reconcile;
    this.worker =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "artifacts");
              t.setDaemon(true);
              return t;
            });
    this.downloaderSource = source;
    this.downloader =
        new Downloader(
            cache,
            source,
            new ByteBudget(cache.root().resolve("budget"), clock),
            clock,
            (digest, size, verified) -> report(false));
  }

  /**
   * The feature for {@code agent}: blobs from the controller over the agent's connection, events
   * through the agent, reconcile passes asked of it.
   */
  public static ArtifactsFeature forAgent(
      Agent agent,
      BlobCache cache,
      Options options,
      ScheduledExecutorService timer,
      Clock clock,
      PrintStream out) {
    return new ArtifactsFeature(
        cache,
        ArtifactSource.controller(agent.controllerAccess()),
        options,
        timer,
        clock,
        out,
        agent::event,
        agent::reconcileSoon);
  }

  /**
   * A blob a neighbour asked for ({@link #pull}): its size once the controller told it, when it was
   * last asked for (it is kept for {@link Options#grace} after that), and the outcome the askers
   * wait for.
   */
  private static final class Pull {
    final CompletableFuture<Void> done = new CompletableFuture<>();
    volatile ArtifactRef ref;
    volatile java.time.Instant asked;

    Pull(java.time.Instant asked) {
      this.asked = asked;
    }
  }

  /** The most blobs neighbours may have asked for and not yet received at one time. */
  static final int MAX_PULLS = 32;

  /**
   * Fetches {@code digest} for a neighbour (this device is its site's cache), through the same
   * source, budget and windows as the device's own blobs, after them; however many ask at the same
   * time, the blob is fetched once. It stays on the device for {@link Options#grace} after the last
   * ask. Thread-safe; returns at once.
   *
   * @return completes when the blob is held, verified; fails with the reason it cannot be fetched
   *     (the source does not know it, too many blobs asked for at once)
   */
  public CompletableFuture<Void> pull(String digest) {
    if (!BlobCache.wellFormed(digest)) {
      return CompletableFuture.failedFuture(
          new IllegalArgumentException(digest + " is no sha256:<64 hex> digest"));
    }
    java.time.Instant now = clock.instant();
    Pull existing = pulls.get(digest);
    if (existing == null
        && pulls.values().stream().filter(p -> !p.done.isDone()).count() >= MAX_PULLS) {
      return CompletableFuture.failedFuture(
          new IllegalStateException(
              "the site cache is fetching " + MAX_PULLS + " blobs already; try again later"));
    }
    Pull p = pulls.computeIfAbsent(digest, d -> new Pull(now));
    p.asked = now;
    if (!p.done.isDone()) {
      request();
    }
    return p.done;
  }

  /** Bytes of a blob asked for by neighbours verified so far on this device, if it is fetched. */
  public Optional<Long> pulling(String digest) {
    Pull p = pulls.get(digest);
    if (p == null || p.done.isDone()) {
      return Optional.empty();
    }
    return Optional.of(downloader.verified(digest).orElse(Math.max(0, cache.verified(digest))));
  }

  /**
   * Sets the URL this device serves its site's blobs at (null: none), for the reports: the
   * controller tells the site's other devices.
   */
  public void serving(String url) {
    if (!Objects.equals(serving, url)) {
      serving = url;
      report(false);
    }
  }

  /**
   * The feature for {@code agent} with blobs from {@code source} (e.g. the site cache first, then
   * the controller), events through the agent, reconcile passes asked of it.
   */
  public static ArtifactsFeature forAgent(
      Agent agent,
      BlobCache cache,
      ArtifactSource source,
      Options options,
      ScheduledExecutorService timer,
      Clock clock,
      PrintStream out) {
    return new ArtifactsFeature(
        cache, source, options, timer, clock, out, agent::event, agent::reconcileSoon);
  }

  /** The blobs this feature keeps, for the workload runtimes. */
  public Blobs blobs() {
    return cache;
  }

  public Stats stats() {
    return new Stats(fetched.get(), downloader.received(), mismatches.get());
  }

  /** The last report built (sent or not); empty before the first pass. */
  public synchronized Optional<AgentMessage.ArtifactReport> status() {
    return Optional.ofNullable(last);
  }

  @Override
  public void applied(DesiredState state) {
    want(state);
    synchronized (this) {
      if (periodic == null && !closed) {
        long every = options.tick().toMillis();
        periodic = timer.scheduleWithFixedDelay(this::request, every, every, TimeUnit.MILLISECONDS);
      }
    }
    request();
  }

  /** Takes {@code state} as the one in effect, for the next pass. */
  void want(DesiredState state) {
    wanted = state;
  }

  @Override
  public void connected(Channel c, ControllerMessage.Welcome welcome) {
    synchronized (this) {
      channel = c;
      sent = null;
    }
    report(true);
    // A download that failed while the link was down goes on now rather than after its pause.
    worker(retries::clear);
    request();
  }

  @Override
  public void disconnected() {
    synchronized (this) {
      channel = null;
    }
  }

  @Override
  public boolean handle(ControllerMessage message) {
    return false;
  }

  /** Asks for a pass soon; requests while one is queued are one pass. Returns at once. */
  public void request() {
    synchronized (this) {
      if (closed || queued) {
        return;
      }
      queued = true;
    }
    worker(
        () -> {
          synchronized (this) {
            queued = false;
          }
          try {
            pass();
          } catch (RuntimeException e) {
            out.println("artifacts: unexpected error: " + e);
          }
        });
  }

  private void worker(Runnable r) {
    try {
      worker.execute(r);
    } catch (RejectedExecutionException e) {
      // Closed.
    }
  }

  /** One look at what is wanted and held; fetches what is missing as far as it may. Worker only. */
  void pass() {
    DesiredState state = wanted;
    if (state == null) {
      return;
    }
    resolvePulls();
    List<ArtifactRef> own = wanted(state);
    List<ArtifactRef> refs = withPulls(own);
    Set<String> keep = new HashSet<>();
    refs.forEach(r -> keep.add(r.digest()));
    pulls.forEach((d, p) -> keep.add(d));
    // A download no longer wanted lets go of its file before the collection may delete it.
    downloader.keepOnly(keep);
    for (String gone : cache.collect(keep, clock.instant(), options.grace())) {
      out.println("artifacts: deleted " + gone + ", no longer named by the desired state");
    }
    Set<String> held = new TreeSet<>();
    for (ArtifactRef r : refs) {
      if (cache.holds(r.digest(), r.size())) {
        held.add(r.digest());
        cache.readOnly(r.digest());
        pulled(r.digest());
      }
    }
    DownloadWindows windows;
    try {
      windows = DownloadWindows.of(state.downloads());
    } catch (IllegalArgumentException e) {
      publish(refs, own, held, "the download policy cannot be used: " + e.getMessage());
      return;
    }
    long perDay = state.downloads() == null ? 0 : state.downloads().bytesPerDay();
    String waiting = null;
    for (ArtifactRef ref : refs) {
      if (held.contains(ref.digest()) || wanted != state) {
        continue;
      }
      Retry retry = retries.get(ref.digest());
      if (retry != null && clock.instant().isBefore(retry.at())) {
        waiting = waiting != null ? waiting : retry.why();
        continue;
      }
      Optional<String> gate = downloader.gate(windows, perDay);
      if (gate.isPresent()) {
        waiting = gate.get();
        break;
      }
      publish(refs, own, held, null);
      Downloader.Outcome outcome = downloader.fetch(ref, windows, perDay);
      switch (outcome) {
        case Downloader.Outcome.Fetched f -> {
          retries.remove(ref.digest());
          held.add(ref.digest());
          fetched.incrementAndGet();
          pulled(ref.digest());
          out.printf("artifacts: fetched %s (%d bytes), verified%n", ref.digest(), ref.size());
          if (completesAnApp(state, ref.digest(), held)) {
            reconcile.run();
          }
        }
        case Downloader.Outcome.Waiting w -> waiting = w.reason();
        case Downloader.Outcome.Failed f -> {
          Retry before = retries.get(ref.digest());
          Duration delay =
              before == null
                  ? options.retryMin()
                  : min(before.delay().multipliedBy(2), options.retryMax());
          String why = f.message() + "; trying again in " + human(delay);
          retries.put(ref.digest(), new Retry(clock.instant().plus(delay), delay, why));
          Pull pull = pulls.get(ref.digest());
          if (pull != null && !own.contains(ref)) {
            // A neighbour waits: it is told now and fetches elsewhere; the next ask starts over.
            pulls.remove(ref.digest(), pull);
            pull.done.completeExceptionally(new java.io.IOException(f.message()));
          }
          if (f.mismatch()) {
            mismatches.incrementAndGet();
            sink.event("artifact-mismatch", "warning", appOf(state, ref.digest()), f.message());
          }
          out.println("artifacts: " + why);
          waiting = waiting != null ? waiting : why;
          laterFor(delay);
        }
      }
      if (outcome instanceof Downloader.Outcome.Waiting) {
        break;
      }
    }
    if (wanted != state) {
      downloader.closeOpen();
      request();
      return;
    }
    publish(refs, own, held, waiting);
  }

  /**
   * What {@code state} names, in the order it is fetched: the apps' artifacts in app order, then
   * the staged ones, each digest once. A malformed digest is left out (and said once).
   */
  private List<ArtifactRef> wanted(DesiredState state) {
    Map<String, ArtifactRef> out = new LinkedHashMap<>();
    List<ArtifactRef> all = new ArrayList<>();
    state.apps().forEach(a -> all.addAll(a.artifacts()));
    all.addAll(state.stage());
    for (ArtifactRef r : all) {
      if (r == null || !BlobCache.wellFormed(r.digest()) || r.size() < 0) {
        String what = r == null ? "null" : r.digest() + " (" + r.size() + " bytes)";
        if (refused.add(what)) {
          sink.event(
              "artifact-refused",
              "error",
              null,
              "the desired state names the artifact "
                  + what
                  + ", which is no sha256:<64 hex> digest with a size; it is not fetched");
        }
        continue;
      }
      out.putIfAbsent(r.digest(), r);
    }
    return List.copyOf(out.values());
  }

  /**
   * {@code own} followed by the blobs neighbours asked for whose size is known, each once. Blobs
   * asked for longer than the grace period ago are forgotten.
   */
  private List<ArtifactRef> withPulls(List<ArtifactRef> own) {
    if (pulls.isEmpty()) {
      return own;
    }
    java.time.Instant now = clock.instant();
    pulls
        .entrySet()
        .removeIf(
            e ->
                e.getValue().done.isDone()
                    && now.isAfter(e.getValue().asked.plus(options.grace())));
    Set<String> named = new HashSet<>();
    own.forEach(r -> named.add(r.digest()));
    List<ArtifactRef> out = new ArrayList<>(own);
    pulls.forEach(
        (d, p) -> {
          ArtifactRef r = p.ref;
          if (r != null && named.add(d)) {
            out.add(r);
          }
        });
    return List.copyOf(out);
  }

  /** Learns the size of each blob asked for from the source (its chunk list). Worker only. */
  private void resolvePulls() {
    for (Map.Entry<String, Pull> e : pulls.entrySet()) {
      Pull p = e.getValue();
      if (p.ref != null || p.done.isDone()) {
        continue;
      }
      try {
        io.edgefleet.protocol.ArtifactChunks chunks = downloaderSource.chunks(e.getKey());
        if (!chunks.digest().equals(e.getKey())) {
          throw new java.io.IOException("the source describes another blob, " + chunks.digest());
        }
        p.ref = new ArtifactRef(e.getKey(), chunks.size());
      } catch (java.io.IOException | RuntimeException ex) {
        pulls.remove(e.getKey(), p);
        p.done.completeExceptionally(
            new java.io.IOException(
                "cannot fetch "
                    + e.getKey()
                    + " from "
                    + downloaderSource.name()
                    + ": "
                    + (ex.getMessage() == null ? ex.toString() : ex.getMessage())));
      }
    }
  }

  /** A neighbour's ask for {@code digest}, if any, is answered: the blob is here. */
  private void pulled(String digest) {
    Pull p = pulls.get(digest);
    if (p != null) {
      p.done.complete(null);
    }
  }

  private static boolean completesAnApp(DesiredState state, String digest, Set<String> held) {
    return state.apps().stream()
        .anyMatch(
            a ->
                a.artifacts().stream().anyMatch(r -> r.digest().equals(digest))
                    && a.artifacts().stream().allMatch(r -> held.contains(r.digest())));
  }

  private static String appOf(DesiredState state, String digest) {
    return state.apps().stream()
        .filter(a -> a.artifacts().stream().anyMatch(r -> r.digest().equals(digest)))
        .map(DesiredState.DesiredApp::name)
        .findFirst()
        .orElse(null);
  }

  private void publish(
      List<ArtifactRef> refs, List<ArtifactRef> own, Set<String> held, String waiting) {
    Map<String, Long> verified = new HashMap<>();
    for (ArtifactRef r : refs) {
      if (!held.contains(r.digest())) {
        verified.put(r.digest(), Math.max(0, cache.verified(r.digest())));
      }
    }
    plan = new Plan(refs, own, Set.copyOf(held), verified, waiting);
    report(false);
  }

  /**
   * Sends the report if it changed (what is held, fetched or waited for), or shows only progress
   * and the last one is {@link Options#reportEvery} old; {@code force}: sends it anyway.
   */
  private synchronized void report(boolean force) {
    Plan p = plan;
    if (p == null) {
      return;
    }
    List<AgentMessage.ArtifactProgress> fetching = new ArrayList<>();
    for (ArtifactRef r : p.wanted()) {
      if (!p.held().contains(r.digest())) {
        long bytes =
            downloader.verified(r.digest()).orElse(p.verified().getOrDefault(r.digest(), 0L));
        fetching.add(new AgentMessage.ArtifactProgress(r.digest(), r.size(), bytes));
      }
    }
    // Blobs fetched only for neighbours are not this device's: its report leaves them out.
    Set<String> own = new HashSet<>();
    p.own().forEach(r -> own.add(r.digest()));
    fetching.removeIf(f -> !own.contains(f.digest()));
    List<String> heldOwn = new ArrayList<>(new TreeSet<>(p.held()));
    heldOwn.removeIf(d -> !own.contains(d));
    AgentMessage.ArtifactReport r =
        new AgentMessage.ArtifactReport(heldOwn, fetching, p.waiting(), serving);
    last = r;
    if (channel == null) {
      return;
    }
    long now = System.nanoTime();
    boolean changed =
        sent == null
            || !r.held().equals(sent.held())
            || !Objects.equals(r.waiting(), sent.waiting())
            || !Objects.equals(r.siteCache(), sent.siteCache())
            || !digests(r.fetching()).equals(digests(sent.fetching()));
    boolean due = !r.equals(sent) && now - sentAt >= options.reportEvery().toNanos();
    if ((force || changed || due) && channel.send(r)) {
      sent = r;
      sentAt = now;
    }
  }

  private static List<String> digests(List<AgentMessage.ArtifactProgress> p) {
    return p.stream().map(AgentMessage.ArtifactProgress::digest).toList();
  }

  private synchronized void laterFor(Duration delay) {
    if (closed || (retryLater != null && !retryLater.isDone())) {
      return;
    }
    retryLater = timer.schedule(this::request, delay.toMillis() + 1, TimeUnit.MILLISECONDS);
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private static String human(Duration d) {
    long s = Math.max(1, (d.toMillis() + 999) / 1000);
    return s < 120 ? s + "s" : (s / 60) + "m";
  }

  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      if (periodic != null) {
        periodic.cancel(false);
      }
      if (retryLater != null) {
        retryLater.cancel(false);
      }
      channel = null;
    }
    worker.shutdownNow();
  }
}
