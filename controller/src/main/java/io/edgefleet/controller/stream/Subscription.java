package io.edgefleet.controller.stream;

import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * One open stream: the messages waiting to be written, at most a bounded number. A client that
 * reads too slowly to keep the queue from filling up is ended, so that no stream holds the
 * controller's memory. Thread-safe: the hub delivers, the stream's own thread takes.
 */
public final class Subscription implements AutoCloseable {
  /** Put in the queue to wake the writer when the stream ends. */
  private static final StreamMessage END = new StreamMessage(null, "end", null, "{}");

  private final Set<Topic> topics;
  private final BlockingQueue<StreamMessage> queue;
  private final Consumer<Subscription> onEnd;
  private final Optional<Predicate<java.util.Map<String, String>>> visible;
  private volatile String ended;

  /**
   * @param visible for a caller confined to projects, the devices (by tags) it sees: it gets only
   *     messages about one of them (and {@code hello}); empty for a caller who sees the whole fleet
   */
  Subscription(
      Set<Topic> topics,
      int capacity,
      Consumer<Subscription> onEnd,
      Optional<Predicate<java.util.Map<String, String>>> visible) {
    this.visible = visible;
    this.topics = Set.copyOf(topics);
    this.queue = new ArrayBlockingQueue<>(capacity + 1);
    this.onEnd = onEnd;
  }

  public Set<Topic> topics() {
    return topics;
  }

  /** Queues a message of a topic this stream follows; ends the stream when its queue is full. */
  void deliver(StreamMessage m) {
    if (ended != null || m.topic() != null && !topics.contains(m.topic())) {
      return;
    }
    if (visible.isPresent() && m.topic() != null && m.scoped() != null) {
      // The summary of its devices only.
      m = m.scopedTo(visible.get());
    } else if (visible.isPresent()
        && m.topic() != null
        && (m.deviceTags() == null || !visible.get().test(m.deviceTags()))) {
      // Other fleet-wide messages (rollouts) and other projects' devices are not for it.
      return;
    }
    if (queue.remainingCapacity() <= 1 || !queue.offer(m)) {
      end("the client read too slowly");
    }
  }

  /**
   * The next message, waiting at most {@code timeout}.
   *
   * @return empty when none came in time
   * @throws StreamEnded once the stream ended
   */
  public Optional<StreamMessage> next(Duration timeout) throws InterruptedException {
    if (ended != null) {
      throw new StreamEnded(ended);
    }
    StreamMessage m = queue.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (m == END || ended != null) {
      throw new StreamEnded(ended);
    }
    return Optional.ofNullable(m);
  }

  /** Why the stream ended, if it did. */
  public Optional<String> ended() {
    return Optional.ofNullable(ended);
  }

  /** Ends the stream: its writer wakes up and returns, its place is free at once. */
  void end(String reason) {
    synchronized (this) {
      if (ended != null) {
        return;
      }
      ended = reason;
    }
    queue.clear();
    queue.offer(END);
    onEnd.accept(this);
  }

  /** The client went away or the writer is done. */
  @Override
  public void close() {
    end("closed");
  }

  /** Thrown to the writer of a stream that ended. */
  public static final class StreamEnded extends RuntimeException {
    StreamEnded(String reason) {
      super(reason, null, false, false);
    }
  }
}
