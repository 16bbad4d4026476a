package io.edgefleet.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command {@code ./edgefleet ROLE …} runs, with the distribution the launcher built, but
 * started directly: the script would rebuild the distribution when a source file changed while a
 * benchmark runs (e.g. between a kill and a restart).
 */
final class Launcher {
  private Launcher() {}

  static List<String> command(Path root, List<String> jvmOpts, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.addAll(jvmOpts);
    cmd.add("-cp");
    cmd.add(root.resolve("launcher/target/dist/lib").toString() + "/*");
    cmd.add("io.edgefleet.launcher.Main");
    cmd.addAll(List.of(args));
    return cmd;
  }
}
