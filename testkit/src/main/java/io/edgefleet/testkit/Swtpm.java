package io.edgefleet.testkit;

import io.edgefleet.device.tpm.Tpm;
import io.edgefleet.device.tpm.TpmException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * A real software TPM 2.0 for tests: manufactured with {@code swtpm_setup} in a temporary directory
 * with its own local CA (RSA 2048 EK persisted at 0x81010001, its certificate in NV 0x01c00002
 * issued by the CA), then run as {@code swtpm socket} on a free local port. {@link #endpoint()} is
 * its raw data channel ({@code tcp://127.0.0.1:PORT}). Fails with a clear message if swtpm is not
 * installed. Close it to stop the process and delete the directory.
 */
public final class Swtpm implements AutoCloseable {
  private static final long READY_NANOS = TimeUnit.SECONDS.toNanos(15);

  private final Path dir;
  private final Process process;
  private final int port;
  private final Path socket;

  private Swtpm(Path dir, Process process, int port, Path socket) {
    this.dir = dir;
    this.process = process;
    this.port = port;
    this.socket = socket;
  }

  /** Manufactures and starts a fresh TPM whose data channel is a local TCP port. */
  public static Swtpm start() {
    return start(false);
  }

  /** Manufactures and starts a fresh TPM whose data channel is a Unix socket. */
  public static Swtpm startOnUnixSocket() {
    return start(true);
  }

  private static Swtpm start(boolean unix) {
    Path dir;
    try {
      dir = Files.createTempDirectory("swtpm");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      manufacture(dir);
      return launch(dir, unix);
    } catch (RuntimeException e) {
      delete(dir);
      throw e;
    }
  }

  private static void manufacture(Path dir) {
    Path ca = dir.resolve("ca");
    Path state = dir.resolve("state");
    try {
      Files.createDirectories(ca);
      Files.createDirectories(state);
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
              + "\ncreate_certs_tool_options=/etc/swtpm-localca.options\n"
              + "active_pcr_banks=sha256\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    run(
        dir.resolve("setup.log"),
        "swtpm_setup",
        "--tpm2",
        "--tpmstate",
        state.toString(),
        "--create-ek-cert",
        "--create-platform-cert",
        "--lock-nvram",
        "--config",
        dir.resolve("setup.conf").toString());
  }

  private static Swtpm launch(Path dir, boolean unix) {
    int port = unix ? 0 : freePortPair();
    Path socket = unix ? dir.resolve("swtpm.sock") : null;
    Process p;
    try {
      p =
          new ProcessBuilder(
                  "swtpm",
                  "socket",
                  "--tpm2",
                  "--tpmstate",
                  "dir=" + dir.resolve("state"),
                  "--server",
                  unix
                      ? "type=unixio,path=" + socket
                      : "type=tcp,port=" + port + ",bindaddr=127.0.0.1",
                  "--ctrl",
                  unix
                      ? "type=unixio,path=" + dir.resolve("swtpm.ctrl")
                      : "type=tcp,port=" + (port + 1) + ",bindaddr=127.0.0.1",
                  "--flags",
                  "startup-clear")
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("swtpm.log").toFile())
              .start();
    } catch (IOException e) {
      throw missing("swtpm", e);
    }
    Swtpm s = new Swtpm(dir, p, port, socket);
    long deadline = System.nanoTime() + READY_NANOS;
    // swtpm gives no readiness signal: probe its data channel until it answers a command.
    while (true) {
      if (!p.isAlive()) {
        String log = read(dir.resolve("swtpm.log"));
        s.close();
        throw new IllegalStateException("swtpm exited with " + p.exitValue() + ": " + log);
      }
      try (Tpm tpm = Tpm.open(s.endpoint().toString())) {
        tpm.transientHandles();
        return s;
      } catch (IOException | TpmException e) {
        if (System.nanoTime() > deadline) {
          s.close();
          throw new IllegalStateException("swtpm did not answer at " + s.endpoint(), e);
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
      }
    }
  }

  /** The raw data channel: {@code tcp://127.0.0.1:PORT} or {@code unix:///DIR/swtpm.sock}. */
  public URI endpoint() {
    return socket != null
        ? URI.create("unix://" + socket.toAbsolutePath())
        : URI.create("tcp://127.0.0.1:" + port);
  }

  /** The TCTI for tpm2-tools: {@code swtpm:host=127.0.0.1,port=PORT} (TCP channels only). */
  public String tctiForTools() {
    if (socket != null) {
      throw new IllegalStateException("tpm2-tools reach swtpm over TCP: start it with start()");
    }
    return "swtpm:host=127.0.0.1,port=" + port;
  }

  /** The root certificate of the local CA that issued the EK certificate. */
  public Path rootCa() {
    return dir.resolve("ca").resolve("swtpm-localca-rootca-cert.pem");
  }

  /** The intermediate certificate that signed the EK certificate. */
  public Path intermediateCa() {
    return dir.resolve("ca").resolve("issuercert.pem");
  }

  /** A directory holding both CA certificates, as a controller's {@code --tpm-ca} wants it. */
  public Path caDirectory() {
    Path d = dir.resolve("tpm-ca");
    try {
      if (!Files.exists(d)) {
        Files.createDirectories(d);
        Files.copy(rootCa(), d.resolve("root.pem"));
        Files.copy(intermediateCa(), d.resolve("intermediate.pem"));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return d;
  }

  public Path directory() {
    return dir;
  }

  public long pid() {
    return process.pid();
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    delete(dir);
  }

  private static void run(Path log, String... command) {
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(command[0] + " did not finish within 60s");
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(
            command[0] + " failed (" + p.exitValue() + "): " + read(log));
      }
    } catch (IOException e) {
      throw missing(command[0], e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static IllegalStateException missing(String tool, IOException e) {
    return new IllegalStateException(
        tool
            + " cannot be run ("
            + e.getMessage()
            + "): the TPM tests need a software TPM; install it with"
            + " `apt-get install swtpm swtpm-tools tpm2-tools`",
        e);
  }

  private static int freePortPair() {
    for (int i = 0; i < 50; i++) {
      try (ServerSocket a = new ServerSocket(0)) {
        int port = a.getLocalPort();
        if (port < 65535) {
          try (ServerSocket b = new ServerSocket(port + 1)) {
            return port;
          } catch (IOException taken) {
            // Try another pair.
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    throw new IllegalStateException("no two adjacent free ports for swtpm");
  }

  private static String read(Path f) {
    try {
      return Files.readString(f, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      return "(no log)";
    }
  }

  private static void delete(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      List<Path> all = new ArrayList<>(s.sorted(Comparator.reverseOrder()).toList());
      for (Path p : all) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // Left for the OS to clean /tmp.
    }
  }
}
