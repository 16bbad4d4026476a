package io.edgefleet.controller.render;

import io.edgefleet.controller.common.Directories;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Chart files written to disk for Helm, one directory per tree id under {@code dir}, kept for the
 * next render of the same chart and bounded by total bytes and count: the least recently used
 * charts are deleted first. A chart in use ({@link #acquire} until {@link #release}) is never
 * deleted; a chart released as failed, or larger than the whole bound, is deleted at once. The
 * directory is expected to be empty at start (what is there is not accounted for).
 *
 * <p>Thread-safe.
 */
final class ChartCache {
  private final Path dir;
  private final long maxBytes;
  private final int maxEntries;
  // Access order: the eldest entry is the least recently used. Guarded by this.
  private final LinkedHashMap<String, Long> sizes = new LinkedHashMap<>(16, 0.75f, true);
  private final Map<String, Integer> inUse = new HashMap<>();
  private long bytes;

  ChartCache(Path dir, long maxBytes, int maxEntries) {
    if (maxBytes < 1 || maxEntries < 1) {
      throw new IllegalArgumentException("the chart cache bounds must be positive");
    }
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.maxEntries = maxEntries;
  }

  /**
   * The directory holding the bundle's files, written now unless already there (atomically, so a
   * crash never leaves half a chart). Pair with {@link #release}.
   *
   * @throws RenderException if a file path leaves the chart
   */
  synchronized Path acquire(Bundle bundle) {
    String id = bundle.treeId();
    Path chart = dir.resolve(id);
    if (!sizes.containsKey(id)) {
      write(bundle, chart);
      sizes.put(id, bundle.size());
      bytes += bundle.size();
    } else {
      sizes.get(id); // marks it as most recently used
    }
    inUse.merge(id, 1, Integer::sum);
    return chart;
  }

  /**
   * Ends a use of the chart. A chart that failed is deleted (it is unlikely to be rendered again,
   * and a refused push must leave nothing behind); otherwise the least recently used charts not in
   * use are deleted until the cache is within its bounds.
   */
  synchronized void release(Bundle bundle, boolean failed) {
    String id = bundle.treeId();
    inUse.computeIfPresent(id, (k, n) -> n == 1 ? null : n - 1);
    if (failed && !inUse.containsKey(id)) {
      remove(id);
    }
    Iterator<Map.Entry<String, Long>> eldest = sizes.entrySet().iterator();
    while ((bytes > maxBytes || sizes.size() > maxEntries) && eldest.hasNext()) {
      Map.Entry<String, Long> e = eldest.next();
      if (!inUse.containsKey(e.getKey())) {
        eldest.remove();
        bytes -= e.getValue();
        Directories.delete(dir.resolve(e.getKey()));
      }
    }
  }

  /** Charts on disk. */
  synchronized int size() {
    return sizes.size();
  }

  /** Bytes of the charts on disk, as {@link Bundle#size} counts them. */
  synchronized long bytes() {
    return bytes;
  }

  private void remove(String id) {
    Long size = sizes.remove(id);
    if (size != null) {
      bytes -= size;
    }
    Directories.delete(dir.resolve(id));
  }

  private void write(Bundle bundle, Path chart) {
    try {
      Files.createDirectories(dir);
      Directories.delete(chart);
      Path tmp = Files.createTempDirectory(dir, ".tmp-" + bundle.treeId());
      try {
        for (Map.Entry<String, byte[]> f : bundle.files().entrySet()) {
          Path target = tmp.resolve(f.getKey()).normalize();
          if (!target.startsWith(tmp)) {
            throw new RenderException("chart file path '" + f.getKey() + "' leaves the chart");
          }
          Files.createDirectories(target.getParent());
          Files.write(target, f.getValue());
        }
        try {
          Files.move(tmp, chart, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(tmp, chart);
        }
      } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
        // Written by someone else meanwhile: same tree id, same files.
      } finally {
        Directories.delete(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write chart under " + dir, e);
    }
  }
}
