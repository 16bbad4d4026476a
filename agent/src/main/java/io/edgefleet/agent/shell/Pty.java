package io.edgefleet.agent.shell;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Structure;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A program running on a pseudo-terminal of its own: the master side is held here, the slave is the
 * program's standard input, output and error and its controlling terminal ({@code setsid --ctty}),
 * so it sees a real terminal with a window size, job control and line discipline. Linux only.
 *
 * <p>Reads and writes of the master are blocking native calls: run them on platform threads.
 */
public final class Pty implements AutoCloseable {

  /** The C library calls a PTY needs. */
  interface LibC extends Library {
    LibC INSTANCE = Native.load("c", LibC.class);

    int posix_openpt(int flags) throws LastErrorException;

    int grantpt(int fd) throws LastErrorException;

    int unlockpt(int fd) throws LastErrorException;

    String ptsname(int fd);

    int ioctl(int fd, NativeLong request, Winsize size) throws LastErrorException;

    NativeLong read(int fd, byte[] buf, NativeLong count) throws LastErrorException;

    NativeLong write(int fd, byte[] buf, NativeLong count) throws LastErrorException;

    int poll(PollFd fds, int nfds, int timeout) throws LastErrorException;

    int close(int fd) throws LastErrorException;

    int kill(int pid, int signal) throws LastErrorException;
  }

  /** {@code struct winsize}. */
  @Structure.FieldOrder({"ws_row", "ws_col", "ws_xpixel", "ws_ypixel"})
  public static final class Winsize extends Structure {
    public short ws_row;
    public short ws_col;
    public short ws_xpixel;
    public short ws_ypixel;
  }

  /** {@code struct pollfd}. */
  @Structure.FieldOrder({"fd", "events", "revents"})
  public static final class PollFd extends Structure {
    public int fd;
    public short events;
    public short revents;
  }

  private static final int O_RDWR = 2;
  private static final int O_NOCTTY = 0400;
  private static final short POLLIN = 1;
  private static final int EINTR = 4;
  private static final int EAGAIN = 11;
  private static final int EIO = 5;

  /** {@code TIOCSWINSZ} on Linux's generic ioctl numbering (x86, arm, riscv). */
  private static final NativeLong TIOCSWINSZ = new NativeLong(0x5414);

  /** {@code TIOCGWINSZ}, for tests. */
  private static final NativeLong TIOCGWINSZ = new NativeLong(0x5413);

  static final int SIGHUP = 1;
  static final int SIGKILL = 9;

  /** util-linux's setsid, which makes the terminal the controlling one ({@code --ctty}). */
  private static final String SETSID =
      java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/setsid"))
          ? "/usr/bin/setsid"
          : "setsid";

  /** The largest window a resize may ask for. */
  public static final int MAX_DIMENSION = 1000;

  private final int master;
  private final String slave;
  private final Process process;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final InputStream input = new MasterInput();
  private final OutputStream output = new MasterOutput();

  private Pty(int master, String slave, Process process) {
    this.master = master;
    this.slave = slave;
    this.process = process;
  }

  /**
   * Starts {@code command} on a new pseudo-terminal of {@code cols} by {@code rows}.
   *
   * @param env the program's whole environment: the agent's own (which may hold credentials) is not
   *     passed on
   * @throws IOException the PTY cannot be made or the program cannot be started
   */
  public static Pty start(
      List<String> command, Map<String, String> env, File directory, int cols, int rows)
      throws IOException {
    checkSize(cols, rows);
    LibC c = LibC.INSTANCE;
    int fd;
    try {
      fd = c.posix_openpt(O_RDWR | O_NOCTTY);
    } catch (LastErrorException e) {
      throw new IOException("no pseudo-terminal can be opened: errno " + e.getErrorCode(), e);
    }
    try {
      c.grantpt(fd);
      c.unlockpt(fd);
      String name = c.ptsname(fd);
      if (name == null) {
        throw new IOException("the pseudo-terminal has no slave name");
      }
      setSize(fd, cols, rows);
      File tty = new File(name);
      List<String> argv = new java.util.ArrayList<>(List.of(SETSID, "--ctty", "--wait"));
      argv.addAll(command);
      ProcessBuilder pb = new ProcessBuilder(argv);
      pb.environment().clear();
      pb.environment().putAll(env);
      if (directory != null) {
        pb.directory(directory);
      }
      pb.redirectInput(tty).redirectOutput(tty).redirectError(tty);
      Process p = pb.start();
      return new Pty(fd, name, p);
    } catch (LastErrorException e) {
      closeQuietly(fd);
      throw new IOException("the pseudo-terminal cannot be set up: errno " + e.getErrorCode(), e);
    } catch (IOException | RuntimeException e) {
      closeQuietly(fd);
      throw e;
    }
  }

  private static void checkSize(int cols, int rows) {
    if (cols < 1 || rows < 1 || cols > MAX_DIMENSION || rows > MAX_DIMENSION) {
      throw new IllegalArgumentException(
          "a terminal is 1 to " + MAX_DIMENSION + " columns and rows, not " + cols + "x" + rows);
    }
  }

  private static void setSize(int fd, int cols, int rows) {
    Winsize ws = new Winsize();
    ws.ws_col = (short) cols;
    ws.ws_row = (short) rows;
    LibC.INSTANCE.ioctl(fd, TIOCSWINSZ, ws);
  }

