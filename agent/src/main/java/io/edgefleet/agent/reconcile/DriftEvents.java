package io.edgefleet.agent.reconcile;

import io.edgefleet.agent.runtime.DriftRepair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Turns drift repairs into device events of kind {@value #KIND}, severity {@value #SEVERITY}, at
 * most one per app per interval, so that someone who keeps deleting an object on a device is seen
 * by operators without the repairs flooding the event log.
 *
 * <p>Per app: the first repair after a quiet interval is reported at once, naming what was repaired
 * ({@code recreated Deployment web/web that was deleted}). Repairs in the following interval are
 * only counted; when it ends, one event sums up the whole interval ({@code recreated Deployment
 * web/web 14 times in the last 10 min}) and the next interval begins, counted the same way. An
 * interval without further repairs ends the app's report: the next repair is again reported at
 * once. So events of one app are always at least an interval apart.
 *
 * <p>Memory is bounded: at most {@value #MAX_APPS} apps with an interval running (beyond that, the
 * oldest one is summed up early and forgotten), and per app at most {@value #MAX_OBJECTS} objects
 * counted by name (repairs of further objects are counted together). Intervals end on {@link
 * #tick()}, which the reconciler calls after every pass, and on the next repair.
 *
 * <p>Events go to the sink (the agent's {@code event}, which keeps them in the persistent outbox):
 * repairs made while the controller is unreachable arrive when the link is back. Thread-safe.
 */
public final class DriftEvents {
  /** The event kind. */
  public static final String KIND = "drift-repaired";

  /** The event severity: nothing failed, but someone works against the desired state. */
  public static final String SEVERITY = "warning";

  /** The rate limit the agent uses: one event per app per 10 minutes. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofMinutes(10);

  static final int MAX_APPS = 256;
  static final int MAX_OBJECTS = 16;

  /** Objects named in one message; the rest are counted. */
  static final int NAMED = 3;

  /** Where events go: the agent's {@code event(kind, severity, app, message)}. */
  @FunctionalInterface
  public interface Sink {
    void event(String kind, String severity, String app, String message);
  }

  private final Clock clock;
  private final Duration interval;
  private final Sink sink;

  /** Apps with an interval running, the oldest interval first. */
  private final Map<String, Window> windows = new LinkedHashMap<>();

  /**
   * @param interval the least time between two events of one app (positive)
   */
  public DriftEvents(Clock clock, Duration interval, Sink sink) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.sink = Objects.requireNonNull(sink, "sink");
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval must be positive");
    }
    this.interval = interval;
  }

  /** One apply of {@code app} repaired these objects (none: nothing happens). */
  public synchronized void repaired(String app, List<DriftRepair> repairs) {
    Objects.requireNonNull(app, "app");
    if (repairs.isEmpty()) {
      return;
    }
    Instant now = clock.instant();
    endIntervals(now);
    Window w = windows.get(app);
    if (w == null) {
      if (windows.size() >= MAX_APPS) {
        Iterator<Map.Entry<String, Window>> oldest = windows.entrySet().iterator();
        Map.Entry<String, Window> evicted = oldest.next();
        oldest.remove();
        if (evicted.getValue().unreported > 0) {
          sink.event(KIND, SEVERITY, evicted.getKey(), evicted.getValue().summary(now));
        }
      }
      w = new Window(now);
      windows.put(app, w);
      w.count(repairs);
      sink.event(KIND, SEVERITY, app, announcement(repairs));
    } else {
      w.count(repairs);
      w.unreported += repairs.size();
    }
  }

  /** Ends the intervals that are over: sums up those with repairs not yet reported. */
  public synchronized void tick() {
    endIntervals(clock.instant());
  }

  /** How many apps have an interval running. */
  synchronized int tracked() {
    return windows.size();
  }

  private void endIntervals(Instant now) {
    List<String> ended = new ArrayList<>();
    for (Map.Entry<String, Window> e : windows.entrySet()) {
      if (!now.isBefore(e.getValue().start.plus(interval))) {
        ended.add(e.getKey());
      }
    }
    for (String app : ended) {
      Window w = windows.remove(app);
      if (w.unreported > 0) {
        sink.event(KIND, SEVERITY, app, w.summary(now));
        // The event just sent opens the next interval, counted from zero.
        windows.put(app, new Window(now));
      }
    }
  }

  /** The first repairs after a quiet interval, one by one. */
  private static String announcement(List<DriftRepair> repairs) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < Math.min(NAMED, repairs.size()); i++) {
      b.append(i == 0 ? "" : "; ").append(repairs.get(i).describe());
    }
    if (repairs.size() > NAMED) {
      int more = repairs.size() - NAMED;
      b.append("; and ").append(more).append(more == 1 ? " more object" : " more objects");
    }
    return b.toString();
  }

  /** For people: {@code 45 s}, {@code 10 min}, {@code 3 h}, rounded down. */
  static String span(Duration d) {
    if (d.toSeconds() < 120) {
      return d.toSeconds() + " s";
    }
    return d.toMinutes() < 120 ? d.toMinutes() + " min" : d.toHours() + " h";
  }

  private static String times(long n) {
    return n == 1 ? "once" : n + " times";
  }

  /** The repairs of one app in one interval. */
  private static final class Window {
    final Instant start;
    final Map<DriftRepair, Long> counts = new LinkedHashMap<>();

    /** Repairs of objects beyond the {@link #MAX_OBJECTS} counted by name. */
    long others;

    /** Repairs since the last event. */
    long unreported;

    Window(Instant start) {
      this.start = start;
    }

    void count(List<DriftRepair> repairs) {
      for (DriftRepair r : repairs) {
        if (counts.containsKey(r) || counts.size() < MAX_OBJECTS) {
          counts.merge(r, 1L, Long::sum);
        } else {
          others++;
        }
      }
    }

    /** {@code recreated Deployment web/web 14 times, … in the last 10 min}. */
    String summary(Instant now) {
      List<Map.Entry<DriftRepair, Long>> byCount = new ArrayList<>(counts.entrySet());
      byCount.sort(Map.Entry.<DriftRepair, Long>comparingByValue(Comparator.reverseOrder()));
      StringBuilder b = new StringBuilder();
      long rest = others;
      for (int i = 0; i < byCount.size(); i++) {
        Map.Entry<DriftRepair, Long> e = byCount.get(i);
        if (i < NAMED) {
          DriftRepair r = e.getKey();
          b.append(i == 0 ? "" : ", ")
              .append(r.cause().verb())
              .append(' ')
              .append(r.object())
              .append(' ')
              .append(times(e.getValue()));
        } else {
          rest += e.getValue();
        }
      }
      if (rest > 0) {
        b.append(", and ").append(rest).append(rest == 1 ? " more repair" : " more repairs");
      }
      return b.append(" in the last ").append(span(Duration.between(start, now))).toString();
    }
  }
}
