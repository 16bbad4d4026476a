package io.edgefleet.controller.render;

import io.edgefleet.controller.common.Directories;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs real Helm 3 ({@code helm template}, {@code helm package}) through helm-java in a separate
 * process ({@link HelmWorker}); this JVM never loads Helm's native library.
 *
 * <p>Charts are written to disk once per git tree id in a bounded {@link ChartCache}; values and
 * outputs go through {@code tmpDir} and are deleted after each call, whatever its outcome. A chart
 * that fails is deleted from the cache at once. Renders are serialized: one at a time per
 * controller. Thread-safe.
 */
final class HelmRenderer implements AutoCloseable {
  /** The most YAML one render may produce; a device's bundle is far smaller. */
  static final long MAX_OUTPUT = 16L << 20;

  private final ChartCache charts;
  private final Path tmpDir;
  private final HelmWorker worker;
  private final AtomicLong renders = new AtomicLong();

  HelmRenderer(ChartCache charts, Path tmpDir, HelmWorker worker) {
    this.charts = charts;
    this.tmpDir = tmpDir;
    this.worker = worker;
  }

  /** How many times Helm itself ran. */
  long renders() {
    return renders.get();
  }

  /** The process that runs Helm, for tests and metrics. */
  HelmWorker worker() {
    return worker;
  }

  /** The chart files on disk. */
  ChartCache charts() {
    return charts;
  }

  /**
   * {@code helm template <name> <chart> --namespace <name> -f <values>} over the bundle's files.
   *
   * @throws RenderException with Helm's own message if the chart does not render
   * @throws HelmUnavailableException if Helm cannot run now, whatever the chart
   */
  synchronized String template(Bundle bundle, Map<String, Object> values) {
    Path chart = charts.acquire(bundle);
    boolean failed = true;
    Path work = null;
    try {
      work = tempDirectory("template-");
      Path valuesFile = work.resolve("values.json");
      Path out = work.resolve("out.yaml");
      Files.write(valuesFile, Values.canonicalJson(values));
      renders.incrementAndGet();
      try {
        worker.template(chart, valuesFile, bundle.name(), bundle.name(), null, out, MAX_OUTPUT);
      } catch (RenderException e) {
        String m = e.getMessage().strip();
        if (m.contains("missing in charts/")) {
          m +=
              "; the controller never downloads dependencies: run `helm dependency build` and"
                  + " commit the charts/ directory";
        }
        throw new RenderException("helm template failed: " + m, e);
      }
      if (Files.size(out) > MAX_OUTPUT) {
        throw new RenderException(
            "helm template failed: the chart rendered more than " + (MAX_OUTPUT >> 20) + " MiB");
      }
      String yaml = Files.readString(out);
      failed = false;
      return yaml;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot exchange files with Helm under " + tmpDir, e);
    } finally {
      deleteQuietly(work);
      charts.release(bundle, failed);
    }
  }

  /**
   * {@code helm package} over these chart files: the {@code .tgz} bytes Helm writes, with {@code
   * .helmignore} applied, {@code Chart.yaml} rewritten in Helm's form and subchart archives under
   * {@code charts/} unpacked. Packaging the unpacked result again gives the same files. Nothing of
   * it stays on disk.
   *
   * @throws RenderException with Helm's own message if the chart is invalid
   * @throws HelmUnavailableException if Helm cannot run now, whatever the chart
   */
  synchronized byte[] packageChart(SortedMap<String, byte[]> files) {
    Path work = null;
    try {
      work = tempDirectory("package-");
      Path chart = work.resolve("chart");
      for (Map.Entry<String, byte[]> f : files.entrySet()) {
        Path target = chart.resolve(f.getKey()).normalize();
        if (!target.startsWith(chart)) {
          throw new RenderException("chart file path '" + f.getKey() + "' leaves the chart");
        }
        Files.createDirectories(target.getParent());
        Files.write(target, f.getValue());
      }
      Path out = Files.createDirectories(work.resolve("out"));
      renders.incrementAndGet();
      Path tgz;
      try {
        tgz = worker.packageChart(chart, out);
      } catch (RenderException e) {
        throw new RenderException("helm package failed: " + e.getMessage().strip(), e);
      }
      if (!tgz.normalize().startsWith(out)) {
        throw new IllegalStateException("Helm wrote its archive outside " + out + ": " + tgz);
      }
      return Files.readAllBytes(tgz);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot package a chart under " + tmpDir, e);
    } finally {
      deleteQuietly(work);
    }
  }

  /** Stops Helm's process. */
  @Override
  public void close() {
    worker.close();
  }

  private Path tempDirectory(String prefix) throws IOException {
    Files.createDirectories(tmpDir);
    return Files.createTempDirectory(tmpDir, prefix);
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null) {
      return;
    }
    try {
      Directories.delete(dir);
    } catch (UncheckedIOException e) {
      // A leftover is harmless: tmp/ is emptied on the next start.
    }
  }
}
