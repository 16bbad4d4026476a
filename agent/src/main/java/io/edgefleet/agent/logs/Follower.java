package io.edgefleet.agent.logs;

import io.edgefleet.agent.runtime.WorkloadRuntime.LogSource;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogStream;
import io.edgefleet.protocol.AgentMessage.LogLine;
import java.time.Instant;

/**
 * The reader of one container's log: a stream that may be closed before the runtime handed it over.
 */
final class Follower {
  private LogStream stream;
  private boolean closed;

  synchronized void attach(LogStream s) {
    if (closed) {
      s.close();
    } else {
      stream = s;
    }
  }

  void close() {
    LogStream s;
    synchronized (this) {
      closed = true;
      s = stream;
      stream = null;
    }
    if (s != null) {
      s.close();
    }
  }

  /** The key of a container's lines (pod and container). */
  static String key(LogSource s) {
    return LogRing.key(s.pod(), s.container());
  }

  /** A line read from a container, capped in length. */
  static LogLine line(LogSource s, Instant at, String text) {
    return new LogLine(at, s.pod(), s.container(), Sizes.capped(text));
  }
}
