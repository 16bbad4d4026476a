package io.edgefleet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What {@code /proc} says of a process: resident memory and CPU time. Linux only. */
final class ProcStats {
  /** Clock ticks per second of {@code /proc/PID/stat}'s times (USER_HZ: 100 on Linux). */
  static final int TICKS_PER_SECOND = 100;

  private ProcStats() {}

  /** Resident set size ({@code VmRSS} of {@code /proc/PID/status}) in bytes; -1 when gone. */
  static long rss(long pid) {
    return ScaleBench.rss(pid);
  }

  /** utime + stime of {@code /proc/PID/stat} in clock ticks; -1 when the process is gone. */
  static long cpuTicks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // After ')' the fields start at state (3rd); utime is the 14th, stime the 15th.
      return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