  /** Changes the window size; the program receives {@code SIGWINCH}. */
  public void resize(int cols, int rows) throws IOException {
    checkSize(cols, rows);
    if (closed.get()) {
      throw new IOException("the terminal is closed");
    }
    try {
      setSize(master, cols, rows);
    } catch (LastErrorException e) {
      throw new IOException("the window cannot be resized: errno " + e.getErrorCode(), e);
    }
  }

  /** The window size as the terminal has it: {@code {cols, rows}}. */
  public int[] size() {
    Winsize ws = new Winsize();
    LibC.INSTANCE.ioctl(master, TIOCGWINSZ, ws);
    return new int[] {Short.toUnsignedInt(ws.ws_col), Short.toUnsignedInt(ws.ws_row)};
  }

  /** The slave device, such as {@code /dev/pts/3}. */
  public String slaveName() {
    return slave;
  }

  /** What the program writes to its terminal; -1 once it is gone and all was read. */
  public InputStream input() {
    return input;
  }

  /** What is typed at the program's terminal. */
  public OutputStream output() {
    return output;
  }

  public Process process() {
    return process;
  }

  /** Hangs up and then kills the program's whole process group (its session), and closes. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    killGroup(SIGHUP);
    try {
      if (!process.waitFor(2, TimeUnit.SECONDS)) {
        killGroup(SIGKILL);
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      killGroup(SIGKILL);
    }
    // Children that ignored the hang-up go too.
    killGroup(SIGKILL);
    closeQuietly(master);
  }

  /**
   * Signals every process of the program's session: its process group, the groups an interactive
   * shell puts its jobs in (same session), and its descendants that left the session.
   */
  void killGroup(int signal) {
    long pid = process.pid();
    java.util.Set<Long> targets = new java.util.TreeSet<>(sessionMembers(pid));
    process.descendants().forEach(h -> targets.add(h.pid()));
    signal((int) -pid, signal);
    for (long p : targets) {
      signal((int) p, signal);
    }
  }

  private static void signal(int pid, int signal) {
    try {
      LibC.INSTANCE.kill(pid, signal);
    } catch (LastErrorException e) {
      // already gone
    }
  }

  /** The processes whose session is {@code sid}, read from {@code /proc/<pid>/stat}. */
  static java.util.List<Long> sessionMembers(long sid) {
    java.util.List<Long> out = new java.util.ArrayList<>();
    try (var dir = java.nio.file.Files.newDirectoryStream(java.nio.file.Path.of("/proc"))) {
      for (java.nio.file.Path p : dir) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        try {
          String stat = java.nio.file.Files.readString(p.resolve("stat"));
          // pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses.
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          if (f.length > 3 && Long.parseLong(f[3]) == sid) {
            out.add(Long.parseLong(name));
          }
        } catch (IOException | RuntimeException e) {
          // the process ended meanwhile
        }
      }
    } catch (IOException e) {
      // no /proc: the process group is signalled all the same
    }
    return out;
  }

  private static void closeQuietly(int fd) {
    try {
      LibC.INSTANCE.close(fd);
    } catch (LastErrorException e) {
      // nothing left to release
    }
  }

  private final class MasterInput extends InputStream {
    private final PollFd poll = new PollFd();

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      while (true) {
        if (closed.get()) {
          return -1;
        }
        // Poll with a timeout so that close() ends a reader even if something keeps the slave
        // open.
        poll.fd = master;
        poll.events = POLLIN;
        poll.revents = 0;
        int ready;
        try {
          ready = LibC.INSTANCE.poll(poll, 1, 250);
        } catch (LastErrorException e) {
          if (e.getErrorCode() == EINTR) {
            continue;
          }
          throw new IOException("the terminal cannot be polled: errno " + e.getErrorCode(), e);
        }
        if (ready == 0) {
          continue;
        }
        byte[] buf = off == 0 ? b : new byte[len];
        long n;
        try {
          n = LibC.INSTANCE.read(master, buf, new NativeLong(len)).longValue();
        } catch (LastErrorException e) {
          if (e.getErrorCode() == EINTR || e.getErrorCode() == EAGAIN) {
            continue;
          }
          if (e.getErrorCode() == EIO) {
            // Every holder of the slave side closed it: the program is gone.
            return -1;
          }
          throw new IOException("the terminal cannot be read: errno " + e.getErrorCode(), e);
        }
        if (n <= 0) {
          return -1;
        }
        if (buf != b) {
          System.arraycopy(buf, 0, b, off, (int) n);
        }
        return (int) n;
      }
    }
  }

  private final class MasterOutput extends OutputStream {
    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      byte[] buf = off == 0 ? b : java.util.Arrays.copyOfRange(b, off, off + len);
      int done = 0;
      while (done < len) {
        if (closed.get()) {
          throw new IOException("the terminal is closed");
        }
        byte[] chunk = done == 0 ? buf : java.util.Arrays.copyOfRange(buf, done, len);
        long n;
        try {
          n = LibC.INSTANCE.write(master, chunk, new NativeLong(len - done)).longValue();
        } catch (LastErrorException e) {
          if (e.getErrorCode() == EINTR || e.getErrorCode() == EAGAIN) {
            continue;
          }
          throw new IOException("the terminal cannot be written: errno " + e.getErrorCode(), e);
        }
        done += (int) n;
      }
    }
  }
}
