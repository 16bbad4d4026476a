package io.edgefleet.agent.cluster;

import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The content-addressed artifacts (K3s binaries) the agent keeps under {@code
 * <state>/artifacts/sha256/<hex>}: downloaded resumably, verified against their digest before any
 * use, made executable, and deleted once no section wants them. Not thread-safe: used from the
 * cluster worker only.
 */
final class Artifacts {
  /** The largest artifact taken: the controller's own default limit is 512 MiB. */
  static final long MAX_BYTES = 1L << 30;

  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  /** Fetches an artifact's bytes into a file, going on from a partial one an earlier try left. */
  @FunctionalInterface
  interface Downloader {
    /**
     * @param digest {@code sha256:<hex>}
     * @param file where the bytes go; a partial download sits next to it until complete
     * @throws IOException if the controller cannot be reached, refuses, or the transfer is cut
     */
    void download(String digest, Path file, long maxBytes) throws IOException;
  }

  private final Path dir;
  private final Downloader downloader;
  private final Set<String> verified = ConcurrentHashMap.newKeySet();

  Artifacts(Path stateDir, Downloader downloader) {
    this.dir = stateDir.resolve("artifacts").resolve("sha256");
    this.downloader = downloader;
  }

  Path dir() {
    return dir;
  }

  /** Where an artifact lives once verified. */
  Path path(ArtifactRef ref) {
    return dir.resolve(hex(ref.digest()));
  }

  /** Whether the artifact is here and verified (no download needed). */
  boolean present(ArtifactRef ref) {
    return verified.contains(ref.digest()) && Files.isRegularFile(path(ref));
  }

  /**
   * The artifact's executable file: downloaded if missing, its digest checked before it is used.
   *
   * @throws IOException with a message for a person: unreachable, refused, too large, or its bytes
   *     do not match the digest ({@link ErrorCode#ARTIFACT_DIGEST_MISMATCH}; the bytes are dropped)
   */
  Path ensure(ArtifactRef ref) throws IOException {
    if (ref == null || ref.digest() == null || !DIGEST.matcher(ref.digest()).matches()) {
      throw new IOException(
          "the cluster section names no valid K3s artifact (want sha256:<64 hex>)");
    }
    if (ref.size() < 0 || ref.size() > MAX_BYTES) {
      throw new IOException(
          "the K3s artifact "
              + ref.digest()
              + " is "
              + ref.size()
              + " bytes; at most "
              + MAX_BYTES
              + " are taken");
    }
    Path file = path(ref);
    if (present(ref)) {
      return file;
    }
    Files.createDirectories(dir);
    if (Files.isRegularFile(file)) {
      // Left by an earlier run: used only once it proves to be what it claims.
      if (matches(file, ref)) {
        executable(file);
        verified.add(ref.digest());
        return file;
      }
      Files.delete(file);
    }
    Path download = dir.resolve(hex(ref.digest()) + ".download");
    downloader.download(ref.digest(), download, ref.size());
    if (!matches(download, ref)) {
      Files.deleteIfExists(download);
      throw new IOException(
          "the K3s artifact downloaded for "
              + ref.digest()
              + " does not match that digest ["
              + ErrorCode.ARTIFACT_DIGEST_MISMATCH
              + "]; it was discarded and will be fetched again");
    }
    executable(download);
    Files.move(download, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    verified.add(ref.digest());
    return file;
  }

  /** Deletes every artifact (and partial download) but those with the given digests. */
  void keepOnly(Set<String> digests) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    Set<String> keep = ConcurrentHashMap.newKeySet();
    digests.forEach(d -> keep.add(hex(d)));
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        int dot = name.indexOf('.');
        String base = dot < 0 ? name : name.substring(0, dot);
        if (!keep.contains(base)
            && Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          Files.delete(f);
          verified.remove("sha256:" + base);
        }
      }
    }
  }

  private static boolean matches(Path file, ArtifactRef ref) throws IOException {
    if (Files.size(file) != ref.size()) {
      return false;
    }
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return ("sha256:" + HexFormat.of().formatHex(md.digest())).equals(ref.digest());
  }

  private static void executable(Path file) throws IOException {
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    } catch (UnsupportedOperationException e) {
      if (!file.toFile().setExecutable(true)) {
        throw new IOException("cannot make " + file + " executable", e);
      }
    }
  }

  private static String hex(String digest) {
    return digest.startsWith("sha256:") ? digest.substring(7) : digest;
  }
}
