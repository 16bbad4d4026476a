package io.edgefleet.protocol.tpm;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real swtpm for one test class: a fresh state directory provisioned by swtpm_setup with EK
 * certificates from its own swtpm_localca CA, the swtpm process on a TCP port, and tpm2-tools run
 * against it. Fails, never skips, when the tools are missing.
 */
final class RealSwtpm implements AutoCloseable {
  final Path dir;
  final Path caDir;
  final int port;
  private final Process process;

  private RealSwtpm(Path dir, Path caDir, int port, Process process) {
    this.dir = dir;
    this.caDir = caDir;
    this.port = port;
    this.process = process;
  }

  static RealSwtpm start(Path dir) throws Exception {
    for (String tool : List.of("swtpm", "swtpm_setup", "swtpm_localca", "tpm2_quote")) {
      if (!Files.isExecutable(Path.of("/usr/bin", tool))) {
        throw new IllegalStateException(
            tool + " is not installed: apt-get install swtpm swtpm-tools tpm2-tools");
      }
    }
    Path ca = Files.createDirectories(dir.resolve("ca"));
    Path state = Files.createDirectories(dir.resolve("state"));
    Files.writeString(
        dir.resolve("localca.conf"),
        "statedir="
            + ca
            + "\nsigningkey="
            + ca.resolve("signkey.pem")
            + "\nissuercert="
            + ca.resolve("issuercert.pem")
            + "\ncertserial="
            + ca.resolve("certserial")
            + "\n");
    Files.writeString(
        dir.resolve("setup.conf"),
        "create_certs_tool=/usr/bin/swtpm_localca\ncreate_certs_tool_config="
            + dir.resolve("localca.conf")
            + "\ncreate_certs_tool_options=/etc/swtpm-localca.options\nactive_pcr_banks=sha256\n");
    run(
        dir,
        null,
        "swtpm_setup",
        "--tpm2",
        "--tpmstate",
        state.toString(),
        "--create-ek-cert",
        "--create-platform-cert",
        "--lock-nvram",
        "--config",
        dir.resolve("setup.conf").toString());
    int port = freePortPair();
    Process p =
        new ProcessBuilder(
                "swtpm",
                "socket",
                "--tpm2",
                "--tpmstate",
                "dir=" + state,
                "--server",
                "type=tcp,port=" + port + ",bindaddr=127.0.0.1",
                "--ctrl",
                "type=tcp,port=" + (port + 1) + ",bindaddr=127.0.0.1",
                "--flags",
                "startup-clear")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("swtpm.log").toFile())
            .start();
    RealSwtpm swtpm = new RealSwtpm(dir, ca, port, p);
    await()
        .atMost(Duration.ofSeconds(10))
        .ignoreExceptions()
        .until(
            () -> {
              if (!p.isAlive()) {
                throw new IllegalStateException(
                    "swtpm exited: " + Files.readString(dir.resolve("swtpm.log")));
              }
              try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return true;
              }
            });
    return swtpm;
  }

  private static int freePortPair() throws IOException {
    for (int i = 0; i < 50; i++) {
      int port;
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        port = s.getLocalPort();
      }
      if (port >= 65535) {
        continue;
      }
      try (ServerSocket s = new ServerSocket(port + 1, 1, InetAddress.getLoopbackAddress())) {
        return port;
      } catch (IOException taken) {
        // try another pair
      }
    }
    throw new IOException("no two adjacent free ports");
  }

  /** Runs a tpm2-tools command against this swtpm in its directory; returns its stdout. */
  String tool(String... command) throws Exception {
    try {
      return run(dir, tcti(), command);
    } finally {
      flushTransient();
    }
  }

  /**
   * Without a resource manager, objects tpm2-tools loads stay loaded and the TPM runs out of object
   * slots after three; flush them after each command, as a resource manager would.
   */
  private void flushTransient() throws Exception {
    run(dir, tcti(), "tpm2_flushcontext", "-t");
  }

  private String tcti() {
    return "swtpm:host=127.0.0.1,port=" + port;
  }

  /** Like {@link #tool} but returns the exit code instead of failing on a non-zero one. */
  int toolExit(String... command) throws Exception {
    ProcessBuilder pb = builder(dir, tcti(), command);
    Process p = pb.start();
    p.getInputStream().readAllBytes();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " timed out");
      }
      return p.exitValue();
    } finally {
      flushTransient();
    }
  }

  byte[] read(String file) throws IOException {
    return Files.readAllBytes(dir.resolve(file));
  }

  private static ProcessBuilder builder(Path dir, String tcti, String... command) {
    ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(List.of(command)));
    pb.directory(dir.toFile()).redirectErrorStream(true);
    if (tcti != null) {
      pb.environment().put("TPM2TOOLS_TCTI", tcti);
    }
    return pb;
  }

  private static String run(Path dir, String tcti, String... command) throws Exception {
    Process p = builder(dir, tcti, command).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", command) + " timed out");
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException(
          String.join(" ", command) + " exited " + p.exitValue() + ":\n" + out);
    }
    return out;
  }

  @Override
  public void close() throws Exception {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
  }
}
