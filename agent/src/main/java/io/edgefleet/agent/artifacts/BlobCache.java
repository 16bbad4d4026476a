package io.edgefleet.agent.artifacts;

import io.edgefleet.agent.runtime.Blobs;
import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.SecureFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;
import java.util.regex.Pattern;

/**
 * The content-addressed blobs this device holds (container images as OCI archives, VM disks), under
 * {@code <root>/sha256/<hex>}, read-only: a blob appears under its final name only once its whole
 * digest matched ({@link #commit}), by an atomic rename, so a reader never sees a partial or
 * unverified file. Downloads under way live in {@code <root>/partial/} ({@link PartialBlob}).
 *
 * <p>The cache keeps a reserve of free disk space ({@link #room}); blobs no longer wanted are
 * deleted by {@link #collect} after a grace period, and never while a process has them open.
 *
 * <p>Thread-safe: {@link #find} may be called from any thread; the writing methods are called from
 * one worker (the artifacts feature).
 */
public final class BlobCache implements Blobs {
  /** The default reserve of free space downloads never use: 256 MiB. */
  public static final long DEFAULT_RESERVE_BYTES = 256L << 20;

  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
  private static final Set<PosixFilePermission> READ_ONLY =
      PosixFilePermissions.fromString("r--------");

  private final Path root;
  private final Path blobs;
  private final Path partial;
  private final long reserveBytes;
  private final ToLongFunction<Path> freeSpace;
  private final Predicate<Path> inUse;

  /** When each blob (or partial download) that is no longer wanted was first seen unwanted. */
  private final Map<String, Instant> unwantedSince = new HashMap<>();

  /**
   * @param root the cache's directory, e.g. {@code <state>/blobs}
   * @param reserveBytes free space downloads leave on the disk
   * @param freeSpace the usable free bytes of the file system holding a path
   * @param inUse whether a process holds a file open (such a blob is never deleted)
   */
  BlobCache(Path root, long reserveBytes, ToLongFunction<Path> freeSpace, Predicate<Path> inUse) {
    if (reserveBytes < 0) {
      throw new IllegalArgumentException("the free space reserve must not be negative");
    }
    this.root = root;
    this.blobs = root.resolve("sha256");
    this.partial = root.resolve("partial");
    this.reserveBytes = reserveBytes;
    this.freeSpace = freeSpace;
    this.inUse = inUse;
    SecureFiles.createPrivateDirectories(blobs);
    SecureFiles.createPrivateDirectories(partial);
  }

  /**
   * The cache under {@code <stateDir>/blobs}, keeping {@code reserveBytes} of the disk free; a blob
   * is in use while any process of this host has it open ({@code /proc/<pid>/fd}).
   */
  public static BlobCache open(Path stateDir, long reserveBytes) {
    return new BlobCache(
        stateDir.resolve("blobs"), reserveBytes, BlobCache::usable, OpenFiles::anyOpen);
  }

  private static long usable(Path p) {
    try {
      return Files.getFileStore(p).getUsableSpace();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the free space of " + p, e);
    }
  }

  /** The cache's directory. */
  Path root() {
    return root;
  }

  /** Whether {@code digest} is a well-formed {@code sha256:<64 lowercase hex>}. */
  public static boolean wellFormed(String digest) {
    return digest != null && DIGEST.matcher(digest).matches();
  }

  @Override
  public Optional<Path> find(String digest) {
    if (!wellFormed(digest)) {
      return Optional.empty();
    }
    Path file = blobs.resolve(PartialBlob.hex(digest));
    return Files.isRegularFile(file) ? Optional.of(file) : Optional.empty();
  }

  /** The digests of every blob held, sorted. */
  public Set<String> held() {
    Set<String> out = new TreeSet<>();
    for (Path p : list(blobs)) {
      String name = p.getFileName().toString();
      if (HEX.matcher(name).matches()) {
        out.add("sha256:" + name);
      }
    }
    return out;
  }

