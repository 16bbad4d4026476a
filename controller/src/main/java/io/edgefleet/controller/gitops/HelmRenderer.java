package io.edgefleet.controller.gitops;

import com.marcnuri.helm.Helm;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs real Helm 3 ({@code helm template}) through helm-java. The 98 MB native library is loaded on
 * the first render only, so controllers without Helm applications never pay its ~75 MB of memory.
 * Each call leaks about 10 KB of native memory inside Helm, which is why callers cache results.
 *
 * <p>Charts are written once per git tree id under {@code chartsDir}. Renders are serialized: one
 * at a time per process. Thread-safe.
 */
final class HelmRenderer {
  private static final String SKIP_REMOTE_JAR = "com.marcnuri.jkube-helm.skipRemoteJar";

  private final Path chartsDir;
  private final Path tmpDir;
  private final AtomicLong renders = new AtomicLong();

  HelmRenderer(Path chartsDir, Path tmpDir) {
    this.chartsDir = chartsDir;
    this.tmpDir = tmpDir;
  }

  /** How many times Helm itself ran. */
  long renders() {
    return renders.get();
  }

  /**
   * {@code helm template <name> <chart> --namespace <name> -f <values>} over the bundle's files.
   *
   * @throws RenderException with Helm's own message if the chart does not render
   */
  synchronized String template(Bundle bundle, Map<String, Object> values) {
    // helm-java would otherwise download a native library from the internet when none is on the
    // class path; the controller must only ever run the one it was built with.
    if (System.getProperty(SKIP_REMOTE_JAR) == null) {
      System.setProperty(SKIP_REMOTE_JAR, "true");
    }
    Path chart = materialize(bundle);
    Path valuesFile = null;
    try {
      Files.createDirectories(tmpDir);
      valuesFile = Files.createTempFile(tmpDir, "values-", ".json");
      Files.write(valuesFile, Values.canonicalJson(values));
      renders.incrementAndGet();
      return new Helm(chart)
          .template()
          .withName(bundle.name())
          .withNamespace(bundle.name())
          .withValuesFile(valuesFile)
          .call();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write Helm values under " + tmpDir, e);
    } catch (LinkageError e) {
      throw new RenderException(
          "Helm is not available in this controller ("
              + e
              + "); it needs the helm-java native library for this platform",
          e);
    } catch (RuntimeException e) {
      String m = e.getMessage() == null ? e.toString() : e.getMessage().strip();
      if (m.contains("missing in charts/")) {
        m +=
            "; the controller never downloads dependencies: run `helm dependency build` and"
                + " commit the charts/ directory";
      }
      throw new RenderException("helm template failed: " + m, e);
    } finally {
      if (valuesFile != null) {
        try {
          Files.deleteIfExists(valuesFile);
        } catch (IOException e) {
          // A leftover temp file is harmless; the directory is emptied on the next start.
        }
      }
    }
  }

  /**
   * {@code helm package} over these chart files: the {@code .tgz} bytes Helm writes, with {@code
   * .helmignore} applied, {@code Chart.yaml} rewritten in Helm's form and subchart archives under
   * {@code charts/} unpacked. Packaging the unpacked result again gives the same files.
   *
   * @throws RenderException with Helm's own message if the chart is invalid
   */
  synchronized byte[] packageChart(java.util.SortedMap<String, byte[]> files) {
    if (System.getProperty(SKIP_REMOTE_JAR) == null) {
      System.setProperty(SKIP_REMOTE_JAR, "true");
    }
    Path work = null;
    try {
      Files.createDirectories(tmpDir);
      work = Files.createTempDirectory(tmpDir, "package-");
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
      try {
        new Helm(chart).packageIt().withDestination(out).call();
      } catch (LinkageError e) {
        throw new RenderException(
            "Helm is not available in this controller ("
                + e
                + "); it needs the helm-java native library for this platform",
            e);
      } catch (RuntimeException e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage().strip();
        throw new RenderException("helm package failed: " + m, e);
      }
      try (var packaged = Files.list(out)) {
        Path tgz =
            packaged
                .filter(p -> p.getFileName().toString().endsWith(".tgz"))
                .findFirst()
                .orElseThrow(() -> new RenderException("helm package wrote no archive"));
        return Files.readAllBytes(tgz);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot package a chart under " + tmpDir, e);
    } finally {
      if (work != null) {
        try {
          Directories.delete(work);
        } catch (UncheckedIOException e) {
          // A leftover directory is harmless; tmp/ is emptied on the next start.
        }
      }
    }
  }

  /** Writes the chart files once per tree id (atomically, so a crash never leaves half a chart). */
  private Path materialize(Bundle bundle) {
    Path dir = chartsDir.resolve(bundle.treeId());
    if (Files.isDirectory(dir)) {
      return dir;
    }
    try {
      Files.createDirectories(chartsDir);
      Path tmp = Files.createTempDirectory(chartsDir, ".tmp-" + bundle.treeId());
      for (Map.Entry<String, byte[]> f : bundle.files().entrySet()) {
        Path target = tmp.resolve(f.getKey()).normalize();
        if (!target.startsWith(tmp)) {
          throw new RenderException("chart file path '" + f.getKey() + "' leaves the chart");
        }
        Files.createDirectories(target.getParent());
        Files.write(target, f.getValue());
      }
      try {
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, dir);
      } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
        Directories.delete(tmp);
      }
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write chart under " + chartsDir, e);
    }
  }
}
