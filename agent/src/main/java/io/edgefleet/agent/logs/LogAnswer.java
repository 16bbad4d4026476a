package io.edgefleet.agent.logs;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentMessage.LogLine;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One answer to a log request being served: the lines queued for it (the oldest dropped beyond the
 * bound, and the reader told how many), its notes, and the messages it comes to, one at a time, in
 * the wire format of {@link LogsFeature}. Its queue is guarded by the object's lock.
 */
final class LogAnswer {
  private static final int MESSAGE_OVERHEAD = 100;

  /** A message to send and what it costs of the sending budget, in bytes. */
  record Outgoing(AgentMessage.LogLines message, int cost) {}

  private final LogsFeature.Options options;
  final String id;
  final String app;
  final int tail;
  final boolean follow;
  final Instant startedAt;
  final Map<String, Follower> streams = new ConcurrentHashMap<>();
  final Map<String, Instant> lastAt = new ConcurrentHashMap<>();
  private final ArrayDeque<LogLine> queue = new ArrayDeque<>();
  private final ArrayDeque<String> notes = new ArrayDeque<>();
  private final Set<String> noted = new HashSet<>();
  private final List<Runnable> onCancel = new ArrayList<>();
  private long dropped;
  private boolean ready;
  private boolean anySent;
  private boolean finished;
  private boolean doneSent;
  private String error;
  private volatile boolean cancelled;

  LogAnswer(
      String id,
      String app,
      int tail,
      boolean follow,
      Instant startedAt,
      LogsFeature.Options options) {
    this.id = id;
    this.options = options;
    this.app = app;
    this.tail = tail;
    this.follow = follow;
    this.startedAt = startedAt;
  }

  boolean cancelled() {
    return cancelled;
  }

  synchronized void enqueue(LogLine line) {
    if (cancelled || finished) {
      return;
    }
    queue.addLast(line);
    // The tail may queue up to tail lines; followed lines may add maxQueuedLines more.
    while (queue.size() > tail + options.maxQueuedLines()) {
      queue.removeFirst();
      dropped++;
    }
  }

  synchronized void enqueueAll(List<LogLine> lines) {
    lines.forEach(this::enqueue);
  }

  synchronized void note(String text) {
    if (!cancelled && !finished) {
      notes.addLast(text);
    }
  }

  synchronized void noteOnce(String text) {
    if (noted.add(text)) {
      note(text);
    }
  }

  /** The tail is queued; a followed answer may say that it is up. */
  synchronized void ready() {
    ready = true;
  }

  /** Nothing more will be queued; the answer ends once the queue is sent. */
  synchronized void finish(String why) {
    if (!finished) {
      finished = true;
      ready = true;
      error = why;
    }
  }

  /** The next message to send, or null. */
  synchronized Outgoing next() {
    if (cancelled || doneSent) {
      return null;
    }
    if (dropped > 0) {
      String text =
          dropped
              + " line(s) dropped: the log grew faster than this device sends logs ("
              + options.bytesPerSecond() / 1024
              + " KiB/s)";
      dropped = 0;
      return message(List.of(), false, text);
    }
    if (!notes.isEmpty()) {
      return message(List.of(), false, notes.removeFirst());
    }
    if (!queue.isEmpty()) {
      List<LogLine> batch = new ArrayList<>();
      int bytes = MESSAGE_OVERHEAD;
      while (!queue.isEmpty() && batch.size() < LogsFeature.MAX_BATCH_LINES) {
        int cost = Sizes.cost(queue.peekFirst());
        if (!batch.isEmpty() && bytes + cost > LogsFeature.MAX_BATCH_BYTES) {
          break;
        }
        batch.add(queue.removeFirst());
        bytes += cost;
      }
      boolean done = finished && queue.isEmpty();
      return message(batch, done, done ? error : null);
    }
    if (finished) {
      return message(List.of(), true, error);
    }
    if (ready && !anySent) {
      return message(List.of(), false, null);
    }
    return null;
  }

  private Outgoing message(List<LogLine> lines, boolean done, String text) {
    anySent = true;
    doneSent = done;
    int cost = MESSAGE_OVERHEAD + (text == null ? 0 : Sizes.json(text));
    for (LogLine l : lines) {
      cost += Sizes.cost(l);
    }
    return new Outgoing(new AgentMessage.LogLines(id, lines, done, text), cost);
  }

  void onCancel(Runnable action) {
    boolean now;
    synchronized (this) {
      now = cancelled;
      if (!now) {
        onCancel.add(action);
      }
    }
    if (now) {
      action.run();
    }
  }

  /** Stops reading; runs outside the lock so that closing streams never waits on it. */
  void cancel() {
    List<Runnable> actions;
    synchronized (this) {
      if (cancelled) {
        return;
      }
      cancelled = true;
      queue.clear();
      notes.clear();
      actions = List.copyOf(onCancel);
      onCancel.clear();
    }
    for (Runnable a : actions) {
      runQuietly(a);
    }
  }

  static void runQuietly(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      // A stream that fails to close is gone anyway; nothing else depends on it.
    }
  }
}
