package io.edgefleet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A process's CPU time and resident memory, read from {@code /proc/PID}. */
final class ProcStat {
  /** Clock ticks per second of {@code /proc/PID/stat}'s times (USER_HZ: 100 on Linux). */
  static final int TICKS_PER_SECOND = 100;

  private ProcStat() {}

  /** User + system CPU time of the process so far, in clock ticks. */
  static long cpuTicks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // After ')' the fields start at state (3rd); utime is the 14th, stime the 15th.
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  /** Resident memory ({@code VmRSS}) in bytes, -1 if the process is gone. */
  static long rssBytes(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // Gone.
    }
    return -1;
  }
}
