package io.edgefleet.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Where a CLI call comes from: the caller's environment, working directory, home and whether its
 * standard input and output are terminals. A call run by this process for itself sees the
 * process's; a call served for another process ({@code served}, see the launcher's CLI server) sees
 * what that process sent, so that options, relative paths, tokens from the environment and table
 * widths mean what they mean to the person typing. Commands read these only from {@link
 * #current()}.
 *
 * @param env the caller's environment variables
 * @param cwd the caller's working directory, against which relative paths are resolved
 * @param home the caller's home directory (the default CLI configuration lives under it)
 * @param stdinTerminal whether the caller's standard input is a terminal (a question can be asked)
 * @param stdoutTerminal whether the caller's standard output is a terminal (width, colour)
 * @param served whether the call runs in another process than the caller's: it cannot read the
 *     caller's terminal, so what needs it throws {@link NeedsOwnProcess}
 */
public record Invocation(
    Map<String, String> env,
    Path cwd,
    Path home,
    boolean stdinTerminal,
    boolean stdoutTerminal,
    boolean served) {

  private static final ThreadLocal<Invocation> CURRENT =
      ThreadLocal.withInitial(Invocation::ofThisProcess);

  public Invocation {
    env = Map.copyOf(env);
    cwd = cwd.toAbsolutePath().normalize();
    home = home.toAbsolutePath().normalize();
  }

  /** This process's own: its environment, directory and terminals. */
  public static Invocation ofThisProcess() {
    return new Invocation(
        System.getenv(),
        Path.of("").toAbsolutePath(),
        Path.of(System.getProperty("user.home")),
        isTerminal(0),
        isTerminal(1),
        false);
  }

  /** The invocation of the call running on this thread. */
  public static Invocation current() {
    return CURRENT.get();
  }

  /** Runs {@code call} as this invocation's. */
  public <T> T run(Supplier<T> call) {
    Invocation before = CURRENT.get();
    CURRENT.set(this);
    try {
      return call.get();
    } finally {
      CURRENT.set(before);
    }
  }

  /** A path as the caller means it: relative paths against the caller's working directory. */
  public Path resolve(String path) {
    return cwd.resolve(path);
  }

  /**
   * What a served call cannot do and its caller must run in a process of its own: ask a question on
   * the caller's terminal, follow a stream until interrupted. Thrown before anything changed.
   */
  public static final class NeedsOwnProcess extends RuntimeException {
    public NeedsOwnProcess(String why) {
      super(why, null, false, false);
    }
  }

  /** Whether file descriptor {@code fd} of this process is a terminal (Linux; else a console). */
  private static boolean isTerminal(int fd) {
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return System.console() != null;
    }
  }
}
