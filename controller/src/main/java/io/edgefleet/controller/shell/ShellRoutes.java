package io.edgefleet.controller.shell;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.controller.tunnels.SocketBridge;
import io.edgefleet.controller.tunnels.Tunnels;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tunnel.TunnelMux;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

/**
 * Shells and file copies through the tunnels, the shell policy (grants, requests and approvals) and
 * session recordings. A shell needs {@code tunnels:shell}, a file copy {@code tunnels:files};
 * grants are access policy ({@code users:*}); requests and approvals need {@code tunnels:shell};
 * recordings are read with {@code audit:read}.
 */
public record ShellRoutes(ShellPolicy policy, Recordings recordings, Tunnels tunnels)
    implements Routes {

  @Override
  public void register(Router r) {
    r.get("/api/v1/devices/{id}/shell", ADMIN, this::shell);
    r.get("/api/v1/devices/{id}/files", ADMIN, this::files);
    r.get("/api/v1/shell-grants", ADMIN, c -> Reply.ok(new Items<>(policy.grants())));
    r.post(
        "/api/v1/shell-grants",
        ADMIN,
        c -> Reply.created(policy.grant(c.strictBody(ShellPolicy.GrantRequest.class), c.actor())));
    r.delete(
        "/api/v1/shell-grants/{id}",
        ADMIN,
        c -> {
          policy.revoke(c.path("id"), c.actor());
          return Reply.noContent();
        });

    r.get(
        "/api/v1/shell-requests",
        ADMIN,
        c -> Reply.ok(new Items<>(policy.visibleRequests(state(c), visible(c)))));
    r.post(
        "/api/v1/shell-requests",
        ADMIN,
        c ->
            Reply.created(
                policy.request(
                    principal(c), c.strictBody(ShellPolicy.RequestInput.class), visible(c))));
    r.post(
        "/api/v1/shell-requests/{id}/approve",
        ADMIN,
        c -> Reply.ok(policy.decide(c.path("id"), true, principal(c), visible(c))));
    r.post(
        "/api/v1/shell-requests/{id}/deny",
        ADMIN,
        c -> Reply.ok(policy.decide(c.path("id"), false, principal(c), visible(c))));

    r.get(
        "/api/v1/sessions/{id}/recording",
        ADMIN,
        c -> {
          Recordings.Meta meta = recordings.meta(c.path("id"), visible(c));
          return Reply.stream(
              Recordings.MEDIA_TYPE,
              Map.of(
                  "X-Edgefleet-Recording-Truncated",
                  Boolean.toString(meta.truncated()),
                  "Content-Disposition",
                  "attachment; filename=\"" + meta.sessionId() + ".cast\""),
              out -> {
                try (InputStream in = recordings.open(meta)) {
                  in.transferTo(out);
                }
              });
        });
  }

  /** The largest file one copy may ask for. */
  static final long MAX_COPY = 1L << 30;

  /** The budget of a copy that does not say. */
  static final long DEFAULT_COPY = 64L << 20;

  /** How long the device may take to say how large the file is. */
  static final java.time.Duration SIZE_WAIT = java.time.Duration.ofSeconds(30);

  private Reply shell(Call c) {
    Principal p = principal(c);
    ShellPolicy.Target device = policy.device(c.path("id"), visible(c));
    ShellPolicy.Allowed allowed = policy.authorize(p, device);
    int cols = dimension(c, "cols", 80);
    int rows = dimension(c, "rows", 24);
    String term = c.query("term").orElse("xterm-256color");
    if (!term.matches("[A-Za-z0-9._+-]{1,64}")) {
      throw ControllerException.invalid("term must be a terminal type such as xterm-256color");
    }
    Tunnels.Open open =
        tunnels.open(
            device.id(),
            "shell",
            Map.of("cols", Integer.toString(cols), "rows", Integer.toString(rows), "term", term),
            "shell "
                + cols
                + "x"
                + rows
                + " (grant "
                + allowed.grantId()
                + allowed.requestId().map(r -> ", request " + r).orElse("")
                + ")",
            p);
    Recordings.Recorder recorder;
    try {
      recorder = recordings.start(open.sessionId(), device.id(), p.name(), cols, rows, term);
    } catch (java.io.IOException | RuntimeException e) {
      open.stream().reset(ErrorCode.INTERNAL, "the controller cannot record the session");
      throw new ControllerException(
          ErrorCode.UNAVAILABLE,
          "the session cannot be recorded (" + e.getMessage() + "): no shell without a recording");
    }
    return Reply.socket(
        new SocketBridge(open.stream(), new ShellTap(open.stream(), recorder)),
        () -> open.stream().reset(ErrorCode.BAD_REQUEST, "not a WebSocket request"));
  }

  private static int dimension(Call c, String name, int fallback) {
    Optional<String> raw = c.query(name);
    if (raw.isEmpty()) {
      return fallback;
    }
    try {
      int v = Integer.parseInt(raw.get());
      if (v >= 1 && v <= 1000) {
        return v;
      }
    } catch (NumberFormatException e) {
      // answered below
    }
    throw ControllerException.invalid(name + " must be 1 to 1000, not '" + raw.get() + "'");
  }

  private Reply files(Call c) {
    Principal p = principal(c);
    ShellPolicy.Target device = policy.device(c.path("id"), visible(c));
    if (!device.remoteAccess().contains(DeviceFacts.ALLOW_FILE)) {
      throw new ControllerException(
          ErrorCode.FILE_COPY_DISABLED,
          "device "
              + device.name()
              + " does not allow copying files: its own configuration must turn it on (start its"
              + " agent with --allow-file-copy)");
    }
    String path =
        c.query("path")
            .orElseThrow(() -> ControllerException.invalid("path is required: the file to copy"));
    if (!path.startsWith("/") || path.length() > 4096) {
      throw ControllerException.invalid("path must be an absolute path on the device");
    }
    long max =
        c.query("maxBytes").isPresent() ? c.requiredPositive("maxBytes", "bytes") : DEFAULT_COPY;
    if (max > MAX_COPY) {
      throw ControllerException.invalid("maxBytes is at most " + MAX_COPY + " (1 GiB)");
    }
    Tunnels.Open open =
        tunnels.open(
            device.id(),
            "file",
            Map.of("path", path, TunnelMux.BUDGET, Long.toString(max)),
            "file " + path,
            p);
    TunnelStream s = open.stream();
    CompletableFuture<Long> size = new CompletableFuture<>();
    s.onControl(
        m -> {
          if (m.has("size")) {
            size.complete(m.get("size").asLong());
          }
        });
    s.ended()
        .whenComplete(
            (how, x) -> {
              if (how != null && !how.clean()) {
                size.completeExceptionally(new ControllerException(how.code(), how.message()));
              } else {
                size.completeExceptionally(
                    new ControllerException(ErrorCode.INTERNAL, "the device sent no file size"));
              }
            });
    long n;
    try {
      n = size.get(SIZE_WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof ControllerException ce) {
        throw ce;
      }
      throw new ControllerException(ErrorCode.INTERNAL, "the copy failed: " + e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      s.reset(ErrorCode.UNAVAILABLE, "the controller stopped waiting for the file's size");
      throw new ControllerException(
          ErrorCode.UNAVAILABLE, "the device did not start sending the file within 30 s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      s.reset(ErrorCode.UNAVAILABLE, "interrupted");
      throw new ControllerException(ErrorCode.UNAVAILABLE, "interrupted");
    }
    String name = path.substring(path.lastIndexOf('/') + 1).replaceAll("[^A-Za-z0-9._-]", "_");
    return Reply.stream(
        "application/octet-stream",
        Map.of(
            "X-Edgefleet-File-Size",
            Long.toString(n),
            "Content-Disposition",
            "attachment; filename=\"" + name + "\""),
        out -> {
          long sent = 0;
          try (java.io.InputStream in = s.input()) {
            byte[] buf = new byte[16 * 1024];
            int k;
            while ((k = in.read(buf)) >= 0) {
              out.write(buf, 0, k);
              sent += k;
            }
          } catch (java.io.IOException e) {
            s.reset(ErrorCode.TUNNEL_CLOSED, "the copy failed: " + e.getMessage());
            throw e;
          }
          if (sent != n) {
            // Abort the answer: the client sees the copy break off instead of a short file.
            throw new java.io.IOException("the device sent " + sent + " of " + n + " bytes");
          }
        });
  }

  private static Optional<String> state(Call c) {
    Optional<String> s = c.query("state");
    if (s.isPresent() && !List.of("pending", "approved", "denied", "expired").contains(s.get())) {
      throw ControllerException.invalid(
          "state must be pending, approved, denied or expired, not '" + s.get() + "'");
    }
    return s;
  }

  static Principal principal(Call c) {
    return c.principal()
        .orElseThrow(
            () ->
                new ControllerException(ErrorCode.UNAUTHENTICATED, "an operator token is needed"));
  }

  /**
   * The devices (by tags) the caller may see: for an operator whose roles are all held within
   * projects, those one of the projects' selectors picks; every device otherwise.
   */
  static Predicate<Map<String, String>> visible(Call c) {
    return c.deviceSelectors()
        .<Predicate<Map<String, String>>>map(
            texts -> {
              List<Selector> selectors =
                  texts.stream().map(t -> Selector.parse("project selector", t)).toList();
              return tags -> selectors.stream().anyMatch(s -> s.matches(tags));
            })
        .orElse(tags -> true);
  }
}
