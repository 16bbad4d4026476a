package io.edgefleet.e2e.agentupdates;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A device as systemd runs it: the start script {@code edgefleet-agent} with its directories moved
 * by environment variables, the test's JDK as the runtime, its output appended to a log.
 */
final class DeviceProcess implements AutoCloseable {
  static final Path SCRIPT =
      Path.of("..", "agent", "src", "main", "dist", "bin", "edgefleet-agent").toAbsolutePath();

  final Path home;
  final Path conf;
  final Path state;
  final Path log;
  private final String agentArgs;
  private Process process;

  DeviceProcess(Path root, String agentArgs) throws IOException {
    this.home = Files.createDirectories(root.resolve("home"));
    this.conf = Files.createDirectories(root.resolve("conf"));
    this.state = Files.createDirectories(root.resolve("state"));
    this.log = root.resolve("device.log");
    this.agentArgs = agentArgs;
  }

  Path slots() {
    return state.resolve("slots");
  }

  Path agentState() {
    return state.resolve("agent");
  }

  void start() throws IOException {
    ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString());
    Map<String, String> env = pb.environment();
    env.put("EDGEFLEET_HOME", home.toString());
    env.put("EDGEFLEET_CONF", conf.toString());
    env.put("EDGEFLEET_STATE", state.toString());
    env.put("EDGEFLEET_JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
    env.put("EDGEFLEET_AGENT_ARGS", agentArgs);
    env.put("EDGEFLEET_STOP_GRACE", "5");
    // These tests are of slots and switches: each new slot would first record a class cache (a
    // run and seconds of CPU of its own). The cache is tested by StartScriptTest and the package's
    // test.
    env.put("EDGEFLEET_CLASS_CACHE", "off");
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    process = pb.start();
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  /** The script's exit status once it ended by itself. */
  int waitFor(Duration d) throws InterruptedException {
    if (!process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("the start script is still running after " + d);
    }
    return process.exitValue();
  }

  /** SIGTERM to the script (as systemd stops it); it stops the agent. */
  void stop() throws InterruptedException {
    if (process == null) {
      return;
    }
    List<ProcessHandle> tree = process.descendants().toList();
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      kill9();
      return;
    }
    for (ProcessHandle h : tree) {
      h.onExit().completeOnTimeout(null, 20, TimeUnit.SECONDS).join();
    }
    process = null;
  }

  /** kill -9 of the script and everything it started (systemd's cgroup kill, a power cut). */
  void kill9() {
    if (process == null) {
      return;
    }
    List<ProcessHandle> tree = process.descendants().toList();
    process.destroyForcibly();
    tree.forEach(ProcessHandle::destroyForcibly);
    process.onExit().join();
    for (ProcessHandle h : tree) {
      h.onExit().join();
    }
    process = null;
  }

  /** kill -9 of the agent's JVM only: the script lives on. */
  void killAgent9() {
    process
        .descendants()
        .filter(h -> h.info().command().orElse("").endsWith("java"))
        .forEach(
            h -> {
              h.destroyForcibly();
              h.onExit().join();
            });
  }

  String log() {
    try {
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      return "";
    }
  }

  @Override
  public void close() {
    kill9();
  }
}
