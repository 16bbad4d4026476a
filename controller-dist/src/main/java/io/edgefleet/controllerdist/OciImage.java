package io.edgefleet.controllerdist;

import io.edgefleet.protocol.Json;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;

/**
 * Writes a single-layer OCI image as an OCI image layout in one tar file (what {@code podman load}
 * and skopeo call {@code oci-archive}), without a container engine and without a base image: the
 * layer holds every file the image has. Reproducible: the same layer entries, configuration and
 * time give the same bytes and digests.
 */
final class OciImage {
  static final String LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
  static final String CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
  static final String MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
  static final String INDEX_TYPE = "application/vnd.oci.image.index.v1+json";

  /**
   * What the image runs and how.
   *
   * @param refName the name the image is loaded under ({@code org.opencontainers.image.ref.name})
   * @param entrypoint the program and its fixed arguments
   * @param cmd default arguments, replaced by those given to {@code podman run}
   * @param env {@code NAME=value} pairs
   * @param user the numeric {@code uid:gid} the program runs as
   * @param workingDir its working directory
   * @param exposedPorts e.g. {@code 7443/tcp}
   * @param labels {@code org.opencontainers.image.*} and the like
   */
  record Config(
      String refName,
      List<String> entrypoint,
      List<String> cmd,
      List<String> env,
      String user,
      String workingDir,
      List<String> exposedPorts,
      Map<String, String> labels) {}

  /**
   * The image written.
   *
   * @param manifestDigest the digest of its manifest (the image's identity)
   * @param configDigest the digest of its configuration (the image ID podman shows)
   * @param layerDigest the digest of the compressed layer
   * @param diffId the digest of the uncompressed layer
   */
  record Written(String manifestDigest, String configDigest, String layerDigest, String diffId) {}

  private OciImage() {}

  /**
   * Writes the image to {@code archive}; {@code scratch} holds the compressed layer meanwhile.
   *
   * @param mtime the time of every file and of the image's creation, in seconds since the epoch
   */
  static Written write(Path archive, Path scratch, List<Node> layer, Config config, long mtime)
      throws IOException {
    Path layerFile = scratch.resolve("layer.tar.gz");
    MessageDigest compressed = sha256();
    MessageDigest uncompressed = sha256();
    try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(layerFile), 1 << 16);
        DigestOutputStream gzDigest = new DigestOutputStream(file, compressed);
        GZIPOutputStream gz = new GZIPOutputStream(gzDigest, 1 << 16);
        DigestOutputStream tarDigest = new DigestOutputStream(gz, uncompressed)) {
      // GZIPOutputStream writes no file name and a zero time into its header: reproducible.
      ReproducibleTar.write(tarDigest, layer, mtime);
    }
    String layerDigest = digest(compressed);
    String diffId = digest(uncompressed);

    byte[] configJson = Json.writeBytes(configDocument(config, diffId, mtime));
    Map<String, Object> manifest = new LinkedHashMap<>();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", MANIFEST_TYPE);
    manifest.put("config", descriptor(CONFIG_TYPE, sha256(configJson), configJson.length));
    manifest.put("layers", List.of(descriptor(LAYER_TYPE, layerDigest, Files.size(layerFile))));
    manifest.put("annotations", new TreeMap<>(config.labels()));
    byte[] manifestJson = Json.writeBytes(manifest);
    String manifestDigest = sha256(manifestJson);

    Map<String, Object> manifestRef =
        descriptor(MANIFEST_TYPE, manifestDigest, manifestJson.length);
    manifestRef.put("annotations", Map.of("org.opencontainers.image.ref.name", config.refName()));
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", INDEX_TYPE);
    index.put("manifests", List.of(manifestRef));

    List<Node> layout = new ArrayList<>();
    layout.add(
        Node.file(
            "oci-layout",
            0644,
            "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8)));
    layout.add(Node.file("index.json", 0644, Json.writeBytes(index)));
    layout.add(Node.file(blob(manifestDigest), 0644, manifestJson));
    layout.add(Node.file(blob(sha256(configJson)), 0644, configJson));
    layout.add(Node.file(blob(layerDigest), 0644, layerFile));
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(archive), 1 << 16)) {
      ReproducibleTar.write(out, layout, mtime);
    }
    Files.delete(layerFile);
    return new Written(manifestDigest, sha256(configJson), layerDigest, diffId);
  }

  private static Map<String, Object> configDocument(Config config, String diffId, long mtime) {
    String created = Instant.ofEpochSecond(mtime).toString();
    Map<String, Object> run = new LinkedHashMap<>();
    run.put("User", config.user());
    Map<String, Object> ports = new TreeMap<>();
    config.exposedPorts().forEach(p -> ports.put(p, Map.of()));
    run.put("ExposedPorts", ports);
    run.put("Env", config.env());
    run.put("Entrypoint", config.entrypoint());
    run.put("Cmd", config.cmd());
    run.put("WorkingDir", config.workingDir());
    run.put("Labels", new TreeMap<>(config.labels()));
    run.put("StopSignal", "SIGTERM");
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("created", created);
    doc.put("architecture", "amd64");
    doc.put("os", "linux");
    doc.put("config", run);
    // Ordered maps only: Map.of's order changes from one JVM to the next, the digests must not.
    Map<String, Object> rootfs = new LinkedHashMap<>();
    rootfs.put("type", "layers");
    rootfs.put("diff_ids", List.of(diffId));
    doc.put("rootfs", rootfs);
    Map<String, Object> history = new LinkedHashMap<>();
    history.put("created", created);
    history.put(
        "created_by", "edgefleet controller-dist: jlink runtime, jars and system libraries");
    doc.put("history", List.of(history));
    return doc;
  }

  private static Map<String, Object> descriptor(String mediaType, String digest, long size) {
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("mediaType", mediaType);
    d.put("digest", digest);
    d.put("size", size);
    return d;
  }

  private static String blob(String digest) {
    return "blobs/sha256/" + digest.substring("sha256:".length());
  }

  static String sha256(byte[] bytes) {
    MessageDigest md = sha256();
    md.update(bytes);
    return digest(md);
  }

  private static String digest(MessageDigest md) {
    return "sha256:" + HexFormat.of().formatHex(md.digest());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
