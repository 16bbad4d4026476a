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
      List<ArtifactRef> wanted, Set<String> held, Map<String, Long> verified, String waiting) {}

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
    List<ArtifactRef> refs = wanted(state);
    Set<String> keep = new HashSet<>();
    refs.forEach(r -> keep.add(r.digest()));
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
      }
    }
    DownloadWindows windows;
    try {
      windows = DownloadWindows.of(state.downloads());
    } catch (IllegalArgumentException e) {
      publish(refs, held, "the download policy cannot be used: " + e.getMessage());
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
      publish(refs, held, null);
      Downloader.Outcome outcome = downloader.fetch(ref, windows, perDay);
      switch (outcome) {
        case Downloader.Outcome.Fetched f -> {
          retries.remove(ref.digest());
          held.add(ref.digest());
          fetched.incrementAndGet();
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
    publish(refs, held, waiting);
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

  private void publish(List<ArtifactRef> refs, Set<String> held, String waiting) {
    Map<String, Long> verified = new HashMap<>();
    for (ArtifactRef r : refs) {
      if (!held.contains(r.digest())) {
        verified.put(r.digest(), Math.max(0, cache.verified(r.digest())));
      }
    }
    plan = new Plan(refs, Set.copyOf(held), verified, waiting);
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
    AgentMessage.ArtifactReport r =
        new AgentMessage.ArtifactReport(
            new ArrayList<>(new TreeSet<>(p.held())), fetching, p.waiting());
    last = r;
    if (channel == null) {
      return;
    }
    long now = System.nanoTime();
    boolean changed =
        sent == null
            || !r.held().equals(sent.held())
            || !Objects.equals(r.waiting(), sent.waiting())
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
