package io.edgefleet.controller.artifacts;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Blobs in a directory: {@code <root>/sha256/<hex>}, side files as {@code <hex>.<name>}. A blob is
 * staged in {@code <root>/tmp/} (the same file system) and renamed into place once its digest is
 * known, so a reader never sees a partial blob. Thread-safe: blobs are immutable and a rename is
 * atomic.
 */
public final class DirectoryBlobStore implements BlobStore {
  private final Path root;
  private final Path blobs;
  private final BlobStaging staging;

  public DirectoryBlobStore(Path root) {
    this.root = root;
    this.blobs = root.resolve("sha256");
    this.staging = new BlobStaging(root.resolve("tmp"));
    try {
      Files.createDirectories(blobs);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot create the artifact directory " + root, e);
    }
  }

  @Override
  public Written write(InputStream in, long max) throws IOException {
    return staging.write(in, max);
  }

  @Override
  public void commit(Written written) throws IOException {
    Path target = path(written.digest());
    if (Files.exists(target)) {
      Files.deleteIfExists(written.temp());
      return;
    }
    move(written.temp(), target);
  }

  @Override
  public void discard(Written written) {
    staging.discard(written);
  }

  @Override
  public OptionalLong size(String digest) throws IOException {
    Path file = path(digest);
    try {
      return OptionalLong.of(Files.size(file));
    } catch (NoSuchFileException e) {
      return OptionalLong.empty();
    }
  }

  @Override
  public InputStream open(String digest, long from, long count) throws IOException {
    FileChannel channel = FileChannel.open(path(digest));
    try {
      channel.position(from);
      InputStream in = Channels.newInputStream(channel);
      return new BoundedInputStream(in, count);
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  @Override
  public void delete(String digest) throws IOException {
    Path blob = path(digest);
    Files.deleteIfExists(blob);
    for (String side : SIDE_FILES) {
      Files.deleteIfExists(sidePath(digest, side));
    }
  }

  @Override
  public Optional<byte[]> side(String digest, String name) throws IOException {
    try {
      return Optional.of(Files.readAllBytes(sidePath(digest, name)));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  @Override
  public void putSide(String digest, String name, byte[] content) throws IOException {
    Path target = sidePath(digest, name);
    Path temp = Files.createTempFile(blobs, "." + target.getFileName(), ".tmp");
    try {
      Files.write(temp, content);
      move(temp, target);
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  @Override
  public String location() {
    return root.toString();
  }

  /** Where the blob of {@code digest} lives (it may not exist). */
  Path path(String digest) {
    return blobs.resolve(BlobStore.hex(digest));
  }

  private Path sidePath(String digest, String name) {
    if (!SIDE_FILES.contains(name)) {
      throw new IllegalArgumentException("not a side file name: " + name);
    }
    return blobs.resolve(BlobStore.hex(digest) + "." + name);
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
