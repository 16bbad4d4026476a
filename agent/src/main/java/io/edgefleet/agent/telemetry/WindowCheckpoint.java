package io.edgefleet.agent.telemetry;

import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.Telemetry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32;

/**
 * The telemetry window in progress, kept in one small file next to the outbox ({@code window}) so
 * that a restart continues the window grid and a crash loses at most the samples since the last
 * save: where the grid of windows lies, the window length, and the summary of the open window so
 * far.
 *
 * <p>The file is rewritten in place ({@code [int length][int crc32][JSON]}, then truncated) and
 * never fsynced: a killed process leaves what it wrote in the page cache, which is what this is
 * for; after a power cut the content may be old or torn, which the checksum recognises (the file is
 * then ignored). Writing costs one small write to the page cache; the kernel writes the page back
 * at most once per writeback interval (see decision 0011 for the figures).
 *
 * <p>Not thread-safe: the telemetry feature calls it under its lock.
 */
final class WindowCheckpoint implements AutoCloseable {
  /** The file's name in the outbox directory. */
  static final String FILE = "window";

  private static final int HEADER = 8;
  private static final int MAX_BYTES = 256 * 1024;

  /**
   * What is saved.
   *
   * @param grid a boundary of the window grid: windows end at {@code grid + n × windowSeconds}
   * @param windowSeconds the window length in force
   * @param from start of the open window, null if none is open
   * @param at time of its last saved sample
   * @param metrics its summary so far (null if none is open)
   */
  record State(
      Instant grid,
      long windowSeconds,
      Instant from,
      Instant at,
      Map<String, Telemetry.Stat> metrics) {
    /** Whether it holds samples of an open window. */
    boolean hasOpenWindow() {
      return from != null && at != null && metrics != null && !metrics.isEmpty();
    }
  }

  private final Path file;
  private FileChannel channel;
  private long writes;

  WindowCheckpoint(Path dir) {
    this.file = dir.resolve(FILE);
  }

  /** What the file holds, or empty if there is none or it is torn or unreadable. */
  Optional<State> load() {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < HEADER || size > MAX_BYTES + HEADER) {
        return Optional.empty();
      }
      ByteBuffer b = ByteBuffer.allocate((int) size);
      while (b.hasRemaining() && ch.read(b) >= 0) {
        // read on
      }
      b.flip();
      int length = b.getInt();
      int crc = b.getInt();
      if (length < 0 || length > b.remaining()) {
        return Optional.empty();
      }
      byte[] json = new byte[length];
      b.get(json);
      if (crc(json) != crc) {
        return Optional.empty();
      }
      State s = Json.mapper().readValue(json, State.class);
      return s.grid() == null || s.windowSeconds() < 1 ? Optional.empty() : Optional.of(s);
    } catch (IOException | RuntimeException e) {
      // Missing, torn by a power cut, or written by something else: start a fresh grid.
      return Optional.empty();
    }
  }

  /** Replaces what the file holds; the bytes reach the page cache, not necessarily the disk. */
  void save(State state) {
    byte[] json = Json.writeBytes(state);
    if (json.length > MAX_BYTES) {
      // A summary this large is refused by the outbox too; keep the grid only.
      json = Json.writeBytes(new State(state.grid(), state.windowSeconds(), null, null, null));
    }
    ByteBuffer b = ByteBuffer.allocate(HEADER + json.length);
    b.putInt(json.length).putInt(crc(json)).put(json).flip();
    try {
      if (channel == null) {
        channel =
            FileChannel.open(
                file,
                EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
                SecureFiles.ownerOnlyFile());
      }
      long pos = 0;
      while (b.hasRemaining()) {
        pos += channel.write(b, pos);
      }
      channel.truncate(pos);
      writes++;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save the telemetry window in " + file, e);
    }
  }

  /** Saves done since this object was made. */
  long writes() {
    return writes;
  }

  Path file() {
    return file;
  }

  private static int crc(byte[] bytes) {
    CRC32 c = new CRC32();
    c.update(bytes);
    return (int) c.getValue();
  }

  @Override
  public void close() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // What was written is in the page cache either way.
      }
      channel = null;
    }
  }
}
