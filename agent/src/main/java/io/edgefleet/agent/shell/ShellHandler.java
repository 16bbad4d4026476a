package io.edgefleet.agent.shell;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.edgefleet.agent.tunnel.StreamHandler;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tunnel.TunnelException;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code shell} kind: a login shell on a pseudo-terminal of its own ({@link Pty}). Stream
 * params {@code cols} and {@code rows} give the first window size (default 80x24), {@code term} the
 * terminal type; CONTROL {@code {"resize": {"cols": C, "rows": R}}} changes the size. DATA from the
 * controller is typed at the terminal (the end of that input types Ctrl-D, so a piped script ends
 * the shell); what the terminal shows comes back as DATA. When the shell exits the stream gets
 * CONTROL {@code {"exit": code}} and then FIN; when the stream ends first (the operator left, the
 * link was cut) the shell's whole session is killed. Refused with {@code SHELL_DISABLED} unless the
 * device's own configuration allows shells ({@code --allow-shell}).
 */
public final class ShellHandler implements StreamHandler {
  private static final Logger LOG = LoggerFactory.getLogger(ShellHandler.class);
  private static final Pattern TERM = Pattern.compile("[A-Za-z0-9._+-]{1,64}");
  private static final byte CTRL_D = 4;

  private final boolean allowed;
  private final List<String> command;

  /**
   * @param allowed whether the device's own configuration allows shells
   * @param command the shell to run, such as {@code [/bin/bash, -l]}
   */
  public ShellHandler(boolean allowed, List<String> command) {
    this.allowed = allowed;
    this.command = List.copyOf(command);
  }

  /** The shell of {@code $SHELL} as a login shell, or {@code /bin/sh}. */
  public static List<String> defaultShell(String configured) {
    String sh = configured != null && !configured.isBlank() ? configured : System.getenv("SHELL");
    if (sh == null || sh.isBlank() || !new File(sh).canExecute()) {
      sh = "/bin/sh";
    }
    return List.of(sh, "-l");
  }

  @Override
  public void open(TunnelStream s) throws Exception {
    if (!allowed) {
      throw new TunnelException(
          ErrorCode.SHELL_DISABLED,
          "this device does not allow remote shells: its owner starts the agent with"
              + " --allow-shell to allow them");
    }
    int cols = dimension(s.params(), "cols", 80);
    int rows = dimension(s.params(), "rows", 24);
    String term = s.params().getOrDefault("term", "xterm-256color");
    if (!TERM.matcher(term).matches()) {
      throw new TunnelException(ErrorCode.VALIDATION_FAILED, "term is not a terminal type");
    }
    String home = System.getProperty("user.home");
    Pty pty;
    try {
      pty =
          Pty.start(
              command, Map.of("TERM", term), home == null ? null : new File(home), cols, rows);
    } catch (IOException e) {
      throw new TunnelException(
          ErrorCode.INTERNAL, "the shell cannot be started: " + e.getMessage());
    }
    try {
      s.onControl(msg -> control(pty, msg));
      // The operator left or the link was cut: the shell's whole session goes.
      s.ended().whenComplete((end, error) -> pty.close());
      Thread typing = platform("edgefleet-shell-in", () -> type(s.input(), pty));
      Thread showing = platform("edgefleet-shell-out", () -> show(pty.input(), s.output()));
      int code = pty.process().waitFor();
      // What the shell printed last is still on its way: let it arrive, then close the terminal
      // (which also ends background jobs still holding it).
      showing.join(2000);
      pty.close();
      showing.join();
      typing.interrupt();
      if (!s.ended().isDone()) {
        s.control(JsonNodeFactory.instance.objectNode().put("exit", code));
      }
    } finally {
      pty.close();
    }
  }

  /**
   * The shell's environment: what a login needs (PATH, HOME, USER, LOGNAME, SHELL, LANG, TERM), not
   * the agent's whole environment, which may hold credentials.
   */
  static Map<String, String> environment(String term, String shell) {
    Map<String, String> env = new java.util.LinkedHashMap<>();
    Map<String, String> own = System.getenv();
    env.put(
        "PATH",
        own.getOrDefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    for (String k : List.of("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ")) {
      if (own.containsKey(k)) {
        env.put(k, own.get(k));
      }
    }
    env.putIfAbsent("HOME", System.getProperty("user.home", "/"));
    env.putIfAbsent("USER", System.getProperty("user.name", "root"));
    env.putIfAbsent("LOGNAME", env.get("USER"));
    env.put("SHELL", shell);
    env.put("TERM", term);
    return env;
  }

  private static int dimension(Map<String, String> params, String name, int fallback)
      throws TunnelException {
    String raw = params.get(name);
    if (raw == null || raw.isBlank()) {
      return fallback;
    }
    try {
      int v = Integer.parseInt(raw);
      if (v >= 1 && v <= Pty.MAX_DIMENSION) {
        return v;
      }
    } catch (NumberFormatException e) {
      // answered below
    }
    throw new TunnelException(
        ErrorCode.VALIDATION_FAILED,
        name + " must be 1 to " + Pty.MAX_DIMENSION + ", not '" + raw + "'");
  }

  private static void control(Pty pty, JsonNode msg) {
    JsonNode r = msg.path("resize");
    if (!r.isObject()) {
      return;
    }
    int cols = r.path("cols").asInt(-1);
    int rows = r.path("rows").asInt(-1);
    try {
      pty.resize(cols, rows);
    } catch (IOException | IllegalArgumentException e) {
      LOG.debug("resize to {}x{} refused: {}", cols, rows, e.getMessage());
    }
  }

  private static Thread platform(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** Types what the operator sends; the end of it types Ctrl-D. */
  private static void type(InputStream from, Pty pty) {
    byte[] buf = new byte[8192];
    try {
      int n;
      while ((n = from.read(buf)) >= 0) {
        pty.output().write(buf, 0, n);
      }
      pty.output().write(CTRL_D);
    } catch (IOException e) {
      // the stream or the terminal ended
    }
  }

  /** Sends what the terminal shows. */
  private static void show(InputStream from, OutputStream to) {
    byte[] buf = new byte[16 * 1024];
    try {
      int n;
      while ((n = from.read(buf)) >= 0) {
        to.write(buf, 0, n);
        to.flush();
      }
    } catch (IOException e) {
      // the stream ended (reset, budget) or the terminal went away
    }
  }

  /** For tests: waits for a process with a bound. */
  static boolean exited(Process p, long seconds) throws InterruptedException {
    return p.waitFor(seconds, TimeUnit.SECONDS);
  }
}
