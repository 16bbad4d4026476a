package io.edgefleet.agent.logs;

import io.edgefleet.agent.AgentFeature.Channel;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Sends the answers' messages over the connection, one message per answer in turn, all answers
 * together held to one bandwidth budget (a token bucket in bytes), so heartbeats and reports never
 * wait behind a log burst. Sends on the feature's scheduler thread; {@link #wake()} from any.
 */
final class LogShipper {
  private final ScheduledExecutorService scheduler;
  private final Map<String, LogAnswer> answers;
  private final int bytesPerSecond;
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private volatile Channel channel;
  private volatile boolean closed;

  // The budget; touched only on the scheduler thread.
  private double tokens = LogsFeature.MAX_BATCH_BYTES;
  private long refilledAt = System.nanoTime();

  LogShipper(
      ScheduledExecutorService scheduler, Map<String, LogAnswer> answers, int bytesPerSecond) {
    this.scheduler = scheduler;
    this.answers = answers;
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Where messages go now; null while disconnected. */
  void channel(Channel c) {
    channel = c;
  }

  void close() {
    closed = true;
    channel = null;
  }

  /** Something is ready to send. */
  void wake() {
    schedule(0);
  }

  private void schedule(long delayMillis) {
    if (closed || !scheduled.compareAndSet(false, true)) {
      return;
    }
    try {
      scheduler.schedule(this::pump, delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      scheduled.set(false);
    }
  }

  /** Sends what is ready, one message per answer in turn, within the budget; scheduler only. */
  private void pump() {
    scheduled.set(false);
    Channel ch = channel;
    if (ch == null || closed) {
      return;
    }
    long now = System.nanoTime();
    tokens =
        Math.min(LogsFeature.MAX_BATCH_BYTES, tokens + (now - refilledAt) / 1e9 * bytesPerSecond);
    refilledAt = now;
    boolean sent = true;
    while (sent) {
      sent = false;
      for (LogAnswer r : List.copyOf(answers.values())) {
        if (tokens <= 0) {
          long waitMillis = (long) Math.ceil(-tokens * 1000 / bytesPerSecond);
          schedule(Math.max(1, waitMillis));
          return;
        }
        LogAnswer.Outgoing out = r.next();
        if (out == null) {
          continue;
        }
        if (!ch.send(out.message())) {
          return; // disconnected: the feature ends every answer
        }
        tokens -= out.cost();
        sent = true;
        if (out.message().done()) {
          answers.remove(r.id, r);
          r.cancel();
        }
      }
    }
  }
}
