package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code edgefleet shell DEVICE}: a shell on the device through the controller, and the shell
 * policy verbs ({@code grants}, {@code request}, {@code requests}, {@code approve}, {@code deny}).
 */
@Command(
    name = "shell",
    description = {
      "Open a shell on a device through the controller (a PTY; every session is recorded).",
      "Needs tunnels:shell, a shell grant of one of your roles that covers the device (edgefleet"
          + " shell grants), the device's agent started with --allow-shell and, where the grant"
          + " says so, another person's approval of your request (edgefleet shell request)."
    },
    subcommands = {
      ShellCommand.Grants.class,
      ShellCommand.RequestCreate.class,
      ShellCommand.RequestsList.class,
      ShellCommand.Approve.class,
      ShellCommand.Deny.class
    })
final class ShellCommand extends TokenCommand {
  static final String GRANTS = "/api/v1/shell-grants";
  static final String REQUESTS = "/api/v1/shell-requests";

  @Parameters(
      paramLabel = "DEVICE",
      arity = "0..1",
      description = "Device id, as `devices list` shows it.")
  String device;

  @Option(
      names = "--term",
      paramLabel = "TYPE",
      description = "Terminal type for the remote shell (default: $TERM, else xterm-256color).")
  String term;

  @Override
  void run(ControllerClient api) {
    if (device == null) {
      throw badInput(
          "name the DEVICE to open a shell on, or a verb: grants, request, requests, approve,"
              + " deny");
    }
    Invocation caller = Invocation.current();
    if (caller.served()) {
      throw new Invocation.NeedsOwnProcess("a shell reads and drives the caller's terminal");
    }
    exitCode = new Terminal(caller).session(api, device, term);
  }

  /** The caller's terminal and the WebSocket session to the device's shell. */
  static final class Terminal {
    private final Invocation caller;
    private final boolean tty;
    private String saved;

    Terminal(Invocation caller) {
      this.caller = caller;
      this.tty = caller.stdinTerminal() && new java.io.File("/dev/tty").canRead();
    }

    /** Runs the session; answers the shell's exit code. */
    int session(ControllerClient api, String device, String termOption) {
      int[] size = size();
      String term =
          termOption != null ? termOption : caller.env().getOrDefault("TERM", "xterm-256color");
      URI uri =
          URI.create(
              api.server().toString().replaceFirst("^http", "ws")
                  + "/api/v1/devices/"
                  + ControllerClient.segment(device)
                  + "/shell?cols="
                  + size[0]
                  + "&rows="
                  + size[1]
                  + "&term="
                  + ControllerClient.segment(term));
      PrintStream stdout = System.out;
      CompletableFuture<String> closed = new CompletableFuture<>();
      AtomicInteger exit = new AtomicInteger(-1);
      WebSocket.Listener listener =
          new WebSocket.Listener() {
            private final StringBuilder text = new StringBuilder();

            @Override
            public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
              byte[] b = new byte[data.remaining()];
              data.get(b);
              stdout.write(b, 0, b.length);
              stdout.flush();
              ws.request(1);
              return null;
            }

            @Override
            public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
              text.append(data);
              if (last) {
                try {
                  JsonNode msg = Json.mapper().readTree(text.toString());
                  if (msg.has("exit")) {
                    exit.set(msg.get("exit").asInt());
                  }
                } catch (IOException e) {
                  // not a control message this client knows
                }
                text.setLength(0);
              }
              ws.request(1);
              return null;
            }

            @Override
            public CompletionStage<?> onClose(WebSocket ws, int status, String reason) {
              closed.complete(status + " " + reason);
              return null;
            }

