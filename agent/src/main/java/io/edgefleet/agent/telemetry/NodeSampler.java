package io.edgefleet.agent.telemetry;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Samples the node: CPU, memory, disks, network, load and uptime from {@code /proc} and the file
 * systems, GPUs through {@code nvidia-smi} when it is installed. A source that cannot be read is
 * left out of the sample rather than failing it. Not thread-safe: one caller (the agent's
 * scheduler) at a time.
 */
public final class NodeSampler implements Sampler {
  /** Interfaces and mounts reported at most, so that a busy node keeps its summaries small. */
  static final int MAX_INTERFACES = 8;

  static final int MAX_MOUNTS = 8;
  private static final long GPU_EVERY_NANOS = TimeUnit.SECONDS.toNanos(15);

  private final Path proc;
  private final Optional<Path> nvidiaSmi;
  private ProcParsers.CpuTimes lastCpu;
  private final Map<String, long[]> lastNet = new LinkedHashMap<>();
  private long lastNetNanos;
  private long lastGpuNanos;
  private List<ProcParsers.Gpu> gpus = List.of();

  /**
   * @param proc where {@code /proc} is (a copy with sample files in tests)
   * @param nvidiaSmi the {@code nvidia-smi} binary, if any
   */
  public NodeSampler(Path proc, Optional<Path> nvidiaSmi) {
    this.proc = proc;
    this.nvidiaSmi = nvidiaSmi;
  }

  /** The real node: {@code /proc} and {@code nvidia-smi} from the {@code PATH}. */
  public static NodeSampler system() {
    return new NodeSampler(Path.of("/proc"), findOnPath("nvidia-smi"));
  }

  static Optional<Path> findOnPath(String binary) {
    String path = System.getenv("PATH");
    if (path == null) {
      return Optional.empty();
    }
    for (String d : path.split(java.io.File.pathSeparator)) {
      if (d.isEmpty()) {
        continue;
      }
      Path p = Path.of(d, binary);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  @Override
  public Map<String, Double> sample() {
    Map<String, Double> out = new LinkedHashMap<>();
    long now = System.nanoTime();
    read("stat")
        .flatMap(ProcParsers::cpu)
        .ifPresent(
            cpu -> {
              if (lastCpu != null) {
                cpu.since(lastCpu)
                    .ifPresent(
                        p -> {
                          out.put("cpu.used.percent", p[0]);
                          out.put("cpu.iowait.percent", p[1]);
                        });
              }
              lastCpu = cpu;
            });
    read("loadavg").flatMap(ProcParsers::load1).ifPresent(v -> out.put("load.1", v));
    read("meminfo")
        .map(ProcParsers::meminfo)
        .ifPresent(
            m -> {
              Long total = m.get("MemTotal");
              Long available = m.get("MemAvailable");
              if (total != null && available != null && total > 0) {
                out.put("mem.total.bytes", (double) total);
                out.put("mem.used.bytes", (double) (total - available));
                out.put("mem.used.percent", 100.0 * (total - available) / total);
              }
              Long swapTotal = m.get("SwapTotal");
              Long swapFree = m.get("SwapFree");
              if (swapTotal != null && swapFree != null && swapTotal > 0) {
                out.put("swap.used.bytes", (double) (swapTotal - swapFree));
              }
            });
    read("uptime").flatMap(ProcParsers::uptime).ifPresent(v -> out.put("uptime.seconds", v));
    read("mounts").map(ProcParsers::diskMounts).ifPresent(mounts -> disks(mounts, out));
    read("net/dev").map(ProcParsers::netDev).ifPresent(n -> network(n, now, out));
    gpu(now, out);
    return out;
  }

  private void disks(List<ProcParsers.Mount> mounts, Map<String, Double> out) {
    int n = 0;
    for (ProcParsers.Mount m : mounts) {
      if (n >= MAX_MOUNTS) {
        break;
      }
      try {
        FileStore fs = Files.getFileStore(Path.of(m.path()));
        long total = fs.getTotalSpace();
        long free = fs.getUnallocatedSpace();
        long usable = fs.getUsableSpace();
        if (total <= 0) {
          continue;
        }
        long used = total - free;
        String name = "disk." + ProcParsers.safe(m.path());
        // As df computes it: the part of what non-root users can have that is in use.
        out.put(name + ".used.percent", 100.0 * used / Math.max(1, used + usable));
        out.put(name + ".free.bytes", (double) usable);
        n++;
      } catch (IOException | RuntimeException e) {
        // Unmounted meanwhile, or not accessible: leave it out.
      }
    }
  }

  private void network(List<ProcParsers.NetCounters> counters, long now, Map<String, Double> out) {
    double seconds = lastNetNanos == 0 ? 0 : (now - lastNetNanos) / 1e9;
    int n = 0;
    for (ProcParsers.NetCounters c : counters) {
      if (!ProcParsers.physical(c.name()) || n >= MAX_INTERFACES) {
        continue;
      }
      n++;
      String name = "net." + ProcParsers.safe(c.name());
      out.put(name + ".rx.bytes", (double) c.rxBytes());
      out.put(name + ".tx.bytes", (double) c.txBytes());
      out.put(name + ".errors", (double) (c.rxErrors() + c.txErrors()));
      long[] last = lastNet.put(c.name(), new long[] {c.rxBytes(), c.txBytes()});
      if (last != null && seconds > 0 && c.rxBytes() >= last[0] && c.txBytes() >= last[1]) {
        out.put(name + ".rx.bytes_per_s", (c.rxBytes() - last[0]) / seconds);
        out.put(name + ".tx.bytes_per_s", (c.txBytes() - last[1]) / seconds);
      }
    }
    lastNetNanos = now;
  }

  private void gpu(long now, Map<String, Double> out) {
    if (nvidiaSmi.isEmpty()) {
      return;
    }
    if (lastGpuNanos == 0 || now - lastGpuNanos >= GPU_EVERY_NANOS) {
      lastGpuNanos = now;
      gpus = runNvidiaSmi(nvidiaSmi.get()).map(ProcParsers::nvidiaSmi).orElse(List.of());
    }
    for (ProcParsers.Gpu g : gpus) {
      String name = "gpu." + ProcParsers.safe(g.index());
      putFinite(out, name + ".used.percent", g.usedPercent());
      putFinite(out, name + ".mem.used.bytes", g.memUsedBytes());
      putFinite(out, name + ".mem.total.bytes", g.memTotalBytes());
      putFinite(out, name + ".temp.celsius", g.temp());
    }
  }

  private static void putFinite(Map<String, Double> out, String name, double v) {
    if (Double.isFinite(v)) {
      out.put(name, v);
    }
  }

  static Optional<String> runNvidiaSmi(Path binary) {
    try {
      Process p =
          new ProcessBuilder(
                  binary.toString(),
                  "--query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu",
                  "--format=csv,noheader,nounits")
              .redirectErrorStream(true)
              .start();
      // Its output is a few lines, far below a pipe's buffer: waiting first cannot block it.
      if (!p.waitFor(5, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return Optional.empty();
      }
      byte[] bytes;
      try (InputStream in = p.getInputStream()) {
        bytes = in.readNBytes(64 * 1024);
      }
      return p.exitValue() == 0
          ? Optional.of(new String(bytes, StandardCharsets.UTF_8))
          : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  private Optional<String> read(String file) {
    try {
      return Optional.of(Files.readString(proc.resolve(file), StandardCharsets.UTF_8));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
