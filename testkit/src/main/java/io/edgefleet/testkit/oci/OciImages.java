package io.edgefleet.testkit.oci;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Builds small, real OCI images for tests without a registry or a container daemon: one layer with
 * Debian's static BusyBox ({@code /bin/busybox}, from the {@code busybox-static} package) and its
 * applets as symlinks, plus any files a test adds, written as an OCI image layout in a tar file
 * (what {@code skopeo copy ... oci-archive:FILE} writes and {@code podman load} reads). The output
 * is byte-for-byte reproducible for the same inputs, so digests are stable across runs.
 */
public final class OciImages {
  /** Where Debian's {@code busybox-static} puts the binary. */
  public static final Path BUSYBOX = Path.of("/bin/busybox");

  private static final String[] APPLETS = {
    "sh", "ls", "cat", "echo", "sleep", "httpd", "nc", "wget", "touch", "mkdir", "rm", "test",
    "true", "false", "env", "ps", "kill", "date", "printf", "grep", "head", "tail", "ip",
        "ifconfig",
    "mount", "poweroff", "reboot", "seq", "wc", "id", "hostname", "uname", "sync", "init"
  };

  private final Map<String, byte[]> files = new LinkedHashMap<>();
  private final Map<String, Integer> modes = new LinkedHashMap<>();
  private List<String> cmd = List.of("/bin/sh");
  private final List<String> env = new ArrayList<>(List.of("PATH=/bin:/usr/bin"));
  private final List<String> ports = new ArrayList<>();
  private String refName = "latest";
  private String architecture = "amd64";

  /** An image with BusyBox; its default command is {@code /bin/sh}. */
  public static OciImages busybox() {
    if (!Files.isExecutable(BUSYBOX)) {
      throw new IllegalStateException(
          BUSYBOX
              + " is missing: install Debian's busybox-static (apt-get install busybox-static)");
    }
    return new OciImages();
  }

  private OciImages() {}

  /** Adds a file (path without a leading slash, e.g. {@code www/index.html}). */
  public OciImages file(String path, String content, int mode) {
    files.put(path, content.getBytes(StandardCharsets.UTF_8));
    modes.put(path, mode);
    return this;
  }

  /** The image's default command. */
  public OciImages cmd(String... command) {
    this.cmd = List.of(command);
    return this;
  }

  /** Adds an environment variable ({@code NAME=value}). */
  public OciImages env(String variable) {
    env.add(variable);
    return this;
  }

  /** Declares an exposed port ({@code 8080/tcp}). */
  public OciImages expose(String port) {
    ports.add(port);
    return this;
  }

  /** The CPU architecture the image's config names (default {@code amd64}). */
  public OciImages architecture(String arch) {
    this.architecture = arch;
    return this;
  }

  /** The {@code org.opencontainers.image.ref.name} of the image in the layout's index. */
  public OciImages refName(String name) {
    this.refName = name;
    return this;
  }

  /**
   * The built image.
   *
   * @param archive the oci-archive tar file
   * @param archiveDigest {@code sha256:} of the archive file's bytes (what an artifact store keys)
   * @param manifestDigest {@code sha256:} of the image manifest (what a registry keys)
   */
  public record Built(Path archive, String archiveDigest, String manifestDigest, long size) {}

