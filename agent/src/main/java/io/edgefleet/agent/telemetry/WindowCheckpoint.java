package io.edgefleet.agent.telemetry;

import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.zip.CRC32;

/**
 * What the telemetry feature keeps of its windows across a stop or a crash, in two files:
 *
 * <ul>
 *   <li>the <b>grid</b> of windows (an origin and the window length) in the outbox directory
 *       ({@value #GRID_FILE}), written when it is first made, when the controller changes the
 *       length and when the agent stops: a few writes in the agent's life, each fsynced;
 *   <li>the <b>open window</b>'s summary so far, saved every few samples in a directory that lives
 *       in memory ({@code /dev/shm}), so that a crashed agent (kill -9, the OOM killer) finds it
 *       when it starts again. A reboot empties that directory, but a reboot stops the agent
 *       gracefully, which summarises the window then; only a power cut loses it, as it loses
 *       whatever is not fsynced. Saves there never reach the disk: no wear on flash (decision 0011
 *       has the figures that chose this over the outbox directory).
 * </ul>
 *
 * The open-window file is {@code [int length][int crc32][JSON]}, rewritten in place; a torn or
 * foreign file is ignored. The memory directory is {@code /dev/shm/edgefleet-agent-<hash of the
 * outbox directory>}, created 0700 and used only if it is a directory (not a link) that belongs to
 * the owner of the outbox directory and nobody else may enter; otherwise open windows are not
 * saved.
 *
 * <p>Not thread-safe: the telemetry feature calls it under its lock.
 */
final class WindowCheckpoint implements AutoCloseable {
  /** The grid's file in the outbox directory. */
  static final String GRID_FILE = "window-grid";

  /** The open window's file in the memory directory. */
  static final String OPEN_FILE = "window";

  private static final Path SHM = Path.of("/dev/shm");
  private static final int HEADER = 8;
  private static final int MAX_BYTES = 256 * 1024;

  /** Windows end at {@code origin + n × windowSeconds}. */
  record Grid(Instant origin, long windowSeconds) {}

  /** The open window: samples from {@code from} to the last one saved, at {@code at}. */
  record Open(Instant from, Instant at, Map<String, Telemetry.Stat> metrics) {}

  private final Path gridFile;
  private final Path openFile;
  private FileChannel open;
  private boolean openSaved;
  private long openWrites;

  /**
   * @param outboxDir where the grid is kept
   * @param openDir where open windows are saved, null for nowhere (they are then lost in a crash)
   */
  WindowCheckpoint(Path outboxDir, Path openDir) {
    this.gridFile = outboxDir.resolve(GRID_FILE);
    this.openFile = openDir == null ? null : openDir.resolve(OPEN_FILE);
  }

  /**
   * The memory directory for the open windows of the outbox in {@code outboxDir}, if this machine
   * has {@code /dev/shm} and the directory is this user's alone.
   */
  static Optional<Path> memoryDirFor(Path outboxDir) {
    if (!Files.isDirectory(SHM)) {
      return Optional.empty();
    }
    Path dir = SHM.resolve("edgefleet-agent-" + hash(outboxDir.toAbsolutePath().normalize()));
    try {
      SecureFiles.createPrivateDirectories(dir);
      boolean ours =
          Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
              && Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS)
                  .equals(Files.getOwner(outboxDir, LinkOption.NOFOLLOW_LINKS))
              && Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS)
                  .equals(
                      Set.of(
                          PosixFilePermission.OWNER_READ,
                          PosixFilePermission.OWNER_WRITE,
                          PosixFilePermission.OWNER_EXECUTE));
      return ours ? Optional.of(dir) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  private static String hash(Path p) {
    try {
      byte[] d =
          MessageDigest.getInstance("SHA-256")
              .digest(p.toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The grid kept, or empty if there is none or it cannot be read. */
  Optional<Grid> grid() {
    try {
      Grid g = JsonCodec.read(Files.readAllBytes(gridFile), Grid.class);
      return g.origin() == null || g.windowSeconds() < 1 ? Optional.empty() : Optional.of(g);
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** Keeps the grid (atomically, fsynced: it is written a few times in the agent's life). */
  void saveGrid(Grid grid) {
    SecureFiles.writeSecret(gridFile, JsonCodec.writeBytes(grid));
  }

  /** The open window a crash left, or empty if there is none or it is torn or unreadable. */
  Optional<Open> open() {
    if (openFile == null) {
      return Optional.empty();
    }
    try (FileChannel ch =
        FileChannel.open(openFile, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
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
      Open o = JsonCodec.read(json, Open.class);
      boolean whole = o.from() != null && o.at() != null && o.metrics() != null;
      return whole && !o.metrics().isEmpty() ? Optional.of(o) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      // None, torn, or written by something else.
      return Optional.empty();
    }
  }

  /** Saves the open window: a write to memory, never to the disk. False if there is nowhere. */
  boolean saveOpen(Open window) {
    if (openFile == null) {
      return false;
    }
    byte[] json = JsonCodec.writeBytes(window);
    if (json.length > MAX_BYTES) {
      return false;
    }
    ByteBuffer b = ByteBuffer.allocate(HEADER + json.length);
    b.putInt(json.length).putInt(crc(json)).put(json).flip();
    try {
      if (open == null) {
        open =
            FileChannel.open(
                openFile,
                Set.<OpenOption>of(
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
                SecureFiles.ownerOnlyFile());
      }
      long pos = 0;
      while (b.hasRemaining()) {
        pos += open.write(b, pos);
      }
      open.truncate(pos);
      openSaved = true;
      openWrites++;
      return true;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save the telemetry window in " + openFile, e);
    }
  }

  /** Forgets the saved open window: its samples are in the outbox now. */
  void clearOpen() {
    if (openFile == null || (!openSaved && open == null && !Files.exists(openFile))) {
      return;
    }
    closeOpen();
    try {
      Files.deleteIfExists(openFile);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clear the telemetry window in " + openFile, e);
    }
    openSaved = false;
  }

  /** Whether an open window was saved since the last {@link #clearOpen}. */
  boolean openSaved() {
    return openSaved;
  }

  /** Saves of open windows since this object was made. */
  long openWrites() {
    return openWrites;
  }

  private void closeOpen() {
    if (open != null) {
      try {
        open.close();
      } catch (IOException e) {
        // Nothing was buffered: each save is one write.
      }
      open = null;
    }
  }

  private static int crc(byte[] bytes) {
    CRC32 c = new CRC32();
    c.update(bytes);
    return (int) c.getValue();
  }

  @Override
  public void close() {
    closeOpen();
  }
}
