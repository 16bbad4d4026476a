package io.edgefleet.agent.logs;

import io.edgefleet.protocol.AgentMessage.LogLine;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The recent log lines of one app, oldest first, bounded by a number of lines and by their size:
 * adding past either bound drops the oldest lines. Remembers per container the time of the last
 * line it took, so a reader that resumes after a break skips what the ring already has. Listeners
 * hear every line taken (for follow requests served from the ring).
 *
 * <p>Thread-safe. Listeners are called on the adding thread, under the ring's lock (so none misses
 * or repeats a line around {@link #tail(int, Consumer)}), and must not block.
 */
final class LogRing {
  private final int maxLines;
  private final long maxBytes;
  private final ArrayDeque<LogLine> lines = new ArrayDeque<>();
  private final Map<String, Instant> lastAt = new HashMap<>();
  private final List<Consumer<LogLine>> listeners = new CopyOnWriteArrayList<>();
  private long bytes;

  LogRing(int maxLines, long maxBytes) {
    if (maxLines < 1 || maxBytes < 1) {
      throw new IllegalArgumentException("a ring holds at least one line and one byte");
    }
    this.maxLines = maxLines;
    this.maxBytes = maxBytes;
  }

  /**
   * Takes a line of {@code pod}/{@code container} unless it is not newer than the last line taken
   * from that container (a resumed reader sends some lines again).
   *
   * @return whether the line was taken
   */
  synchronized boolean add(LogLine line) {
    String key = key(line.pod(), line.container());
    Instant last = lastAt.get(key);
    if (last != null && !line.at().isAfter(last)) {
      return false;
    }
    lastAt.put(key, line.at());
    lines.addLast(line);
    bytes += Sizes.cost(line);
    while (lines.size() > maxLines || bytes > maxBytes) {
      bytes -= Sizes.cost(lines.removeFirst());
    }
    for (Consumer<LogLine> l : listeners) {
      l.accept(line);
    }
    return true;
  }

  /** The time of the last line taken from this container, or {@link Instant#EPOCH}. */
  synchronized Instant lastAt(String pod, String container) {
    return lastAt.getOrDefault(key(pod, container), Instant.EPOCH);
  }

  /** Forgets the resume points of containers not in {@code keep} ("pod/container"); lines stay. */
  synchronized void retainSources(Set<String> keep) {
    lastAt.keySet().retainAll(keep);
  }

  /** The last {@code n} lines, oldest first. */
  synchronized List<LogLine> tail(int n) {
    List<LogLine> all = new ArrayList<>(lines);
    return List.copyOf(all.subList(Math.max(0, all.size() - n), all.size()));
  }

  /**
   * The last {@code n} lines, oldest first, and from then on every line taken goes to {@code
   * listener} (if not null) until {@link #unlisten}.
   */
  synchronized List<LogLine> tail(int n, Consumer<LogLine> listener) {
    if (listener != null) {
      listeners.add(listener);
    }
    return tail(n);
  }

  synchronized int size() {
    return lines.size();
  }

  synchronized long bytes() {
    return bytes;
  }

  void unlisten(Consumer<LogLine> listener) {
    listeners.remove(listener);
  }

  static String key(String pod, String container) {
    return pod + "/" + container;
  }
}
