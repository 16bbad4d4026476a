package io.edgefleet.controller.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The manifests and indexes of the OCI image spec and Docker's v2 schema 2, as far as mirroring
 * needs them.
 */
final class Manifests {
  static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
  static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

  /** What the controller asks a registry for, best first. */
  static final String ACCEPT =
      String.join(", ", OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST);

  static final Set<String> INDEXES = Set.of(OCI_INDEX, DOCKER_LIST);
  static final Set<String> MANIFESTS = Set.of(OCI_MANIFEST, DOCKER_MANIFEST);
  static final Set<String> CONFIGS =
      Set.of(
          "application/vnd.oci.image.config.v1+json",
          "application/vnd.docker.container.image.v1+json");
  static final Set<String> LAYERS =
      Set.of(
          "application/vnd.oci.image.layer.v1.tar",
          "application/vnd.oci.image.layer.v1.tar+gzip",
          "application/vnd.oci.image.layer.v1.tar+zstd",
          "application/vnd.docker.image.rootfs.diff.tar.gzip");

  /** Most entries of an index or layers of a manifest read. */
  static final int MAX_ENTRIES = 1000;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  private Manifests() {}

  /** A content descriptor: what a manifest says about a blob or another manifest. */
  record Descriptor(
      String mediaType, String digest, long size, String os, String architecture, String variant) {
    String platform() {
      return os + "/" + architecture + (variant.isEmpty() ? "" : "/" + variant);
    }
  }

  /** An image manifest: the config and layers it names. */
  record ImageManifest(String mediaType, Descriptor config, List<Descriptor> layers) {
    List<Descriptor> blobs() {
      List<Descriptor> all = new ArrayList<>();
      all.add(config);
      for (Descriptor layer : layers) {
        if (all.stream().noneMatch(d -> d.digest().equals(layer.digest()))) {
          all.add(layer);
        }
      }
      return all;
    }
  }

  /**
   * The media type of a manifest: its {@code mediaType} field, else the {@code Content-Type} the
   * registry sent.
   */
  static String mediaType(byte[] body, String contentType, String where) {
    JsonNode root = read(body, where);
    String declared = root.path("mediaType").asText("");
    if (!declared.isEmpty()) {
      return declared;
    }
    String sent = contentType.split(";", 2)[0].strip();
    if (!sent.isEmpty() && !sent.equals("application/json")) {
      return sent;
    }
    // An OCI manifest or index may omit mediaType; tell them apart by their fields.
    return root.has("manifests") ? OCI_INDEX : OCI_MANIFEST;
  }

  /** The entries of an index or manifest list. */
  static List<Descriptor> index(byte[] body, String where) {
    JsonNode manifests = read(body, where).path("manifests");
    if (!manifests.isArray() || manifests.size() > MAX_ENTRIES) {
      throw invalid(where + " is an index without a list of manifests");
    }
    List<Descriptor> out = new ArrayList<>();
    for (JsonNode m : manifests) {
      out.add(descriptor(m, where));
    }
    return out;
  }

  /** The manifest of {@code body}, whose media type the caller checked. */
  static ImageManifest manifest(byte[] body, String mediaType, String where) {
    JsonNode root = read(body, where);
    if (root.path("schemaVersion").asInt() != 2) {
      throw new ControllerException(
          ErrorCode.IMAGE_MEDIA_TYPE_UNSUPPORTED,
          where
              + " is a schema 1 manifest, which this controller does not mirror; push the image"
              + " again with a current tool (docker, podman, skopeo write schema 2)");
    }
    Descriptor config = descriptor(root.path("config"), where);
    if (!CONFIGS.contains(config.mediaType())) {
      throw new ControllerException(
          ErrorCode.IMAGE_MEDIA_TYPE_UNSUPPORTED,
          where
              + " is not a container image: its config is "
              + config.mediaType()
              + " (an artifact such as a Helm chart or signature?)");
    }
    JsonNode layers = root.path("layers");
    if (!layers.isArray() || layers.size() > MAX_ENTRIES) {
      throw invalid(where + " has no list of layers");
    }
    List<Descriptor> out = new ArrayList<>();
    for (JsonNode l : layers) {
      Descriptor d = descriptor(l, where);
      if (!LAYERS.contains(d.mediaType())) {
        throw new ControllerException(
            ErrorCode.IMAGE_MEDIA_TYPE_UNSUPPORTED,
            where
                + " has a layer of type "
                + d.mediaType()
                + ", which this controller does not mirror (foreign or non-distributable layers"
                + " are fetched from elsewhere); mirror a Linux image");
      }
      out.add(d);
    }
    return new ImageManifest(mediaType, config, List.copyOf(out));
  }

  private static Descriptor descriptor(JsonNode d, String where) {
    String digest = d.path("digest").asText("");
    long size = d.path("size").asLong(-1);
    if (!d.isObject() || size < 0) {
      throw invalid(where + " has a descriptor without a digest and a size");
    }
    if (!DIGEST.matcher(digest).matches()) {
      throw new ControllerException(
          ErrorCode.IMAGE_MEDIA_TYPE_UNSUPPORTED,
          where + " names a blob by '" + digest + "'; only sha256 digests are mirrored");
    }
    JsonNode p = d.path("platform");
    return new Descriptor(
        d.path("mediaType").asText(""),
        digest,
        size,
        p.path("os").asText(""),
        p.path("architecture").asText(""),
        p.path("variant").asText(""));
  }

  /**
   * The entry of an index for {@code linux/<arch>}: one without a variant or with the usual one for
   * the architecture (v8 for arm64, v7 for arm) first.
   */
  static Optional<Descriptor> pick(List<Descriptor> entries, String arch) {
    List<Descriptor> candidates =
        entries.stream()
            .filter(e -> e.os().equals("linux") && e.architecture().equals(arch))
            .filter(e -> MANIFESTS.contains(e.mediaType()) || e.mediaType().isEmpty())
            .toList();
    String usual =
        switch (arch) {
          case "arm64" -> "v8";
          case "arm" -> "v7";
          default -> "";
        };
    return candidates.stream()
        .filter(e -> e.variant().isEmpty() || e.variant().equals(usual))
        .findFirst()
        .or(() -> candidates.stream().findFirst());
  }

  private static JsonNode read(byte[] body, String where) {
    try {
      JsonNode root = JSON.readTree(body);
      if (root == null || !root.isObject()) {
        throw invalid(where + " is not a JSON object");
      }
      return root;
    } catch (IOException e) {
      throw invalid(where + " is not valid JSON");
    }
  }

  private static ControllerException invalid(String why) {
    return new ControllerException(
        ErrorCode.REGISTRY_RESPONSE_INVALID,
        why + "; the registry does not answer like an OCI distribution registry");
  }
}
