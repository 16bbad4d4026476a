package io.edgefleet.agent.runtime.container;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.json.JsonCodecException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The images loaded from blobs: each blob (an OCI archive) is loaded with {@code podman load} once
 * and tagged {@code localhost/edgefleet-blob:<hex>}, so containers run from the blob they name and
 * a loaded image is recognised after the agent restarts. The name the archive itself carries means
 * nothing on the device and is removed again. Thread-safe.
 */
final class Images {
  /** Loading a large image from a slow disk may take a while. */
  private static final Duration LOAD_TIMEOUT = Duration.ofMinutes(10);

  private final Podman podman;
  private final Set<String> loaded = ConcurrentHashMap.newKeySet();

  Images(Podman podman) {
    this.podman = podman;
  }

  /**
   * The local image name of {@code digest}, loading it from {@code archive} unless it is loaded.
   *
   * @throws PodmanException when podman does not answer
   * @throws IllegalStateException when podman refuses the archive; the message says why
   */
  synchronized String ensure(String digest, Path archive) {
    String name = PodmanArgs.imageName(digest);
    if (loaded.contains(digest)) {
      return name;
    }
    if (podman.run("image", "exists", name).ok()) {
      loaded.add(digest);
      return name;
    }
    Podman.Result load = podman.run(LOAD_TIMEOUT, List.of("load", "-q", "-i", archive.toString()));
    if (!load.ok()) {
      throw new IllegalStateException("image " + digest + " cannot be loaded: " + load.error());
    }
    List<String> names = loadedNames(load.out());
    if (names.isEmpty()) {
      throw new IllegalStateException(
          "image " + digest + " cannot be loaded: podman load named no image");
    }
    Podman.Result tag = podman.run("tag", names.get(0), name);
    if (!tag.ok()) {
      throw new IllegalStateException("image " + digest + " cannot be tagged: " + tag.error());
    }
    for (String other : names) {
      if (!other.startsWith("sha256:") && !other.equals(name)) {
        // Best effort: a left-over name costs nothing but a line in `podman images`.
        podman.run("untag", name, other);
      }
    }
    loaded.add(digest);
    return name;
  }

  /** Forgets that {@code digest} is loaded: the next {@link #ensure} looks again. */
  void forget(String digest) {
    loaded.remove(digest);
  }

  /** The names {@code podman load} reports ({@code Loaded image(s): a,b} or one per line). */
  static List<String> loadedNames(String out) {
    List<String> names = new ArrayList<>();
    for (String line : out.lines().toList()) {
      int colon = line.indexOf(": ");
      if (line.startsWith("Loaded image") && colon > 0) {
        for (String n : line.substring(colon + 2).split(",")) {
          if (!n.isBlank()) {
            names.add(n.strip());
          }
        }
      }
    }
    return names;
  }

  /**
   * Removes loaded images whose blob is not among those {@code kept} and that no container uses
   * (podman refuses to remove those, which is left alone). Best effort.
   */
  synchronized void prune(java.util.function.Supplier<Set<String>> kept) {
    // Asked while no load runs, so an image being loaded for an app is always among them.
    Set<String> keep = kept.get();
    Podman.Result list =
        podman.run(
            "images", "--filter", "reference=" + PodmanArgs.IMAGE_REPOSITORY, "--format", "json");
    if (!list.ok()) {
      return;
    }
    JsonNode images;
    try {
      images = JsonCodec.readTree(list.out());
    } catch (JsonCodecException e) {
      return;
    }
    String prefix = PodmanArgs.IMAGE_REPOSITORY + ":";
    for (JsonNode image : images) {
      for (JsonNode n : image.path("Names")) {
        String name = n.asText();
        if (name.startsWith(prefix)) {
          String digest = "sha256:" + name.substring(prefix.length());
          if (!keep.contains(digest)) {
            loaded.remove(digest);
            podman.run("rmi", name);
          }
        }
      }
    }
  }
}
