package io.edgefleet.agent.outbox;

import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent's persistent, bounded outbox of telemetry: device events, metric summaries and loss
 * records, each with a sequence number that strictly increases and is never reused, across restarts
 * included.
 *
 * <p>Storage: append-only segment files {@code <first seq>.seg} in one directory, each record
 * framed with its length and a CRC32 ({@link Frames}). Opening the outbox truncates a torn or
 * corrupt tail (an append interrupted by a crash or kill -9); corruption anywhere else is cut at
 * the first bad record and announced with a {@link Telemetry.Loss} record. Events are fsynced
 * before {@link #appendEvent} returns; metric summaries are fsynced in batches (with the next event
 * or acknowledgement, or after {@link Options#metricsSync}). Nothing is rewritten in place: a
 * down-sampled segment is written to a temporary file and renamed over the old one, and a marker at
 * its start lets a later open recognise the segments it replaced if the crash came between the
 * rename and their deletion. The highest acknowledged seq per kind lives in {@code acked}, also
 * replaced atomically.
 *
 * <p>Draining: {@link #nextBatch} returns unacknowledged events and loss records first, then metric
 * summaries, each kind by seq; one batch is in flight at a time. {@link #acked} releases the
 * records of the batch in flight up to the acknowledged seq and deletes segments that hold nothing
 * unacknowledged any more.
 *
 * <p>Bound: when the segments exceed {@link Options#maxBytes}, old metric summaries are merged
 * pairwise ({@link Downsampling}); only when that no longer helps is the oldest segment dropped,
 * and a loss record counts the events it held. Events are never dropped silently.
 *
 * <p>Its directory is created mode 0700 and every file in it 0600: events can carry what workloads
 * logged.
 *
 * <p>Thread-safe (every method is synchronized); one process at a time (a file lock).
 */
public final class Outbox implements AutoCloseable {
  private static final Pattern SEGMENT = Pattern.compile("(\\d{20})\\.seg");
  private static final String ACKED = "acked";
  private static final String LOCK = "lock";

  /** Text limits applied when appending, so that every record fits the controller's limits. */
  public static final int MAX_KIND = 100;

  public static final int MAX_APP = 200;
  public static final int MAX_MESSAGE = 2000;

  private static final java.util.Set<String> SEVERITIES =
      java.util.Set.of("info", "warning", "error");

  /** A record larger than this is refused: it could not travel in one message. */
  public static final int MAX_RECORD_BYTES = 48 * 1024;

  /**
   * How the outbox is bounded.
   *
   * @param maxBytes the most the segment files may hold before old metrics are down-sampled
   * @param segmentBytes size at which a new segment file is started
   * @param metricsSync longest time a metric summary may stay written but not fsynced
   */
  public record Options(long maxBytes, long segmentBytes, Duration metricsSync) {
    public static final long DEFAULT_MAX_BYTES = 64L * 1024 * 1024;
    public static final long MIN_MAX_BYTES = 64L * 1024;

    public Options {
      if (maxBytes < MIN_MAX_BYTES) {
        throw new IllegalArgumentException(
            "the outbox needs at least " + MIN_MAX_BYTES / 1024 + " KiB, got " + maxBytes + " B");
      }
      if (segmentBytes < 4096 || segmentBytes > maxBytes / 4) {
        throw new IllegalArgumentException("segment size must be 4 KiB to a quarter of the bound");
      }
    }

    /** 64 MiB. */
    public static Options defaults() {
      return bounded(DEFAULT_MAX_BYTES);
    }

    /** A bound with segments of a sixteenth of it (16 KiB to 1 MiB). */
    public static Options bounded(long maxBytes) {
      long segment = Math.clamp(maxBytes / 16, 16 * 1024, 1024 * 1024);
      return new Options(maxBytes, Math.min(segment, maxBytes / 4), Duration.ofMinutes(5));
    }
  }

  /** What opening found: segments and records kept, and bytes cut off. */
  public record Recovery(
      int segments,
      long records,
      long tornBytes,
      long corruptBytes,
      int leftoverSegments,
      int tempFiles) {}

  /** A snapshot for people, tests and metrics. */
  public record Stats(
      long bytes,
      int segments,
      long pendingEvents,
      long pendingMetrics,
      long nextSeq,
      long ackedEvents,
      long ackedMetrics,
      long mergedMetrics,
      long droppedEvents,
      long droppedMetrics) {
    public long pending() {
      return pendingEvents + pendingMetrics;
    }
  }

  private final Path dir;
  private final Options options;
  private final Clock clock;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final NavigableMap<Long, Segment> segments = new TreeMap<>();
  private final Recovery recovery;

  private FileChannel activeChannel;
  private Segment active;
  private long nextSeq;
  private long ackedEvents;
  private long ackedMetrics;
  private long pendingEvents;
  private long pendingMetrics;
  private long mergedMetrics;
  private long droppedEvents;
  private long droppedMetrics;
  private long lastSyncNanos = System.nanoTime();
  private boolean unsynced;
  private Cursor eventsCursor = Cursor.START;
  private Cursor metricsCursor = Cursor.START;
  private InFlight inFlight;
  private boolean compactionDue;
  private boolean closed;

  /** One segment file and what it holds. */
  private static final class Segment {
    final long key;
    final Path path;
    long size;
    long maxSeq;
    long maxEventSeq;
    long maxMetricSeq;

    Segment(long key, Path path) {
      this.key = key;
      this.path = path;
    }

    void saw(Frames.Frame f) {
      maxSeq = Math.max(maxSeq, f.seq());
      if (f.kind() == Frames.METRICS) {
        maxMetricSeq = Math.max(maxMetricSeq, f.seq());
      } else if (f.isRecord()) {
        maxEventSeq = Math.max(maxEventSeq, f.seq());
      }
    }
  }

  /** Where a drain scan continues: segment key and byte offset. */
  private record Cursor(long key, long offset) {
    static final Cursor START = new Cursor(-1, 0);
  }

  /** The batch handed out and not acknowledged yet. */
  private record InFlight(
      long[] eventSeqs, long[] metricSeqs, Cursor eventsAfter, Cursor metricsAfter) {}

  private Outbox(Path dir, Options options, Clock clock) throws IOException {
    this.dir = dir;
    this.options = options;
    this.clock = clock;
    SecureFiles.createPrivateDirectories(dir);
    this.lockChannel = create(dir.resolve(LOCK));
    FileLock l;
    try {
      l = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      l = null;
    }
    if (l == null) {
      lockChannel.close();
      throw new IllegalStateException("the outbox in " + dir + " is open in another process");
    }
    this.lock = l;
    try {
      this.recovery = recover();
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  /** Opens (creating if needed) the outbox in {@code dir}, repairing what a crash left behind. */
  public static Outbox open(Path dir, Options options, Clock clock) {
    try {
      return new Outbox(dir, options, clock);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the outbox in " + dir, e);
    }
  }

  // ---------------------------------------------------------------- open

  private Recovery recover() throws IOException {
    int temps = 0;
    List<Segment> found = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path p : files) {
        String name = p.getFileName().toString();
        Matcher m = SEGMENT.matcher(name);
        if (m.matches()) {
          found.add(new Segment(Long.parseLong(m.group(1)), p));
        } else if (name.endsWith(".tmp")) {
          // A compaction or acknowledgement that never got renamed: the old files are intact.
          Files.deleteIfExists(p);
          temps++;
        }
      }
    }
    found.sort(Comparator.comparingLong(s -> s.key));
    long[] acked = readAcked();
    ackedEvents = acked[0];
    ackedMetrics = acked[1];
    // Highest record seq so far (records must exceed it) and highest seq any marker covers.
    long runningMax = 0;
    long coverMax = 0;
    long records = 0;
    long torn = 0;
    long corrupt = 0;
    int leftovers = 0;
    for (int i = 0; i < found.size(); i++) {
      Segment s = found.get(i);
      boolean last = i == found.size() - 1;
      if (s.key <= coverMax) {
        // Replaced by a down-sampled segment whose marker covers it; the crash came before its
        // deletion.
        Files.deleteIfExists(s.path);
        leftovers++;
        continue;
      }
      long fileSize = Files.size(s.path);
      long pos = 0;
      try (FileChannel ch = FileChannel.open(s.path, StandardOpenOption.READ)) {
        while (true) {
          Frames.Frame f = Frames.read(ch, pos, fileSize, true, false);
          if (f.status() == Frames.Status.END) {
            break;
          }
          boolean ordered =
              f.status() == Frames.Status.OK && (!f.isRecord() || f.seq() > runningMax);
          if (!ordered) {
            boolean tornTail =
                last
                    && (f.status() == Frames.Status.INCOMPLETE
                        || (f.status() == Frames.Status.CORRUPT && f.next() == fileSize));
            if (tornTail) {
              torn += fileSize - pos;
            } else {
              corrupt += fileSize - pos;
            }
            break;
          }
          s.saw(f);
          coverMax = Math.max(coverMax, f.seq());
          if (f.isRecord()) {
            runningMax = f.seq();
            records++;
            if (f.kind() == Frames.METRICS ? f.seq() > ackedMetrics : f.seq() > ackedEvents) {
              if (f.kind() == Frames.METRICS) {
                pendingMetrics++;
              } else {
                pendingEvents++;
              }
            }
          }
          pos = f.next();
        }
      }
      if (pos < fileSize) {
        try (FileChannel ch = FileChannel.open(s.path, StandardOpenOption.WRITE)) {
          ch.truncate(pos);
          ch.force(true);
        }
      }
      s.size = pos;
      if (pos == 0) {
        Files.deleteIfExists(s.path);
        continue;
      }
      segments.put(s.key, s);
    }
    syncDir();
    nextSeq = Math.max(coverMax, Math.max(ackedEvents, ackedMetrics)) + 1;
    if (corrupt > 0) {
      appendLoss(
          0,
          corrupt
              + " bytes of the outbox were unreadable (disk error or corruption) and were dropped;"
              + " how many events they held is unknown");
    }
    deleteAcknowledgedSegments();
    return new Recovery(segments.size(), records, torn, corrupt, leftovers, temps);
  }

  private long[] readAcked() {
    Path file = dir.resolve(ACKED);
    try {
      String text = Files.readString(file, StandardCharsets.US_ASCII).trim();
      String[] parts = text.split("\\s+");
      if (parts.length == 2) {
        return new long[] {Long.parseLong(parts[0]), Long.parseLong(parts[1])};
      }
    } catch (NoSuchFileException e) {
      return new long[] {0, 0};
    } catch (IOException | NumberFormatException e) {
      // Unreadable: everything is sent again; the controller stores each seq once.
    }
    return new long[] {0, 0};
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends a device event and fsyncs it. Over-long text is cut to the outbox's limits.
   *
   * @return the record as stored, with its seq
   */
  public synchronized Telemetry.DeviceEvent appendEvent(
      String kind, String severity, String app, String message, Instant at) {
    String sev = severity == null ? "info" : severity.toLowerCase(java.util.Locale.ROOT);
    Telemetry.DeviceEvent e =
        new Telemetry.DeviceEvent(
            nextSeq,
            at,
            cut(kind == null || kind.isBlank() ? "event" : kind, MAX_KIND),
            SEVERITIES.contains(sev) ? sev : "info",
            app == null || app.isEmpty() ? null : cut(app, MAX_APP),
            cut(message == null ? "" : message, MAX_MESSAGE));
    append(Frames.EVENT, e, true);
    return e;
  }

  /**
   * Appends a metric summary over [{@code from}, {@code at}]; fsynced with the next event, the next
   * acknowledgement or after {@link Options#metricsSync}.
   *
   * @throws IllegalArgumentException if it is empty or larger than {@link #MAX_RECORD_BYTES}
   */
  public synchronized Telemetry.Metrics appendMetrics(
      Instant from, Instant at, Map<String, Telemetry.Stat> metrics) {
    return appendMetrics(from, at, metrics, false);
  }

  /**
   * Appends a metric summary as {@link #appendMetrics(Instant, Instant, Map)} does; {@code partial}
   * marks a window that ended early because the agent stopped.
   */
  public synchronized Telemetry.Metrics appendMetrics(
      Instant from, Instant at, Map<String, Telemetry.Stat> metrics, boolean partial) {
    if (metrics.isEmpty()) {
      throw new IllegalArgumentException("a metric summary needs at least one metric");
    }
    Telemetry.Metrics m = new Telemetry.Metrics(nextSeq, from, at, new TreeMap<>(metrics), partial);
    append(Frames.METRICS, m, false);
    return m;
  }

  private Telemetry.Loss appendLoss(long events, String reason) throws IOException {
    Telemetry.Loss l = new Telemetry.Loss(nextSeq, clock.instant(), events, reason);
    write(Frames.LOSS, l, true);
    return l;
  }

  private void append(byte kind, Telemetry t, boolean durable) {
    checkOpen();
    try {
      write(kind, t, durable);
      compactIfNeeded();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write to the outbox in " + dir, e);
    }
  }

  private void write(byte kind, Telemetry t, boolean durable) throws IOException {
    byte[] payload = JsonCodec.writeBytes(t);
    if (payload.length > MAX_RECORD_BYTES) {
      throw new IllegalArgumentException(
          "an outbox record may take " + MAX_RECORD_BYTES + " bytes, this one " + payload.length);
    }
    Segment s = activeFor(t.seq());
    ByteBuffer frame = Frames.encode(kind, t.seq(), payload);
    long at = s.size;
    while (frame.hasRemaining()) {
      at += activeChannel.write(frame, at);
    }
    s.size = at;
    s.saw(new Frames.Frame(Frames.Status.OK, 0, kind, t.seq(), payload.length, null));
    nextSeq = t.seq() + 1;
    if (kind == Frames.METRICS) {
      pendingMetrics++;
    } else {
      pendingEvents++;
    }
    unsynced = true;
    if (durable || System.nanoTime() - lastSyncNanos >= options.metricsSync().toNanos()) {
      sync();
    }
  }

  private Segment activeFor(long seq) throws IOException {
    if (active != null && active.size >= options.segmentBytes()) {
      closeActive();
    }
    if (active == null) {
      Map.Entry<Long, Segment> last = segments.lastEntry();
      if (last != null && last.getValue().size < options.segmentBytes()) {
        active = last.getValue();
      } else {
        active = new Segment(seq, dir.resolve(String.format("%020d.seg", seq)));
        segments.put(seq, active);
      }
      activeChannel = create(active.path);
      if (active.size == 0) {
        syncDir();
      }
    }
    return active;
  }

  private void closeActive() throws IOException {
    if (activeChannel != null) {
      activeChannel.force(false);
      activeChannel.close();
    }
    activeChannel = null;
    active = null;
  }

  /** Makes every appended record durable. */
  public synchronized void sync() {
    if (!unsynced || activeChannel == null) {
      return;
    }
    try {
      activeChannel.force(false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot sync the outbox in " + dir, e);
    }
    unsynced = false;
    lastSyncNanos = System.nanoTime();
  }

  // ---------------------------------------------------------------- drain

  /**
   * The next records to send: unacknowledged events and loss records by seq, then metric summaries
   * by seq, at most {@code maxRecords} and about {@code maxBytes} of JSON (at least one record).
   * Empty if nothing is pending or a batch is in flight.
   */
  public synchronized List<Telemetry> nextBatch(int maxRecords, int maxBytes) {
    checkOpen();
    if (inFlight != null) {
      return List.of();
    }
    List<Telemetry> out = new ArrayList<>();
    int[] bytes = {0};
    try {
      List<Long> events = new ArrayList<>();
      Cursor e = scan(eventsCursor, false, ackedEvents, maxRecords, maxBytes, out, bytes, events);
      List<Long> metrics = new ArrayList<>();
      Cursor m = scan(metricsCursor, true, ackedMetrics, maxRecords, maxBytes, out, bytes, metrics);
      if (out.isEmpty()) {
        eventsCursor = e;
        metricsCursor = m;
        return List.of();
      }
      inFlight =
          new InFlight(
              events.stream().mapToLong(Long::longValue).toArray(),
              metrics.stream().mapToLong(Long::longValue).toArray(),
              e,
              m);
      return List.copyOf(out);
    } catch (IOException ex) {
      throw new UncheckedIOException("cannot read the outbox in " + dir, ex);
    }
  }

  private Cursor scan(
      Cursor from,
      boolean wantMetrics,
      long acked,
      int maxRecords,
      int maxBytes,
      List<Telemetry> out,
      int[] bytes,
      List<Long> seqs)
      throws IOException {
    Cursor c = from;
    while (out.size() < maxRecords) {
      Long key = c.key() < 0 ? segments.ceilingKey(0L) : segments.ceilingKey(c.key());
      if (key == null) {
        return c;
      }
      if (key != c.key()) {
        c = new Cursor(key, 0);
      }
      Segment s = segments.get(key);
      if (c.offset() >= s.size) {
        Long next = segments.higherKey(key);
        if (next == null) {
          return c;
        }
        c = new Cursor(next, 0);
        continue;
      }
      try (FileChannel ch = FileChannel.open(s.path, StandardOpenOption.READ)) {
        long pos = c.offset();
        while (pos < s.size && out.size() < maxRecords) {
          Frames.Frame h = Frames.read(ch, pos, s.size, false, false);
          if (h.status() != Frames.Status.OK) {
            throw new IOException("unreadable record at " + pos + " of " + s.path);
          }
          boolean wanted =
              h.isRecord() && (h.kind() == Frames.METRICS) == wantMetrics && h.seq() > acked;
          if (wanted) {
            if (!out.isEmpty() && bytes[0] + h.length() > maxBytes) {
              return new Cursor(key, pos);
            }
            Frames.Frame full = Frames.read(ch, pos, s.size, true, true);
            if (full.status() != Frames.Status.OK) {
              throw new IOException("record at " + pos + " of " + s.path + " fails its checksum");
            }
            out.add(JsonCodec.read(full.payload(), Telemetry.class));
            bytes[0] += h.length();
            seqs.add(h.seq());
          }
          pos = h.next();
        }
        c = new Cursor(key, pos);
      }
    }
    return c;
  }

  /**
   * The controller stored every record of the batch in flight up to {@code upTo}: they are
   * released, and segments holding nothing unacknowledged are deleted. Acknowledgements for nothing
   * in flight are ignored.
   */
  public synchronized void acked(long upTo) {
    checkOpen();
    InFlight f = inFlight;
    if (f == null) {
      return;
    }
    inFlight = null;
    long e = ackedEvents;
    int eventCount = 0;
    for (long s : f.eventSeqs()) {
      if (s <= upTo) {
        e = Math.max(e, s);
        eventCount++;
      }
    }
    long m = ackedMetrics;
    int metricCount = 0;
    for (long s : f.metricSeqs()) {
      if (s <= upTo) {
        m = Math.max(m, s);
        metricCount++;
      }
    }
    if (eventCount == f.eventSeqs().length && metricCount == f.metricSeqs().length) {
      eventsCursor = f.eventsAfter();
      metricsCursor = f.metricsAfter();
    } else {
      // Part of the batch was not acknowledged: scan again from the start for it.
      resetCursors();
    }
    try {
      if (e != ackedEvents || m != ackedMetrics) {
        sync();
        writeAcked(e, m);
        ackedEvents = e;
        ackedMetrics = m;
        pendingEvents -= eventCount;
        pendingMetrics -= metricCount;
        deleteAcknowledgedSegments();
      }
      if (compactionDue) {
        compactIfNeeded();
      }
    } catch (IOException ex) {
      throw new UncheckedIOException("cannot record an acknowledgement in " + dir, ex);
    }
  }

  /**
   * The batch in flight will not be acknowledged (the connection is gone): its records are sent
   * again with the next batches.
   */
  public synchronized void resetInFlight() {
    inFlight = null;
    resetCursors();
    if (compactionDue && !closed) {
      try {
        compactIfNeeded();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot compact the outbox in " + dir, e);
      }
    }
  }

  /** Whether a batch is waiting for its acknowledgement. */
  public synchronized boolean inFlight() {
    return inFlight != null;
  }

  private void resetCursors() {
    eventsCursor = Cursor.START;
    metricsCursor = Cursor.START;
  }

  private void writeAcked(long events, long metrics) throws IOException {
    Path tmp = dir.resolve(ACKED + ".tmp");
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            EnumSet.of(
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING),
            SecureFiles.ownerOnlyFile())) {
      ByteBuffer b =
          ByteBuffer.wrap((events + " " + metrics + "\n").getBytes(StandardCharsets.US_ASCII));
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    move(tmp, dir.resolve(ACKED));
    syncDir();
  }

  private void deleteAcknowledgedSegments() throws IOException {
    boolean deleted = false;
    for (Segment s : List.copyOf(segments.values())) {
      if (s.maxEventSeq <= ackedEvents && s.maxMetricSeq <= ackedMetrics) {
        if (s == active) {
          closeActive();
        }
        segments.remove(s.key);
        Files.deleteIfExists(s.path);
        deleted = true;
      }
    }
    if (deleted) {
      syncDir();
    }
  }

  // ---------------------------------------------------------------- bound

  private long totalBytes() {
    long n = 0;
    for (Segment s : segments.values()) {
      n += s.size;
    }
    return n;
  }

  private void compactIfNeeded() throws IOException {
    if (totalBytes() <= options.maxBytes()) {
      return;
    }
    if (inFlight != null) {
      // The batch in flight must be acknowledged as sent; compact right after.
      compactionDue = true;
      return;
    }
    compactionDue = false;
    closeActive();
    long target = options.maxBytes() * 3 / 4;
    for (int round = 0; round < 64 && totalBytes() > target; round++) {
      List<Segment> all = List.copyOf(segments.values());
      if (all.isEmpty()) {
        break;
      }
      List<Segment> half = new ArrayList<>();
      long halfBytes = 0;
      long total = totalBytes();
      for (Segment s : all) {
        half.add(s);
        halfBytes += s.size;
        if (halfBytes * 2 >= total && half.size() >= Math.min(2, all.size())) {
          break;
        }
      }
      if (downsample(half) || (half.size() < all.size() && downsample(all))) {
        continue;
      }
      if (!dropOldest()) {
        break;
      }
    }
    resetCursors();
  }

  /**
   * Rewrites consecutive segments as one with neighbouring metric summaries merged and acknowledged
   * records left out; false if that would not shrink them by at least a tenth.
   */
  private boolean downsample(List<Segment> run) throws IOException {
    // The run may include the segment being appended to; its file is about to be replaced.
    closeActive();
    List<Telemetry> others = new ArrayList<>();
    List<Telemetry.Metrics> metrics = new ArrayList<>();
    long before = 0;
    long cover = 0;
    for (Segment s : run) {
      before += s.size;
      cover = Math.max(cover, s.maxSeq);
      for (Telemetry t : records(s)) {
        if (t instanceof Telemetry.Metrics m) {
          if (m.seq() > ackedMetrics) {
            metrics.add(m);
          }
        } else if (t.seq() > ackedEvents) {
          others.add(t);
        }
      }
    }
    List<Telemetry.Metrics> merged = Downsampling.halve(metrics);
    List<Telemetry> kept = new ArrayList<>(others);
    kept.addAll(merged);
    kept.sort(Comparator.comparingLong(Telemetry::seq));
    List<ByteBuffer> frames = new ArrayList<>();
    long after = Frames.HEADER;
    frames.add(Frames.encode(Frames.MARKER, cover, new byte[0]));
    for (Telemetry t : kept) {
      ByteBuffer f = Frames.encode(kindOf(t), t.seq(), JsonCodec.writeBytes(t));
      after += f.remaining();
      frames.add(f);
    }
    if (after > before - before / 10) {
      return false;
    }
    Segment first = run.getFirst();
    Path tmp = dir.resolve(first.path.getFileName() + ".tmp");
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            EnumSet.of(
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING),
            SecureFiles.ownerOnlyFile())) {
      for (ByteBuffer f : frames) {
        while (f.hasRemaining()) {
          ch.write(f);
        }
      }
      ch.force(true);
    }
    move(tmp, first.path);
    syncDir();
    // From here a crash leaves the rest of the run behind, and the marker tells open to drop it.
    for (Segment s : run.subList(1, run.size())) {
      Files.deleteIfExists(s.path);
      segments.remove(s.key);
    }
    syncDir();
    Segment replaced = new Segment(first.key, first.path);
    replaced.size = after;
    replaced.maxSeq = cover;
    for (Telemetry t : kept) {
      replaced.saw(new Frames.Frame(Frames.Status.OK, 0, kindOf(t), t.seq(), 0, null));
    }
    segments.put(first.key, replaced);
    mergedMetrics += metrics.size() - merged.size();
    pendingMetrics -= metrics.size() - merged.size();
    return true;
  }

  /** Drops the oldest segment, after a durable loss record that counts its events. */
  private boolean dropOldest() throws IOException {
    Map.Entry<Long, Segment> oldest = segments.firstEntry();
    if (oldest == null || segments.size() < 2) {
      // Only one segment and still over the bound: nothing sensible is left to drop.
      return false;
    }
    Segment s = oldest.getValue();
    long events = 0;
    long eventRecords = 0;
    long metricRecords = 0;
    for (Telemetry t : records(s)) {
      switch (t) {
        case Telemetry.Metrics m -> {
          if (m.seq() > ackedMetrics) {
            metricRecords++;
          }
        }
        case Telemetry.DeviceEvent e -> {
          if (e.seq() > ackedEvents) {
            events++;
            eventRecords++;
          }
        }
        case Telemetry.Loss l -> {
          if (l.seq() > ackedEvents) {
            events += l.events();
            eventRecords++;
          }
        }
      }
    }
    appendLoss(
        events,
        "outbox full ("
            + options.maxBytes()
            + " bytes): dropped the oldest "
            + events
            + " event(s) and "
            + metricRecords
            + " metric summary(ies) after down-sampling no longer helped");
    closeActive();
    segments.remove(s.key);
    Files.deleteIfExists(s.path);
    syncDir();
    pendingEvents -= eventRecords;
    pendingMetrics -= metricRecords;
    droppedEvents += events;
    droppedMetrics += metricRecords;
    return true;
  }

  private List<Telemetry> records(Segment s) throws IOException {
    List<Telemetry> out = new ArrayList<>();
    try (FileChannel ch = FileChannel.open(s.path, StandardOpenOption.READ)) {
      long pos = 0;
      while (pos < s.size) {
        Frames.Frame f = Frames.read(ch, pos, s.size, true, true);
        if (f.status() != Frames.Status.OK) {
          throw new IOException("unreadable record at " + pos + " of " + s.path);
        }
        if (f.isRecord()) {
          out.add(JsonCodec.read(f.payload(), Telemetry.class));
        }
        pos = f.next();
      }
    }
    return out;
  }

  private static byte kindOf(Telemetry t) {
    return switch (t) {
      case Telemetry.Metrics m -> Frames.METRICS;
      case Telemetry.DeviceEvent e -> Frames.EVENT;
      case Telemetry.Loss l -> Frames.LOSS;
    };
  }

  // ---------------------------------------------------------------- misc

  /** What the last open found and repaired. */
  public Recovery recovery() {
    return recovery;
  }

  public synchronized Stats stats() {
    return new Stats(
        totalBytes(),
        segments.size(),
        pendingEvents,
        pendingMetrics,
        nextSeq,
        ackedEvents,
        ackedMetrics,
        mergedMetrics,
        droppedEvents,
        droppedMetrics);
  }

  public Path dir() {
    return dir;
  }

  public Options options() {
    return options;
  }

  /** Every unacknowledged record in seq order, for tests and diagnostics (reads every segment). */
  public synchronized List<Telemetry> pending() {
    List<Telemetry> out = new ArrayList<>();
    try {
      for (Segment s : segments.values()) {
        for (Telemetry t : records(s)) {
          long acked = t instanceof Telemetry.Metrics ? ackedMetrics : ackedEvents;
          if (t.seq() > acked) {
            out.add(t);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the outbox in " + dir, e);
    }
    return out;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      closeActive();
    } catch (IOException e) {
      // Closing anyway; what was written is in the file.
    }
    try {
      if (lock != null) {
        lock.release();
      }
      lockChannel.close();
    } catch (IOException e) {
      // The lock goes with the process anyway.
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the outbox in " + dir + " is closed");
    }
  }

  /** Opens a file for writing, creating it readable by the agent's user only. */
  private static FileChannel create(Path file) throws IOException {
    return FileChannel.open(
        file,
        EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
        SecureFiles.ownerOnlyFile());
  }

  private void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private void syncDir() {
    SecureFiles.syncDirectory(dir);
  }

  private static String cut(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max - 1) + "…";
  }
}
