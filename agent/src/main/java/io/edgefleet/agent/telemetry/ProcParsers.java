package io.edgefleet.agent.telemetry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Parsers of the Linux files the node metrics come from. Pure functions over file contents, so they
 * are tested with sample files; each tolerates missing or extra fields and answers empty rather
 * than failing on content it does not understand.
 */
final class ProcParsers {
  private ProcParsers() {}

  /** The aggregate {@code cpu} line of {@code /proc/stat}, in clock ticks. */
  record CpuTimes(long total, long idle, long iowait) {
    /** Busy and iowait percentages between an earlier reading and this one. */
    Optional<double[]> since(CpuTimes earlier) {
      long dt = total - earlier.total;
      if (dt <= 0) {
        return Optional.empty();
      }
      long idleDelta = (idle - earlier.idle) + (iowait - earlier.iowait);
      double busy = 100.0 * (dt - idleDelta) / dt;
      double io = 100.0 * (iowait - earlier.iowait) / dt;
      return Optional.of(new double[] {clamp(busy), clamp(io)});
    }

    private static double clamp(double p) {
      return Math.max(0, Math.min(100, p));
    }
  }

  static Optional<CpuTimes> cpu(String procStat) {
    for (String line : procStat.split("\n")) {
      if (line.startsWith("cpu ")) {
        String[] f = line.trim().split("\\s+");
        if (f.length < 5) {
          return Optional.empty();
        }
        long total = 0;
        // user nice system idle iowait irq softirq steal (guest time is already in user/nice).
        int fields = Math.min(f.length - 1, 8);
        long[] v = new long[fields];
        try {
          for (int i = 0; i < fields; i++) {
            v[i] = Long.parseLong(f[i + 1]);
            total += v[i];
          }
        } catch (NumberFormatException e) {
          return Optional.empty();
        }
        return Optional.of(new CpuTimes(total, v[3], fields > 4 ? v[4] : 0));
      }
    }
    return Optional.empty();
  }

  /** {@code /proc/meminfo} values in bytes, by key (e.g. {@code MemTotal}). */
  static Map<String, Long> meminfo(String content) {
    Map<String, Long> out = new LinkedHashMap<>();
    for (String line : content.split("\n")) {
      int colon = line.indexOf(':');
      if (colon <= 0) {
        continue;
      }
      String[] f = line.substring(colon + 1).trim().split("\\s+");
      try {
        long v = Long.parseLong(f[0]);
        out.put(line.substring(0, colon), f.length > 1 && f[1].equals("kB") ? v * 1024 : v);
      } catch (NumberFormatException e) {
        // Not a number: skip the line.
      }
    }
    return out;
  }

  /** Seconds since boot, from {@code /proc/uptime}. */
  static Optional<Double> uptime(String content) {
    String[] f = content.trim().split("\\s+");
    try {
      return f.length == 0 ? Optional.empty() : Optional.of(Double.parseDouble(f[0]));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** The one-minute load average from {@code /proc/loadavg}. */
  static Optional<Double> load1(String content) {
    return uptime(content);
  }

  /** Counters of one network interface. */
  record NetCounters(String name, long rxBytes, long txBytes, long rxErrors, long txErrors) {}

  /** Interfaces of {@code /proc/net/dev}. */
  static List<NetCounters> netDev(String content) {
    List<NetCounters> out = new ArrayList<>();
    for (String line : content.split("\n")) {
      int colon = line.indexOf(':');
      if (colon <= 0 || line.contains("|")) {
        continue;
      }
      String name = line.substring(0, colon).trim();
      String[] f = line.substring(colon + 1).trim().split("\\s+");
      if (f.length < 11) {
        continue;
      }
      try {
        out.add(
            new NetCounters(
                name,
                Long.parseLong(f[0]),
                Long.parseLong(f[8]),
                Long.parseLong(f[2]),
                Long.parseLong(f[10])));
      } catch (NumberFormatException e) {
        // Skip a line that is not counters.
      }
    }
    return out;
  }

  private static final List<String> VIRTUAL_INTERFACES =
      List.of(
          "lo",
          "veth",
          "cni",
          "flannel",
          "docker",
          "br-",
          "cali",
          "vxlan",
          "tunl",
          "kube-",
          "virbr",
          "cilium",
          "lxc",
          "weave",
          "genev",
          "dummy",
          "ifb",
          "nodelocaldns");

  /** Whether an interface is the node's own rather than one made for containers or loopback. */
  static boolean physical(String name) {
    for (String p : VIRTUAL_INTERFACES) {
      if (name.equals(p) || (p.length() > 2 && name.startsWith(p))) {
        return false;
      }
    }
    return !name.isEmpty();
  }

  /** One line of {@code /proc/mounts}. */
  record Mount(String device, String path, String type) {}

  private static final Set<String> DISK_TYPES =
      Set.of(
          "ext2",
          "ext3",
          "ext4",
          "xfs",
          "btrfs",
          "f2fs",
          "zfs",
          "vfat",
          "exfat",
          "ntfs",
          "ntfs3",
          "jfs",
          "reiserfs",
          "bcachefs");

  /**
   * Mounts of real disks from {@code /proc/mounts}, each device once (bind mounts of the same
   * device, as Kubernetes makes per pod, are left out), in file order.
   */
  static List<Mount> diskMounts(String content) {
    List<Mount> out = new ArrayList<>();
    Set<String> devices = new java.util.HashSet<>();
    for (String line : content.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length < 3 || !DISK_TYPES.contains(f[2])) {
        continue;
      }
      if (devices.add(f[0])) {
        out.add(new Mount(f[0], unescape(f[1]), f[2]));
      }
    }
    return out;
  }

  /** {@code /proc/mounts} writes space, tab, newline and backslash as octal escapes. */
  static String unescape(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && isOctal(s, i + 1)) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  private static boolean isOctal(String s, int from) {
    if (from + 3 > s.length()) {
      return false;
    }
    for (int i = from; i < from + 3; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '7') {
        return false;
      }
    }
    return true;
  }

  /** One GPU as {@code nvidia-smi} reports it. */
  record Gpu(
      String index, double usedPercent, double memUsedBytes, double memTotalBytes, double temp) {}

  /**
   * Output of {@code nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total,
   * temperature.gpu --format=csv,noheader,nounits} (memory in MiB). Fields a GPU does not support
   * ({@code [N/A]}) are NaN.
   */
  static List<Gpu> nvidiaSmi(String csv) {
    List<Gpu> out = new ArrayList<>();
    for (String line : csv.split("\n")) {
      String[] f = line.split(",");
      if (f.length < 5 || f[0].isBlank()) {
        continue;
      }
      out.add(
          new Gpu(
              f[0].trim(),
              number(f[1]),
              number(f[2]) * 1024 * 1024,
              number(f[3]) * 1024 * 1024,
              number(f[4])));
    }
    return out;
  }

  private static double number(String s) {
    try {
      return Double.parseDouble(s.trim());
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  /** A name made safe for a metric name: characters outside {@code [A-Za-z0-9_.:/-]} become _. */
  static String safe(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '_'
              || c == '.'
              || c == ':'
              || c == '/'
              || c == '-';
      b.append(ok ? c : '_');
    }
    return b.toString();
  }
}
