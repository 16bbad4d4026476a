package io.edgefleet.launcher;

import io.edgefleet.cli.Invocation;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Runs CLI verbs for the {@code ./edgefleet} script in a JVM that stays warm, so a call costs a
 * loopback round trip instead of a JVM start. It listens on a loopback port and takes a call only
 * with the secret it wrote, with the port, to a file only its user can read. A call carries the
 * caller's working directory, environment, terminal flags and arguments; the verb runs as that
 * {@link Invocation} and its output returns as frames. What only the caller's own process can do
 * (ask on its terminal, follow a stream until Ctrl-C) is answered "run it yourself" before anything
 * happens. It serves at most {@value #WORKERS} calls at a time (more are refused, and the script
 * then runs the verb itself) and exits when idle for {@link #IDLE}.
 *
 * <p>Wire format, every field ending in a NUL byte: the request is the secret, the working
 * directory, the terminal flags ({@code "00"} … {@code "11"}: stdin, stdout), the number of
 * environment variables and each {@code NAME=VALUE}, the number of arguments and each argument. The
 * answer is frames: {@code A} (the call is taken), then {@code O} + text for stdout, {@code E} +
 * text for stderr and {@code X} + the exit code; or {@code A} and only {@code F}: run the verb in a
 * process of your own, nothing was done. A connection closed before {@code A} was not served.
 */
public final class CliServer implements Closeable {
  static final int WORKERS = 4;
  static final Duration IDLE = Duration.ofMinutes(15);

  /** Bounds of one request. */
  private static final int MAX_REQUEST_BYTES = 1 << 20;

  private static final int MAX_FIELDS = 10_000;
  private static final int REQUEST_TIMEOUT_MS = 5_000;

  /** Options that follow a stream or ask until interrupted: only the caller's process can. */
  private static final Pattern OWN_PROCESS =
      Pattern.compile("--(watch|follow)(=.*)?|-[A-Za-z]*[wf][A-Za-z]*");

  private final ServerSocket socket;
  private final byte[] secret;
  private final ThreadPoolExecutor workers;
  private final AtomicLong lastCall = new AtomicLong(System.nanoTime());
  private volatile boolean closed;

  private CliServer(ServerSocket socket, byte[] secret) {
    this.socket = socket;
    this.secret = secret;
    this.workers =
        new ThreadPoolExecutor(
            WORKERS,
            WORKERS,
            1,
            TimeUnit.MINUTES,
            new ArrayBlockingQueue<>(1),
            r -> {
              Thread t = new Thread(r, "cli-call");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Starts a server on a loopback port and writes {@code PORT SECRET PID} to {@code file}, readable
   * by this user only.
   */
  public static CliServer start(Path file) throws IOException {
    ServerSocket s = new ServerSocket();
    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    CliServer server = new CliServer(s, secret);
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, ".server", ".tmp");
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
    Files.writeString(
        tmp, s.getLocalPort() + " " + server.secret() + " " + ProcessHandle.current().pid() + "\n");
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
    Thread acceptor = new Thread(server::acceptLoop, "cli-server");
    acceptor.setDaemon(true);
    acceptor.start();
    return server;
  }

  /**
   * {@code java … CliServer FILE}: serves until idle for {@link #IDLE} or until the distribution it
   * runs from is rebuilt, then removes FILE.
   */
  public static void main(String[] args) throws Exception {
    Path file = Path.of(args[0]);
    Path jar = Path.of(CliServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    long built = Files.getLastModifiedTime(jar).toMillis();
    try (CliServer server = start(file)) {
      while (!server.idleFor(IDLE)
          && Files.exists(jar)
          && Files.getLastModifiedTime(jar).toMillis() == built) {
        Thread.sleep(5_000);
      }
    } finally {
      Files.deleteIfExists(file);
    }
  }

  public int port() {
    return socket.getLocalPort();
  }

  /** The secret a call must start with, in hex. */
  public String secret() {
    return HexFormat.of().formatHex(secret);
  }

  boolean idleFor(Duration d) {
    return workers.getActiveCount() == 0 && System.nanoTime() - lastCall.get() > d.toNanos();
  }

  @Override
  public void close() {
    closed = true;
    try {
      socket.close();
    } catch (IOException e) {
      // closing anyway
    }
    workers.shutdownNow();
  }

  private void acceptLoop() {
    while (!closed) {
      Socket s;
      try {
        s = socket.accept();
      } catch (IOException e) {
        if (closed) {
          return;
        }
        continue;
      }
      try {
        workers.execute(() -> serve(s));
      } catch (RejectedExecutionException e) {
        closeQuietly(s); // busy: the script runs the verb itself
      }
    }
  }

  private void serve(Socket s) {
    lastCall.set(System.nanoTime());
    try (s) {
      s.setSoTimeout(REQUEST_TIMEOUT_MS);
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      Request r = Request.read(in, secret);
      if (r == null) {
        return; // not our caller: close without a word
      }
      s.setSoTimeout(0);
      // Taken: from here on the caller must not run the verb again itself.
      out.write(new byte[] {'A', 0});
      out.flush();
      out.write(answer(r));
      out.flush();
    } catch (IOException | UncheckedIOException e) {
      // the caller went away
    } finally {
      lastCall.set(System.nanoTime());
    }
  }

  /** Runs the call and returns the frames of its answer. */
  static byte[] answer(Request r) {
    Frames frames = new Frames();
    if (r.args().stream().anyMatch(a -> OWN_PROCESS.matcher(a).matches())) {
      return Frames.runYourself();
    }
    Invocation caller =
        new Invocation(
            r.env(),
            Path.of(r.cwd()),
            Path.of(r.env().getOrDefault("HOME", System.getProperty("user.home"))),
            r.stdinTerminal(),
            r.stdoutTerminal(),
            true);
    String[] args = r.args().toArray(String[]::new);
    // picocli's execute() never throws: a verb that needs its caller's process is noted here.
    Invocation.NeedsOwnProcess[] handBack = new Invocation.NeedsOwnProcess[1];
    int code =
        caller.run(
            () -> {
              CommandLine cl = Main.commandLine(args);
              cl.registerConverter(Path.class, caller::resolve);
              CommandLine.IExecutionExceptionHandler handler = cl.getExecutionExceptionHandler();
              cl.setExecutionExceptionHandler(
                  (e, command, parsed) -> {
                    if (e instanceof Invocation.NeedsOwnProcess own) {
                      handBack[0] = own;
                      return 0;
                    }
                    return handler.handleExecutionException(e, command, parsed);
                  });
              PrintWriter out = new PrintWriter(frames.writer('O'), true);
              PrintWriter err = new PrintWriter(frames.writer('E'), true);
              cl.setOut(out);
              cl.setErr(err);
              try {
                return cl.execute(args);
              } finally {
                out.flush();
                err.flush();
              }
            });
    return handBack[0] != null ? Frames.runYourself() : frames.exit(code);
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // already gone
    }
  }

  /** A call as it came over the socket. */
  record Request(
      String cwd,
      boolean stdinTerminal,
      boolean stdoutTerminal,
      Map<String, String> env,
      List<String> args) {

    /** Reads a request; null when it does not start with the secret or breaks the bounds. */
    static Request read(InputStream in, byte[] secret) throws IOException {
      Fields f = new Fields(in);
      String given = f.next();
      byte[] expected = HexFormat.of().formatHex(secret).getBytes(StandardCharsets.US_ASCII);
      if (given == null
          || !MessageDigest.isEqual(given.getBytes(StandardCharsets.US_ASCII), expected)) {
        return null;
      }
      String cwd = f.next();
      String flags = f.next();
      if (cwd == null || flags == null || flags.length() != 2) {
        return null;
      }
      Map<String, String> env = new LinkedHashMap<>();
      int n = f.count();
      if (n < 0) {
        return null;
      }
      for (int i = 0; i < n; i++) {
        String kv = f.next();
        int eq = kv == null ? -1 : kv.indexOf('=');
        if (eq <= 0) {
          return null;
        }
        env.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
      List<String> args = new ArrayList<>();
      int m = f.count();
      if (m < 0) {
        return null;
      }
      for (int i = 0; i < m; i++) {
        String a = f.next();
        if (a == null) {
          return null;
        }
        args.add(a);
      }
      return new Request(cwd, flags.charAt(0) == '1', flags.charAt(1) == '1', env, args);
    }
  }

  /** NUL-terminated UTF-8 fields, within {@link #MAX_REQUEST_BYTES} and {@link #MAX_FIELDS}. */
  private static final class Fields {
    private final InputStream in;
    private int bytes;
    private int fields;

    Fields(InputStream in) {
      this.in = in;
    }

    /** The next field, or null at the end of the input or past the bounds. */
    String next() throws IOException {
      if (++fields > MAX_FIELDS) {
        return null;
      }
      ByteArrayOutputStream field = new ByteArrayOutputStream();
      while (true) {
        int b;
        try {
          b = in.read();
        } catch (SocketTimeoutException e) {
          return null;
        }
        if (b < 0 || ++bytes > MAX_REQUEST_BYTES) {
          return null;
        }
        if (b == 0) {
          return field.toString(StandardCharsets.UTF_8);
        }
        field.write(b);
      }
    }

    /** A field holding a count, 0 to {@link #MAX_FIELDS}; -1 (nothing follows) if not one. */
    int count() throws IOException {
      String s = next();
      try {
        int n = s == null ? -1 : Integer.parseInt(s);
        return n >= 0 && n <= MAX_FIELDS ? n : -1;
      } catch (NumberFormatException e) {
        return -1;
      }
    }
  }

  /** The answer being built: text frames in the order written, then the exit. */
  private static final class Frames {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    static byte[] runYourself() {
      return new byte[] {'F', 0};
    }

    Writer writer(char stream) {
      return new Writer() {
        @Override
        public void write(char[] c, int off, int len) {
          if (len == 0) {
            return;
          }
          String text = new String(c, off, len).replace("\0", "");
          synchronized (bytes) {
            bytes.write(stream);
            bytes.writeBytes(text.getBytes(StandardCharsets.UTF_8));
            bytes.write(0);
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };
    }

    byte[] exit(int code) {
      synchronized (bytes) {
        bytes.write('X');
        bytes.writeBytes(Integer.toString(code).getBytes(StandardCharsets.US_ASCII));
        bytes.write(0);
        return bytes.toByteArray();
      }
    }
  }
}
