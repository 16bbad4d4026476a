package io.edgefleet.agent.runtime.vm;

import io.edgefleet.agent.runtime.WorkloadRuntime.LogQuery;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogSink;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * A VM's serial console as QEMU writes it to a file: searched for the readiness line, and read as
 * the VM's log. The file holds the current boot only (the previous boot's is kept beside it). Lines
 * carry no time of their own: lines already written are given the file's last change (the latest
 * they can have been written), lines followed as they come the time they were read; {@code since}
 * drops earlier boots' lines and a file unchanged since then. Thread-safe.
 */
final class SerialConsole {
  /** The most bytes of one console line kept; the rest of a longer line is dropped. */
  static final int MAX_LINE = 16 * 1024;

  /** How much of a console is searched for the readiness line at most. */
  static final long MAX_SCAN = 64L * 1024 * 1024;

  private static final Duration FOLLOW_POLL = Duration.ofMillis(250);

  /** Where the search of each console file has got to, so that each byte is read once. */
  private final Map<Path, Scan> scans = new ConcurrentHashMap<>();

  private final Clock clock;

  private record Scan(long offset, long size, boolean found) {}

  SerialConsole(Clock clock) {
    this.clock = clock;
  }

  /**
   * Whether a line of {@code log} written so far contains {@code needle}. Reads only what was
   * written since the last call for the same file; a file that shrank (a new boot) is read again
   * from the start.
   */
  boolean contains(Path log, String needle) {
    Scan s = scans.get(log);
    long size;
    try {
      size = Files.size(log);
    } catch (IOException e) {
      return false;
    }
    if (s == null || size < s.size()) {
      s = new Scan(0, 0, false);
    }
    if (s.found()) {
      return true;
    }
    if (s.offset() >= MAX_SCAN) {
      return false;
    }
    long offset = s.offset();
    boolean found = false;
    try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
      f.seek(offset);
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      long lineStart = offset;
      byte[] buf = new byte[8192];
      int n;
      long pos = offset;
      outer:
      while (pos < MAX_SCAN && (n = f.read(buf)) > 0) {
        for (int i = 0; i < n; i++) {
          pos++;
          if (buf[i] == '\n') {
            if (line.toString(StandardCharsets.UTF_8).contains(needle)) {
              found = true;
              break outer;
            }
            line.reset();
            lineStart = pos;
          } else if (line.size() < MAX_LINE) {
            line.write(buf[i]);
          }
        }
      }
      // A line still being written counts once it holds the needle; else it is read again.
      if (!found && line.toString(StandardCharsets.UTF_8).contains(needle)) {
        found = true;
      }
      scans.put(log, new Scan(found ? pos : lineStart, size, found));
    } catch (IOException e) {
      return false;
    }
    return found;
  }

  /**
   * Keeps {@code log} below {@code maxBytes}: a guest writing its console without end must not fill
   * the device's disk. A console past the limit is moved beside it ({@code .1}, replacing the one
   * there) and started afresh; QEMU appends, so it goes on writing at the new file's end.
   *
   * @return whether the console was cut
   */
  boolean cap(Path log, long maxBytes) {
    try {
      if (!Files.isRegularFile(log) || Files.size(log) <= maxBytes) {
        return false;
      }
      Path old = log.resolveSibling(log.getFileName() + ".1");
      Files.copy(log, old, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      try (java.nio.channels.FileChannel ch =
          java.nio.channels.FileChannel.open(log, java.nio.file.StandardOpenOption.WRITE)) {
        ch.truncate(0);
      }
      Scan s = scans.get(log);
      // A readiness line already found stays found; the search goes on in the new file.
      scans.put(log, new Scan(0, 0, s != null && s.found()));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Forgets what was searched in {@code log} (it is being replaced by a new boot's). */
  void forget(Path log) {
    scans.remove(log);
  }

  /**
   * Reads {@code log} into {@code sink} on a thread of its own: the last {@code tailLines} lines,
   * then with {@code follow} new lines until the stream is closed or {@code gone} says the VM is.
   */
  LogStream read(Path log, LogQuery query, LogSink sink, java.util.function.BooleanSupplier gone) {
    Follower f = new Follower(log, query, sink, gone);
    Thread.ofVirtual().name("vm-log-" + log.getParent().getFileName()).start(f);
    return f;
  }

  private final class Follower implements Runnable, LogStream {
    private final Path log;
    private final LogQuery query;
    private final LogSink sink;
    private final java.util.function.BooleanSupplier gone;
    private volatile boolean closed;

    Follower(Path log, LogQuery query, LogSink sink, java.util.function.BooleanSupplier gone) {
      this.log = log;
      this.query = query;
      this.sink = sink;
      this.gone = gone;
    }

    @Override
    public void close() {
      closed = true;
    }

    @Override
    public void run() {
      try {
        long offset = history();
        if (!query.follow()) {
          finish(null);
          return;
        }
        ByteArrayOutputStream partial = new ByteArrayOutputStream();
        while (!closed) {
          if (gone.getAsBoolean()) {
            finish(null);
            return;
          }
          long size = Files.exists(log) ? Files.size(log) : 0;
          if (size < offset) {
            // A new boot started a new console file: read it from its start.
            offset = 0;
            partial.reset();
          }
          if (size > offset) {
            offset = readFrom(offset, partial, clock.instant());
          } else {
            LockSupport.parkNanos(FOLLOW_POLL.toNanos());
          }
        }
      } catch (IOException | RuntimeException e) {
        finish(e.getMessage() == null ? e.toString() : e.getMessage());
      }
    }

    /** Sends the tail of what was written; answers the offset to follow from. */
    private long history() throws IOException {
      if (!Files.exists(log)) {
        return 0;
      }
      Instant changed = Files.getLastModifiedTime(log).toInstant();
      long size = Files.size(log);
      if (query.tailLines() == 0 || changed.isBefore(query.since())) {
        return size;
      }
      Deque<String> tail = new ArrayDeque<>();
      try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
        // Read at most what tailLines full lines can take, from the end.
        long start = Math.max(0, size - (long) query.tailLines() * (MAX_LINE + 1));
        f.seek(start);
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        long pos = start;
        boolean skipFirst = start > 0;
        int n;
        while (pos < size && (n = f.read(buf, 0, (int) Math.min(buf.length, size - pos))) > 0) {
          for (int i = 0; i < n; i++) {
            if (buf[i] == '\n') {
              if (!skipFirst) {
                tail.addLast(text(line));
                if (tail.size() > query.tailLines()) {
                  tail.removeFirst();
                }
              }
              skipFirst = false;
              line.reset();
            } else if (line.size() < MAX_LINE) {
              line.write(buf[i]);
            }
          }
          pos += n;
        }
        for (String l : tail) {
          if (closed) {
            return size;
          }
          sink.line(changed, l);
        }
        // A last line without its line break is sent once it is complete.
        return size - line.size();
      }
    }

    private long readFrom(long offset, ByteArrayOutputStream partial, Instant at)
        throws IOException {
      try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
        f.seek(offset);
        byte[] buf = new byte[8192];
        int n = f.read(buf);
        if (n <= 0) {
          return offset;
        }
        for (int i = 0; i < n && !closed; i++) {
          if (buf[i] == '\n') {
            sink.line(at, text(partial));
            partial.reset();
          } else if (partial.size() < MAX_LINE) {
            partial.write(buf[i]);
          }
        }
        return offset + n;
      }
    }

    private boolean finished;

    private synchronized void finish(String failure) {
      if (finished || closed) {
        return;
      }
      finished = true;
      if (failure == null) {
        sink.completed();
      } else {
        sink.failed(failure);
      }
    }
  }

  /** A console line as text: without a carriage return or other control characters but tabs. */
  static String text(ByteArrayOutputStream line) {
    String s = line.toString(StandardCharsets.UTF_8);
    return s.replaceAll("[\\p{Cntrl}&&[^\t]]", "");
  }
}
