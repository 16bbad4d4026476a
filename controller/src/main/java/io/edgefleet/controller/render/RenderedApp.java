package io.edgefleet.controller.render;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The Kubernetes objects of one application for one device: one multi-document YAML string, {@code
 * Namespace} objects first. Equal inputs give byte-identical output.
 *
 * @param yaml the documents, separated by {@code ---} lines
 * @param digest {@code sha256:<hex>} of the UTF-8 bytes of {@code yaml}
 */
public record RenderedApp(String yaml, String digest) {
  public RenderedApp {
    Objects.requireNonNull(yaml, "yaml");
    Objects.requireNonNull(digest, "digest");
  }

  /** Wraps YAML text, computing its digest. */
  public static RenderedApp of(String yaml) {
    return new RenderedApp(yaml, sha256(yaml.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * The documents as parsed maps, in order (each a fresh copy the caller may change).
   *
   * @throws RenderException if the text is not the YAML of mappings with apiVersion, kind and
   *     metadata.name
   */
  public List<Map<String, Object>> documents() {
    return Manifests.parse(yaml, "rendered output");
  }

  /** Documents written as a render writes them, with the digest of that text. */
  public static RenderedApp of(List<Map<String, Object>> documents) {
    return of(Manifests.write(documents));
  }

  static String sha256(byte[] bytes) {
    try {
      return "sha256:"
          + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
