package io.edgefleet.agent.artifacts;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether a process of this host holds a file open, read from {@code /proc/<pid>/fd}: a VM whose
 * disk is still open, or a container runtime still loading an image, keeps its blob on disk even
 * when the desired state no longer names it. Processes the agent may not inspect are not seen.
 */
final class OpenFiles {
  private static final Path PROC = Path.of("/proc");

  private OpenFiles() {}

  /** Whether any process this user may inspect has {@code file} open. */
  static boolean anyOpen(Path file) {
    Path target;
    try {
      target = file.toRealPath();
    } catch (IOException e) {
      return false;
    }
    try (DirectoryStream<Path> pids = Files.newDirectoryStream(PROC, "[0-9]*")) {
      for (Path pid : pids) {
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(pid.resolve("fd"))) {
          for (Path fd : fds) {
            try {
              if (Files.readSymbolicLink(fd).equals(target)) {
                return true;
              }
            } catch (IOException | UnsupportedOperationException e) {
              // The descriptor closed meanwhile.
            }
          }
        } catch (IOException e) {
          // The process ended, or is not ours to inspect.
        }
      }
    } catch (IOException e) {
      // No /proc: nothing is seen as open.
    }
    return false;
  }
}
