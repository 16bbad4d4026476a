package io.edgefleet.controller.logs;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.gateway.Connections;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentMessage.LogLine;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Log requests to devices, each waiting for its answer: sends {@link ControllerMessage.LogsRequest}
 * over the device's own connection, hands the {@link AgentMessage.LogLines} that come back to the
 * HTTP request that asked, and sends {@link ControllerMessage.LogsCancel} when that request goes
 * away before the answer ended.
 *
 * <p>How a device answers (see the agent's {@code LogsFeature}): messages with lines; messages
 * without lines whose {@code error} is a note (the answer goes on); one message with {@code
 * done=true}, whose {@code error}, if any, says why the answer ended early.
 *
 * <p>Bounds: at most {@link Options#maxSessions()} requests at once, {@link Options#maxPerDevice()}
 * per device; a session holds at most {@link Options#maxBufferedLines()} lines its reader has not
 * taken (the oldest go first, and the reader is told). A device silent for {@link
 * Options#answerTimeout()} before its answer started, or in the middle of an answer that is not
 * followed, is given up on.
 *
 * <p>Threading: thread-safe. {@link #receive} and {@link #disconnected} run on socket threads and
 * never block; readers block in {@link Session} on their own threads.
 */
public final class LogSessions {
  /** The most lines one request may ask for. */
  public static final int MAX_TAIL = 10_000;

  /** How the controller reaches connected devices. */
  public interface Link {
    /** Whether the device has a connection now. */
    boolean connected(String deviceId);

    /** Sends over the device's connection; false if it has none. */
    boolean send(String deviceId, ControllerMessage message);
  }

  /**
   * @param answerTimeout how long a device may stay silent while an answer is awaited
   * @param keepAlive how often a followed stream without news writes an empty line, so that a
   *     reader who left is noticed (and the device told to stop)
   * @param maxSessions requests served at once
   * @param maxPerDevice requests served at once per device
   * @param maxBufferedLines lines a session holds for a slow reader
   */
  public record Options(
      Duration answerTimeout,
      Duration keepAlive,
      int maxSessions,
      int maxPerDevice,
      int maxBufferedLines) {
    public Options {
      if (!answerTimeout.isPositive() || !keepAlive.isPositive()) {
        throw new IllegalArgumentException("log session timeouts must be positive");
      }
      if (maxSessions < 1 || maxPerDevice < 1 || maxBufferedLines < 1) {
        throw new IllegalArgumentException("log session bounds must be positive");
      }
    }

    /** 30 s, keep-alive every 5 s, 64 sessions, 4 per device, 20,000 buffered lines. */
    public static Options defaults() {
      return new Options(Duration.ofSeconds(30), Duration.ofSeconds(5), 64, 4, 20_000);
    }

    public Options withAnswerTimeout(Duration d) {
      return new Options(d, keepAlive, maxSessions, maxPerDevice, maxBufferedLines);
    }

    public Options withKeepAlive(Duration d) {
      return new Options(answerTimeout, d, maxSessions, maxPerDevice, maxBufferedLines);
    }
  }

  /** A complete answer: the lines, oldest first, and what the device noted about them. */
  public record Answer(List<LogLine> lines, List<String> notes) {}

  private final Link link;
  private final Options options;
  private final Map<String, Session> sessions = new ConcurrentHashMap<>();
  private final AtomicLong nextId = new AtomicLong();
  private final String prefix = Long.toString(System.nanoTime() & 0xffffffL, 36);

  public LogSessions(Link link, Options options) {
    this.link = link;
    this.options = options;
  }

  /**
   * Sessions over the devices' live connections; the gateway hands the devices' answers to {@link
   * #receive} and their lost connections to {@link #disconnected}.
   */
  public static LogSessions over(Connections connections, Options options) {
    return new LogSessions(
        new Link() {
          @Override
          public boolean connected(String deviceId) {
            return connections.isConnected(deviceId);
          }

          @Override
          public boolean send(String deviceId, ControllerMessage message) {
            return connections.send(deviceId, message);
          }
        },
        options);
  }

  /**
   * Asks a device for an app's logs.
   *
   * @throws ControllerException {@link ErrorCode#DEVICE_NOT_CONNECTED} when the device has no
   *     connection, {@link ErrorCode#UNAVAILABLE} when too many requests are being served
   */
  public Session open(String deviceId, String app, int tail, boolean follow) {
    if (tail < 0 || tail > MAX_TAIL) {
      throw new IllegalArgumentException("tail out of range: " + tail);
    }
    if (sessions.size() >= options.maxSessions()) {
      throw new ControllerException(
          ErrorCode.UNAVAILABLE,
          "the controller already serves "
              + options.maxSessions()
              + " log requests, the most it serves at once; try again later");
    }
    long ofDevice = sessions.values().stream().filter(s -> s.deviceId.equals(deviceId)).count();
    if (ofDevice >= options.maxPerDevice()) {
      throw new ControllerException(
          ErrorCode.UNAVAILABLE,
          "device "
              + deviceId
              + " already serves "
              + options.maxPerDevice()
              + " log requests, the most one device serves at once; try again later");
    }
    Session s = new Session("log-" + prefix + "-" + nextId.incrementAndGet(), deviceId);
    sessions.put(s.id, s);
    if (!link.send(deviceId, new ControllerMessage.LogsRequest(s.id, app, tail, follow))) {
      sessions.remove(s.id);
      throw new ControllerException(
          ErrorCode.DEVICE_NOT_CONNECTED,
          "device " + deviceId + " disconnected before it could be asked for logs");
    }
    return s;
  }

  /** Whether the device has a connection now. */
  public boolean connected(String deviceId) {
    return link.connected(deviceId);
  }

  /** Hands a device's answer to the request waiting for it; answers for others are ignored. */
  public void receive(String deviceId, AgentMessage.LogLines message) {
    if (message.id() == null) {
      return;
    }
    Session s = sessions.get(message.id());
    // A device may only answer its own requests.
    if (s != null && s.deviceId.equals(deviceId)) {
      s.offer(message);
    }
  }

  /** The device's connection is gone: its answers end, with that as the reason. */
  public void disconnected(String deviceId) {
    for (Session s : sessions.values()) {
      if (s.deviceId.equals(deviceId)) {
        s.end("device " + deviceId + " disconnected");
      }
    }
  }

  /** Ids of the requests being served, for tests and diagnostics. */
  public Set<String> active() {
    return Set.copyOf(sessions.keySet());
  }

  /**
   * One request and its answer as it arrives. Read it once: {@link #answer()}, or {@link
   * #awaitStart()} then {@link #stream(OutputStream)}.
   */
  public final class Session {
    private final String id;
    private final String deviceId;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // Lines, Note and End items in the order they came.
    private final ArrayDeque<Object> items = new ArrayDeque<>();
    private int lines;
    private long dropped;
    private boolean heard;
    private boolean ended;

    private record Note(String text) {}

    private record End(String error) {}

    Session(String id, String deviceId) {
      this.id = id;
      this.deviceId = deviceId;
    }

    public String id() {
      return id;
    }

    void offer(AgentMessage.LogLines m) {
      lock.lock();
      try {
        if (ended) {
          return;
        }
        heard = true;
        for (LogLine l : m.lines()) {
          if (l != null && l.at() != null && l.line() != null) {
            items.addLast(l);
            lines++;
          }
        }
        while (lines > options.maxBufferedLines()) {
          if (items.removeFirst() instanceof LogLine) {
            lines--;
            dropped++;
          }
        }
        if (m.done()) {
          items.addLast(new End(m.error()));
          ended = true;
          sessions.remove(id, this);
        } else if (m.error() != null) {
          items.addLast(new Note(m.error()));
        }
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    void end(String error) {
      lock.lock();
      try {
        if (!ended) {
          ended = true;
          items.addLast(new End(error));
          sessions.remove(id, this);
          changed.signalAll();
        }
      } finally {
        lock.unlock();
      }
    }

    /** The reader left or gave up: the device is told to stop if its answer has not ended. */
    public void cancel() {
      boolean tell;
      lock.lock();
      try {
        tell = !ended;
        ended = true;
        items.clear();
        changed.signalAll();
      } finally {
        lock.unlock();
      }
      sessions.remove(id, this);
      if (tell) {
        link.send(deviceId, new ControllerMessage.LogsCancel(id));
      }
    }

    /**
     * Waits for the whole answer of a request that does not follow.
     *
     * @throws ControllerException {@link ErrorCode#UNAVAILABLE} when the device stayed silent for
     *     {@link Options#answerTimeout()}, or ended its answer with an error before any line
     */
    public Answer answer() {
      List<LogLine> got = new ArrayList<>();
      List<String> notes = new ArrayList<>();
      try {
        while (true) {
          Object item = next(options.answerTimeout());
          if (item == null) {
            cancel();
            throw silent();
          }
          switch (item) {
            case LogLine l -> got.add(l);
            case Note n -> notes.add(n.text());
            case End e -> {
              if (e.error() != null) {
                if (got.isEmpty()) {
                  throw new ControllerException(
                      ErrorCode.UNAVAILABLE,
                      "device " + deviceId + " could not answer: " + e.error());
                }
                notes.add("the answer ended early: " + e.error());
              }
              return new Answer(List.copyOf(got), List.copyOf(notes));
            }
            default -> throw new IllegalStateException("unexpected item " + item);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        cancel();
        throw new ControllerException(ErrorCode.UNAVAILABLE, "interrupted waiting for the logs");
      }
    }

    /**
     * Waits until the device answered at all, so that a refusal still becomes an error status.
     *
     * @throws ControllerException {@link ErrorCode#UNAVAILABLE} as {@link #answer()}
     */
    public void awaitStart() {
      boolean silent;
      lock.lock();
      try {
        long left = options.answerTimeout().toNanos();
        while (!heard && !ended && left > 0) {
          left = changed.awaitNanos(left);
        }
        silent = !heard && !ended;
        if (!silent && items.peekFirst() instanceof End e && e.error() != null) {
          throw new ControllerException(
              ErrorCode.UNAVAILABLE, "device " + deviceId + " could not answer: " + e.error());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        silent = true;
      } finally {
        lock.unlock();
      }
      if (silent) {
        cancel();
        throw silent();
      }
    }

    /**
     * Writes the answer as NDJSON, flushing as lines come, until the answer ends or the reader goes
     * away (a write fails), then cancels. One JSON object per line: a log line ({@code at, pod,
     * container, line}), a note ({@code note}) or, last, why the answer ended early ({@code
     * error}). Empty lines are keep-alives.
     */
    public void stream(OutputStream out) throws IOException {
      try {
        out.flush(); // the status and headers go out now, not with the first line
        while (true) {
          Object item;
          try {
            item = next(options.keepAlive());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
          if (item == null) {
            out.write('\n');
            out.flush();
            continue;
          }
          long lost = takeDropped();
          if (lost > 0) {
            write(out, Map.of("note", lost + " line(s) dropped: this reader took them too slowly"));
          }
          switch (item) {
            case LogLine l -> write(out, l);
            case Note n -> write(out, Map.of("note", n.text()));
            case End e -> {
              if (e.error() != null) {
                write(out, Map.of("error", e.error()));
              }
              out.flush();
              return;
            }
            default -> throw new IllegalStateException("unexpected item " + item);
          }
          if (available() == 0) {
            out.flush();
          }
        }
      } finally {
        cancel();
      }
    }

    private void write(OutputStream out, Object value) throws IOException {
      out.write(Json.writeBytes(value));
      out.write('\n');
    }

    /** The next item, or null after {@code wait} without one. */
    private Object next(Duration wait) throws InterruptedException {
      lock.lock();
      try {
        long left = wait.toNanos();
        while (items.isEmpty()) {
          if (left <= 0) {
            return null;
          }
          left = changed.awaitNanos(left);
        }
        Object item = items.removeFirst();
        if (item instanceof LogLine) {
          lines--;
        }
        return item;
      } finally {
        lock.unlock();
      }
    }

    private int available() {
      lock.lock();
      try {
        return items.size();
      } finally {
        lock.unlock();
      }
    }

    private long takeDropped() {
      lock.lock();
      try {
        long d = dropped;
        dropped = 0;
        return d;
      } finally {
        lock.unlock();
      }
    }

    private ControllerException silent() {
      return new ControllerException(
          ErrorCode.UNAVAILABLE,
          "device "
              + deviceId
              + " did not answer the log request within "
              + options.answerTimeout().toSeconds()
              + "s; it may be busy or on a slow link, try again");
    }
  }
}
