package io.edgefleet.testkit;

import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A controller in its own JVM process, so tests can kill it with SIGKILL and start it again on the
 * same data directory and port.
 */
public final class ControllerProcess implements AutoCloseable {
  private final Path dataDir;
  private final int port;
  private final List<String> extraArgs;
  private final String listenHost;
  private final List<String> output = new CopyOnWriteArrayList<>();
  private Process process;

  public ControllerProcess(Path dataDir, List<String> extraArgs) {
    this(dataDir, extraArgs, "127.0.0.1");
  }

  /**
   * A controller listening on {@code listenHost} ({@code 0.0.0.0} for devices in other network
   * namespaces; pass {@code --advertise-url} and {@code --tls-san} for the address they use).
   */
  public ControllerProcess(Path dataDir, List<String> extraArgs, String listenHost) {
    this(dataDir, extraArgs, listenHost, freePort());
  }

  public ControllerProcess(Path dataDir, List<String> extraArgs, String listenHost, int port) {
    this.dataDir = dataDir;
    this.port = port;
    this.extraArgs = List.copyOf(extraArgs);
    this.listenHost = listenHost;
  }

  public String url() {
    return "https://127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public Path dataDir() {
    return dataDir;
  }

  /** Starts the process and waits until it serves. */
  public ControllerProcess start() {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("-cp");
    cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-Xmx256m");
    cmd.add("io.edgefleet.controller.ControllerCommand");
    cmd.add("--data");
    cmd.add(dataDir.toString());
    cmd.add("--listen");
    cmd.add(listenHost + ":" + port);
    // kubectl's listener on any free port: its fixed default (7444) would make a test fail when
    // anything else on the machine holds that port.
    if (!extraArgs.contains("--kube-port")) {
      cmd.add("--kube-port");
      cmd.add("0");
    }
    // "{port}" in an argument is the port chosen for this controller.
    extraArgs.forEach(a -> cmd.add(a.replace("{port}", Integer.toString(port))));
    output.clear();
    try {
      process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the controller process", e);
    }
    Process p = process;
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  output.add(line);
                }
              } catch (IOException e) {
                // The process died; its exit is observed elsewhere.
              }
            },
            "controller-process-output");
    reader.setDaemon(true);
    reader.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (output.stream().anyMatch(l -> l.contains(" serving https://"))) {
        return this;
      }
      if (!p.isAlive()) {
        throw new IllegalStateException("controller process exited:\n" + String.join("\n", output));
      }
      try {
        p.waitFor(50, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    throw new IllegalStateException(
        "controller did not start in 60s:\n" + String.join("\n", output));
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed. */
  public void kill9() {
    process.destroyForcibly();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("controller process did not die");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * SIGTERM, as {@code systemctl stop} and Kubernetes send it, then waits up to {@code timeout} for
   * the process to exit.
   *
   * @return the exit code, or empty if the process was still running when the time was up (it is
   *     left running: {@link #close} or {@link #kill9} ends it)
   */
  public java.util.OptionalInt terminate(Duration timeout) {
    process.destroy();
    try {
      return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)
          ? java.util.OptionalInt.of(process.exitValue())
          : java.util.OptionalInt.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return java.util.OptionalInt.empty();
    }
  }

  /** The running controller process. */
  public ProcessHandle handle() {
    return process.toHandle();
  }

  /** The processes the controller started that are still running (children and theirs). */
  public List<ProcessHandle> descendants() {
    return process.toHandle().descendants().toList();
  }

  public String adminToken() {
    try {
      return Files.readString(dataDir.resolve("admin-token")).trim();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String caFingerprint() {
    try {
      return Fingerprints.of(Pem.certificateOf(Files.readString(dataDir.resolve("pki/ca.crt"))));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public AdminClient admin() {
    return new AdminClient(url(), adminToken(), caFingerprint());
  }

  public List<String> output() {
    return List.copyOf(output);
  }

  public Duration uptime() {
    return process.info().totalCpuDuration().orElse(Duration.ZERO);
  }

  @Override
  public void close() {
    if (process != null && process.isAlive()) {
      List<ProcessHandle> children = descendants();
      process.destroy();
      try {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
      // A controller that did not stop cleanly must not leave its children to the next test.
      children.forEach(ProcessHandle::destroyForcibly);
    }
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
