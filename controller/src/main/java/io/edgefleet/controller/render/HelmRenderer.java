package io.edgefleet.controller.render;

import io.edgefleet.controller.common.Directories;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

  /** Helm's message when the cluster does not meet the chart's {@code kubeVersion}. */
  private static final Pattern INCOMPATIBLE =
      Pattern.compile(
          "chart requires kubeVersion: (.+?) which is incompatible with Kubernetes (\\S+)");

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
   * {@code helm template <name> <chart> --namespace <name> -f <values> --kube-version <version>}
   * over the bundle's files.
   *
   * @param kubeVersion the Kubernetes version the chart is rendered for; null for Helm's default
   * @throws RenderException with Helm's own message if the chart does not render, or saying which
   *     Kubernetes the chart requires if {@code kubeVersion} does not meet its constraint
   * @throws HelmUnavailableException if Helm cannot run now, whatever the chart
   */
  synchronized String template(Bundle bundle, Map<String, Object> values, String kubeVersion) {
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
        worker.template(
            chart, valuesFile, bundle.name(), bundle.name(), kubeVersion, out, MAX_OUTPUT);
      } catch (RenderException e) {
        String m = e.getMessage().strip();
        Matcher incompatible = INCOMPATIBLE.matcher(m);
        if (incompatible.find()) {
          // The chart is fine; this cluster is not: keep its files for the other versions.
          failed = false;
          throw new RenderException(
              incompatible(
                  bundle.chartName(),
                  incompatible.group(1),
                  kubeVersion,
                  kubeVersion == null ? incompatible.group(2) : kubeVersion),
              e);
        }
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

  /** Why a chart is not rendered for a cluster of this version, for a person to act on. */
  static String incompatible(
      String chart, String constraint, String kubeVersion, String renderedFor) {
    return kubeVersion == null
        ? "chart "
            + chart
            + " requires Kubernetes "
            + constraint
            + "; this device reports no Kubernetes version, so it is rendered for Helm's default "
            + renderedFor
            + ": run the agent with its Kubernetes runtime so it reports its cluster's version, or"
            + " deploy an older chart version"
        : "chart "
            + chart
            + " requires Kubernetes "
            + constraint
            + "; this device's cluster runs "
            + kubeVersion
            + ": upgrade the cluster or deploy an older chart version";
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