            @Override
            public void onError(WebSocket ws, Throwable error) {
              closed.completeExceptionally(error);
            }
          };
      WebSocket ws;
      try {
        ws =
            api.http()
                .newWebSocketBuilder()
                .header("Authorization", "Bearer " + api.connection().token())
                .connectTimeout(ControllerClient.CONNECT_TIMEOUT)
                .buildAsync(uri, listener)
                .get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw CliException.failed("interrupted while connecting");
      } catch (ExecutionException e) {
        throw refusal(e.getCause(), api);
      }
      Runnable restore = this::restore;
      Thread hook = new Thread(restore, "edgefleet-shell-restore");
      Runtime.getRuntime().addShutdownHook(hook);
      try {
        raw();
        if (tty) {
          System.err.print(
              "connected to "
                  + device
                  + " (the session is recorded; exit the shell to end it)\r\n");
        }
        watchResizes(ws);
        Thread typing = new Thread(() -> type(ws), "edgefleet-shell-stdin");
        typing.setDaemon(true);
        typing.start();
        String end;
        try {
          end = closed.get();
        } catch (ExecutionException e) {
          restore();
          throw CliException.failed(
              "the shell session broke off: "
                  + (e.getCause().getMessage() == null ? e.getCause() : e.getCause().getMessage()));
        }
        restore();
        if (exit.get() >= 0) {
          return exit.get();
        }
        String reason = end.substring(end.indexOf(' ') + 1);
        throw CliException.failed(
            "the shell session ended: " + (reason.isBlank() ? "closed by the controller" : reason));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        ws.abort();
        throw CliException.failed("interrupted");
      } finally {
        restore();
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
          // shutting down already
        }
      }
    }

    private static CliException refusal(Throwable cause, ControllerClient api) {
      if (cause instanceof WebSocketHandshakeException h) {
        Object body = h.getResponse().body();
        return ControllerClient.apiError(
            h.getResponse().statusCode(), body == null ? "" : body.toString());
      }
      if (cause instanceof IOException io) {
        return ControllerClient.failure(io, api.connection());
      }
      return CliException.failed("the shell cannot be opened: " + cause);
    }

    /**
     * Sends what is typed; the end of piped input ends the stream's input, which the device types
     * as Ctrl-D: the remote shell reads end of file and exits.
     */
    private static void type(WebSocket ws) {
      InputStream in = System.in;
      byte[] buf = new byte[4096];
      try {
        int n;
        while ((n = in.read(buf)) >= 0) {
          if (n > 0) {
            ws.sendBinary(ByteBuffer.wrap(buf, 0, n), true).join();
          }
        }
        ws.sendText("{\"eof\":true}", true).join();
      } catch (IOException | CompletionException e) {
        // the session ended
      }
    }

    private void watchResizes(WebSocket ws) {
      if (!tty) {
        return;
      }
      try {
        sun.misc.Signal.handle(
            new sun.misc.Signal("WINCH"),
            s -> {
              int[] size = size();
              ObjectNode resize = Json.mapper().createObjectNode();
              resize.putObject("resize").put("cols", size[0]).put("rows", size[1]);
              ws.sendText(resize.toString(), true);
            });
      } catch (IllegalArgumentException e) {
        // no SIGWINCH here: the window keeps its first size
      }
    }

    /** {cols, rows} of the caller's terminal; 80x24 (or $COLUMNS/$LINES) without one. */
    int[] size() {
      if (tty) {
        String s = stty("size");
        if (s != null) {
          String[] p = s.strip().split("\\s+");
          try {
            int rows = Integer.parseInt(p[0]);
            int cols = Integer.parseInt(p[1]);
            if (rows > 0 && cols > 0) {
              return new int[] {Math.min(cols, 1000), Math.min(rows, 1000)};
            }
          } catch (RuntimeException e) {
            // fall through
          }
        }
      }
      return new int[] {envSize("COLUMNS", 80), envSize("LINES", 24)};
    }

    private int envSize(String name, int fallback) {
      try {
        int v = Integer.parseInt(caller.env().getOrDefault(name, ""));
        return v >= 1 && v <= 1000 ? v : fallback;
      } catch (NumberFormatException e) {
        return fallback;
      }
    }

    private synchronized void raw() {
      if (!tty || saved != null) {
        return;
      }
      saved = stty("-g");
      if (saved != null) {
        stty("raw -echo");
      }
    }

    private synchronized void restore() {
      if (saved != null) {
        stty(saved.strip());
        saved = null;
      }
    }

    /** Runs {@code stty ARGS} on /dev/tty; its output, or null if it failed. */
    private static String stty(String args) {
      try {
        Process p =
            new ProcessBuilder("sh", "-c", "stty " + args + " < /dev/tty")
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor() == 0 ? out : null;
      } catch (IOException e) {
        return null;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
  }

  static com.fasterxml.jackson.databind.node.ArrayNode one(JsonNode n) {
    return Json.mapper().createArrayNode().add(n);
  }

  // ---- policy ----------------------------------------------------------------------------------

  static String grantsTable(JsonNode grants, java.time.Instant now) {
    if (grants.isEmpty()) {
      return "No shell grants.\n";
    }
    Table t = new Table("id", "role", "selector", "valid until", "approval", "description");
    for (JsonNode g : grants) {
      t.row(
          Formats.text(g, "id"),
          Formats.text(g, "role"),
          Formats.text(g, "selector"),
          g.hasNonNull("validUntil")
              ? Formats.timestamp(g, "validUntil", now)
                  + (g.path("expired").asBoolean() ? " (ended)" : "")
              : "never",
          g.path("requireApproval").asBoolean()
              ? "yes, " + g.path("approvalMinutes").asInt() + "m"
              : "no",
          Formats.text(g, "description"));
    }
    return t.render();
  }

  static String requestsTable(JsonNode requests, java.time.Instant now) {
    if (requests.isEmpty()) {
      return "No shell requests.\n";
    }
    Table t = new Table("id", "requester", "device", "state", "until", "decided by", "reason");
    for (JsonNode r : requests) {
      t.row(
          Formats.text(r, "id"),
          Formats.text(r, "requester"),
          Formats.text(r, "device"),
          Formats.text(r, "state"),
          Formats.timestamp(r, "expiresAt", now),
          Formats.text(r, "decidedBy"),
          Formats.text(r, "reason"));
    }
    return t.render();
  }

  /** {@code edgefleet shell grants …}. */
  @Command(
      name = "grants",
      description = "List, create and delete shell grants (who may open shells where).",
      subcommands = {GrantsList.class, GrantsCreate.class, GrantsDelete.class})
  static final class Grants {
    @Option(
        names = {"-h", "--help"},
        usageHelp = true,
        description = "Show this help message and exit.")
    boolean help;
  }

  @Command(name = "list", description = "List the shell grants, ended ones included.")
  static final class GrantsList extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(GRANTS).path("items");
      printItems(items, () -> grantsTable(items, now()));
    }
  }

  @Command(
      name = "create",
      description = "Let a role open shells on the devices a selector picks, until a time.")
  static final class GrantsCreate extends TokenCommand {
    @Option(names = "--role", paramLabel = "ROLE", required = true, description = "The role.")
    String role;

    @Option(
        names = "--selector",
        paramLabel = "SELECTOR",
        description = "The devices, e.g. site=plant-1 (default: every device).")
    String selector = "*";

    @Option(
        names = "--valid-for",
        paramLabel = "DURATION",
        description = "How long the grant lasts, e.g. 8h or 30d (default: until deleted).")
    String validFor;

    @Option(
        names = "--require-approval",
        description = "Each session needs another person's approval of a shell request.")
    boolean requireApproval;

    @Option(
        names = "--approval-minutes",
        paramLabel = "N",
        description = "How long an approval lasts (default 60).")
    Integer approvalMinutes;

    @Option(names = "--description", paramLabel = "TEXT", description = "What it is for.")
    String description;

    @Override
    void run(ControllerClient api) {
      ObjectNode body =
          object()
              .put("role", role)
              .put("selector", selector)
              .put("requireApproval", requireApproval);
      if (validFor != null) {
        body.put("validFor", validFor);
      }
      if (approvalMinutes != null) {
        body.put("approvalMinutes", approvalMinutes);
      }
      if (description != null) {
        body.put("description", description);
      }
      JsonNode g = api.post(GRANTS, body);
      print(g, () -> grantsTable(one(g), now()));
    }
  }

  @Command(name = "delete", description = "End a shell grant at once.")
  static final class GrantsDelete extends TokenCommand {
    @Parameters(paramLabel = "ID", description = "Grant id.")
    String id;

    @Override
    void run(ControllerClient api) {
      api.delete(GRANTS + "/" + ControllerClient.segment(id));
      if (!json()) {
        out().println("deleted shell grant " + id);
      }
    }
  }

  @Command(
      name = "request",
      description = "Ask for a shell on a device whose grant needs another person's approval.")
  static final class RequestCreate extends TokenCommand {
    @Parameters(paramLabel = "DEVICE", description = "Device id.")
    String device;

    @Option(
        names = "--reason",
        paramLabel = "TEXT",
        required = true,
        description = "Why the shell is needed (shown to the approver, audited).")
    String reason;

    @Override
    void run(ControllerClient api) {
      JsonNode r = api.post(REQUESTS, object().put("device", device).put("reason", reason));
      print(
          r,
          () ->
              requestsTable(one(r), now())
                  + "Another person with tunnels:shell approves it with `edgefleet shell approve "
                  + Formats.text(r, "id")
                  + "`.\n");
    }
  }

  @Command(name = "requests", description = "List shell requests, newest first.")
  static final class RequestsList extends TokenCommand {
    @Option(
        names = "--state",
        paramLabel = "STATE",
        description = "Only pending, approved, denied or expired ones.")
    String state;

    @Override
    void run(ControllerClient api) {
      JsonNode items =
          api.get(REQUESTS + (state == null ? "" : "?state=" + ControllerClient.segment(state)))
              .path("items");
      printItems(items, () -> requestsTable(items, now()));
    }
  }

  @Command(name = "approve", description = "Approve another person's pending shell request.")
  static final class Approve extends TokenCommand {
    @Parameters(paramLabel = "ID", description = "Request id.")
    String id;

    @Override
    void run(ControllerClient api) {
      JsonNode r = api.post(REQUESTS + "/" + ControllerClient.segment(id) + "/approve", object());
      print(r, () -> requestsTable(one(r), now()));
    }
  }

  @Command(name = "deny", description = "Deny another person's pending shell request.")
  static final class Deny extends TokenCommand {
    @Parameters(paramLabel = "ID", description = "Request id.")
    String id;

    @Override
    void run(ControllerClient api) {
      JsonNode r = api.post(REQUESTS + "/" + ControllerClient.segment(id) + "/deny", object());
      print(r, () -> requestsTable(one(r), now()));
    }
  }
}