  /** Whether the blob {@code digest} of {@code size} bytes is held (a wrong size is not). */
  public boolean holds(String digest, long size) {
    Optional<Path> file = find(digest);
    if (file.isEmpty()) {
      return false;
    }
    try {
      return Files.size(file.get()) == size;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Makes sure a held blob is read-only (the state directory is restricted to mode 0600 on each
   * start, which also makes blobs writable again).
   */
  void readOnly(String digest) {
    find(digest)
        .ifPresent(
            p -> {
              try {
                if (!Files.getPosixFilePermissions(p).equals(READ_ONLY)) {
                  Files.setPosixFilePermissions(p, READ_ONLY);
                }
              } catch (IOException e) {
                // Still readable; the next pass tries again.
              }
            });
  }

  /** The download of a blob, going on from what an earlier run verified. */
  PartialBlob partial(ArtifactChunks chunks) throws IOException {
    return PartialBlob.open(partial, chunks);
  }

  /** The chunk list an earlier attempt kept for {@code digest}. */
  Optional<ArtifactChunks> keptChunks(String digest) {
    return PartialBlob.storedChunks(partial, digest);
  }

  /** The bytes of {@code digest} verified so far by downloads of this or an earlier run. */
  long verified(String digest) {
    return find(digest).isPresent() ? -1 : PartialBlob.verifiedOf(partial, digest);
  }

  /**
   * Puts a complete download in place under its digest, read-only, once the digest of all its bytes
   * matched; a download whose bytes do not match is deleted.
   *
   * @throws BlobMismatch if the whole digest does not match (the download is gone)
   */
  void commit(PartialBlob p) throws IOException {
    String digest = p.chunks().digest();
    String got = p.wholeDigest();
    p.close();
    if (!got.equals(digest)) {
      PartialBlob.delete(partial, digest);
      throw new BlobMismatch(
          "the bytes downloaded for "
              + digest
              + " have digest "
              + got
              + " although every chunk matched; the download was discarded and starts over");
    }
    Path target = blobs.resolve(PartialBlob.hex(digest));
    Files.setPosixFilePermissions(p.data(), READ_ONLY);
    try {
      Files.move(p.data(), target, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(p.data(), target, StandardCopyOption.REPLACE_EXISTING);
    }
    SecureFiles.syncDirectory(blobs);
    PartialBlob.delete(partial, digest);
  }

  /**
   * Stores a blob read from {@code in} (an imported export bundle) under {@code digest}, read-only,
   * once its bytes match the digest and number exactly {@code size}; otherwise nothing is kept.
   *
   * @return whether the bytes matched (and the blob is held now)
   * @throws IOException if reading or writing fails, or the disk has no room for it
   */
  public boolean put(String digest, long size, InputStream in) throws IOException {
    if (!wellFormed(digest) || size < 0) {
      return false;
    }
    Optional<String> full = room(size);
    if (full.isPresent()) {
      throw new IOException(full.get());
    }
    Path temp = partial.resolve("import-" + PartialBlob.hex(digest));
    java.security.MessageDigest sha;
    try {
      sha = java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    long written = 0;
    try (java.nio.channels.FileChannel out =
        java.nio.channels.FileChannel.open(
            temp,
            java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.TRUNCATE_EXISTING,
            java.nio.file.StandardOpenOption.WRITE)) {
      byte[] buffer = new byte[64 * 1024];
      int n;
      // One byte past the size is enough to know the entry is too long: never read further.
      while ((n = in.read(buffer, 0, (int) Math.min(buffer.length, size - written + 1))) > 0) {
        written += n;
        if (written > size) {
          break;
        }
        sha.update(buffer, 0, n);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(buffer, 0, n);
        while (b.hasRemaining()) {
          out.write(b);
        }
      }
      out.force(true);
    } catch (IOException e) {
      Files.deleteIfExists(temp);
      throw e;
    }
    String got = "sha256:" + java.util.HexFormat.of().formatHex(sha.digest());
    if (written != size || !got.equals(digest)) {
      Files.deleteIfExists(temp);
      return false;
    }
    Path target = blobs.resolve(PartialBlob.hex(digest));
    Files.setPosixFilePermissions(temp, READ_ONLY);
    try {
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
    }
    SecureFiles.syncDirectory(blobs);
    return true;
  }

  /** A download whose whole digest did not match. */
  static final class BlobMismatch extends IOException {
    BlobMismatch(String message) {
      super(message);
    }
  }

  /**
   * Whether the disk has room for {@code bytes} more while keeping the reserve free.
   *
   * @return empty if it has, else why not (for the report)
   */
  Optional<String> room(long bytes) {
    long free = freeSpace.applyAsLong(partial);
    if (free - bytes >= reserveBytes) {
      return Optional.empty();
    }
    return Optional.of(
        "the disk is too full: "
            + bytes
            + " bytes are still to download, "
            + free
            + " are free and "
            + reserveBytes
            + " stay free as a reserve; free space on the device or drop apps");
  }

  /**
   * Deletes the blobs and partial downloads not in {@code keep} that have been unwanted for {@code
   * grace} (counted from the first call that found them unwanted) and that no process has open.
   *
   * @return the digests deleted
   */
  List<String> collect(Set<String> keep, Instant now, Duration grace) {
    Map<String, List<Path>> found = new HashMap<>();
    for (Path p : list(blobs)) {
      String name = p.getFileName().toString();
      if (HEX.matcher(name).matches()) {
        found.computeIfAbsent("sha256:" + name, d -> new ArrayList<>()).add(p);
      }
    }
    for (Path p : list(partial)) {
      String name = p.getFileName().toString();
      int dot = name.indexOf('.');
      String hex = dot < 0 ? name : name.substring(0, dot);
      if (HEX.matcher(hex).matches()) {
        found.computeIfAbsent("sha256:" + hex, d -> new ArrayList<>()).add(p);
      }
    }
    unwantedSince.keySet().retainAll(found.keySet());
    List<String> deleted = new ArrayList<>();
    for (Map.Entry<String, List<Path>> e : found.entrySet()) {
      String digest = e.getKey();
      if (keep.contains(digest)) {
        unwantedSince.remove(digest);
        continue;
      }
      Instant since = unwantedSince.computeIfAbsent(digest, d -> now);
      if (now.isBefore(since.plus(grace)) || e.getValue().stream().anyMatch(inUse)) {
        continue;
      }
      try {
        for (Path p : e.getValue()) {
          Files.deleteIfExists(p);
        }
        unwantedSince.remove(digest);
        deleted.add(digest);
      } catch (IOException ex) {
        // Tried again on the next pass.
      }
    }
    return deleted;
  }

  private static List<Path> list(Path dir) {
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
      s.forEach(out::add);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
    return out;
  }
}