  /** Writes the image as an OCI image layout in a tar file at {@code archive}. */
  public Built writeArchive(Path archive) throws IOException {
    byte[] layerTar = layer();
    String diffId = sha256(layerTar);
    byte[] layer = gzip(layerTar);
    String layerDigest = sha256(layer);
    byte[] config = config(diffId).getBytes(StandardCharsets.UTF_8);
    String configDigest = sha256(config);
    byte[] manifest =
        ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                + "\"digest\":\""
                + configDigest
                + "\",\"size\":"
                + config.length
                + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                + "\"digest\":\""
                + layerDigest
                + "\",\"size\":"
                + layer.length
                + "}]}")
            .getBytes(StandardCharsets.UTF_8);
    String manifestDigest = sha256(manifest);
    byte[] index =
        ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                + "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"digest\":\""
                + manifestDigest
                + "\",\"size\":"
                + manifest.length
                + ",\"annotations\":{\"org.opencontainers.image.ref.name\":\""
                + refName
                + "\"}}]}")
            .getBytes(StandardCharsets.UTF_8);
    Files.createDirectories(archive.toAbsolutePath().getParent());
    try (OutputStream out = Files.newOutputStream(archive);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      directory(tar, "blobs/");
      directory(tar, "blobs/sha256/");
      regular(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(), 0644);
      regular(tar, "index.json", index, 0644);
      regular(tar, "blobs/sha256/" + hex(manifestDigest), manifest, 0644);
      regular(tar, "blobs/sha256/" + hex(configDigest), config, 0644);
      regular(tar, "blobs/sha256/" + hex(layerDigest), layer, 0644);
    }
    byte[] bytes = Files.readAllBytes(archive);
    return new Built(archive, sha256(bytes), manifestDigest, bytes.length);
  }

  private String config(String diffId) {
    StringBuilder c =
        new StringBuilder("{\"architecture\":\"")
            .append(architecture)
            .append("\",\"os\":\"linux\",\"config\":{");
    c.append("\"Env\":").append(jsonArray(env)).append(",\"Cmd\":").append(jsonArray(cmd));
    if (!ports.isEmpty()) {
      c.append(",\"ExposedPorts\":{");
      for (int i = 0; i < ports.size(); i++) {
        c.append(i == 0 ? "" : ",").append('"').append(ports.get(i)).append("\":{}");
      }
      c.append('}');
    }
    c.append("},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"").append(diffId).append("\"]}}");
    return c.toString();
  }

  private byte[] layer() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      directory(tar, "bin/");
      directory(tar, "tmp/");
      regular(tar, "bin/busybox", Files.readAllBytes(BUSYBOX), 0755);
      for (String applet : APPLETS) {
        TarArchiveEntry link = new TarArchiveEntry("bin/" + applet, TarArchiveEntry.LF_SYMLINK);
        link.setLinkName("busybox");
        fixed(link);
        tar.putArchiveEntry(link);
        tar.closeArchiveEntry();
      }
      List<String> dirs = new ArrayList<>();
      for (String path : files.keySet()) {
        int slash = path.indexOf('/');
        while (slash > 0) {
          String dir = path.substring(0, slash + 1);
          if (!dirs.contains(dir) && !dir.equals("bin/") && !dir.equals("tmp/")) {
            dirs.add(dir);
            directory(tar, dir);
          }
          slash = path.indexOf('/', slash + 1);
        }
        regular(tar, path, files.get(path), modes.get(path));
      }
    }
    return bytes.toByteArray();
  }

  private static void directory(TarArchiveOutputStream tar, String name) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setMode(040755);
    fixed(e);
    tar.putArchiveEntry(e);
    tar.closeArchiveEntry();
  }

  private static void regular(TarArchiveOutputStream tar, String name, byte[] content, int mode)
      throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(content.length);
    e.setMode(0100000 | mode);
    fixed(e);
    tar.putArchiveEntry(e);
    tar.write(content);
    tar.closeArchiveEntry();
  }

  private static void fixed(TarArchiveEntry e) {
    e.setModTime(0);
    e.setUserId(0);
    e.setGroupId(0);
    e.setUserName("root");
    e.setGroupName("root");
  }

  private static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    // GZIPOutputStream writes no name and a zero mtime: the output depends on the input only.
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    }
    return out.toByteArray();
  }

  private static String jsonArray(List<String> values) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < values.size(); i++) {
      b.append(i == 0 ? "" : ",").append('"');
      for (char ch : values.get(i).toCharArray()) {
        switch (ch) {
          case '"' -> b.append("\\\"");
          case '\\' -> b.append("\\\\");
          default -> {
            if (ch < 0x20) {
              b.append(String.format("\\u%04x", (int) ch));
            } else {
              b.append(ch);
            }
          }
        }
      }
      b.append('"');
    }
    return b.append(']').toString();
  }

  /** {@code sha256:<hex>} of {@code data}. */
  public static String sha256(byte[] data) {
    try {
      return "sha256:"
          + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String hex(String digest) {
    return digest.substring("sha256:".length());
  }
}
