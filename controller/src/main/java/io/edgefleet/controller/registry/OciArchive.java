package io.edgefleet.controller.registry;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes one image as an OCI image layout in a tar file (an "oci-archive", as {@code skopeo} and
 * {@code podman load} read it): {@code oci-layout}, {@code index.json} naming the manifest with an
 * {@code org.opencontainers.image.ref.name}, and {@code blobs/sha256/<hex>} for the manifest, the
 * config and each layer. The output depends only on its inputs (fixed owners, modes and times,
 * entries in a fixed order), so the same image gives the same bytes, hence the same artifact
 * digest.
 */
final class OciArchive {
  private OciArchive() {}

  /**
   * Writes the archive.
   *
   * @param manifest the manifest's bytes exactly as the registry sent them (its digest is theirs)
   * @param blobs every blob the manifest names (config first, then layers, each once), in order,
   *     with the file holding its verified bytes
   */
  static void write(
      Path archive,
      byte[] manifest,
      String manifestMediaType,
      String manifestDigest,
      String refName,
      Map<String, Path> blobs)
      throws IOException {
    String index =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
            + "\"manifests\":[{\"mediaType\":\""
            + manifestMediaType
            + "\",\"digest\":\""
            + manifestDigest
            + "\",\"size\":"
            + manifest.length
            + ",\"annotations\":{\"org.opencontainers.image.ref.name\":\""
            + refName
            + "\"}}]}";
    try (OutputStream out = Files.newOutputStream(archive);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      directory(tar, "blobs/");
      directory(tar, "blobs/sha256/");
      bytes(
          tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
      bytes(tar, "index.json", index.getBytes(StandardCharsets.UTF_8));
      bytes(tar, blobPath(manifestDigest), manifest);
      for (Map.Entry<String, Path> blob : blobs.entrySet()) {
        if (blob.getKey().equals(manifestDigest)) {
          continue;
        }
        TarArchiveEntry e = entry(blobPath(blob.getKey()), 0100644);
        e.setSize(Files.size(blob.getValue()));
        tar.putArchiveEntry(e);
        try (InputStream in = Files.newInputStream(blob.getValue())) {
          in.transferTo(tar);
        }
        tar.closeArchiveEntry();
      }
      tar.finish();
    }
  }

  private static String blobPath(String digest) {
    return "blobs/sha256/" + digest.substring("sha256:".length());
  }

  private static void directory(TarArchiveOutputStream tar, String name) throws IOException {
    tar.putArchiveEntry(entry(name, 040755));
    tar.closeArchiveEntry();
  }

  private static void bytes(TarArchiveOutputStream tar, String name, byte[] content)
      throws IOException {
    TarArchiveEntry e = entry(name, 0100644);
    e.setSize(content.length);
    tar.putArchiveEntry(e);
    tar.write(content);
    tar.closeArchiveEntry();
  }

  private static TarArchiveEntry entry(String name, int mode) {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setMode(mode);
    e.setModTime(0);
    e.setUserId(0);
    e.setGroupId(0);
    e.setUserName("root");
    e.setGroupName("root");
    return e;
  }
}
