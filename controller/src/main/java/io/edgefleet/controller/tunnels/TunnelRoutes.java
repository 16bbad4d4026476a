package io.edgefleet.controller.tunnels;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The tunnels' routes: sessions, port-forward (a WebSocket) and kubeconfigs for kubectl through the
 * tunnel.
 */
public record TunnelRoutes(Tunnels tunnels, KubeProxy kube) implements Routes {
  private static final Set<String> KINDS = Set.of("kube", "tcp", "shell", "file");

  @Override
  public void register(Router r) {
    r.get("/api/v1/sessions", ADMIN, this::list);
    r.get(
        "/api/v1/sessions/{id}", ADMIN, c -> Reply.ok(tunnels.session(c.path("id"), principal(c))));
    r.get("/api/v1/devices/{id}/port-forward", ADMIN, this::portForward);
    r.get(
        "/api/v1/devices/{id}/kubeconfig",
        ADMIN,
        c ->
            Reply.raw(
                "application/yaml",
                kube.deviceKubeconfig(c.path("id"), principal(c), token(c))
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    r.get(
        "/api/v1/clusters/{name}/kubeconfig",
        ADMIN,
        c ->
            Reply.raw(
                "application/yaml",
                kube.clusterKubeconfig(c.path("name"), principal(c), token(c))
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  private static Principal principal(Call c) {
    return c.principal().orElseThrow(() -> new IllegalStateException("an operator route"));
  }

  private static String token(Call c) {
    String h = c.headers().getOrDefault("authorization", "");
    return h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).strip() : "";
  }

  private Reply list(Call c) {
    Optional<String> kind = c.query("kind");
    if (kind.isPresent() && !KINDS.contains(kind.get())) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED, "kind must be one of kube, tcp, shell, file");
    }
    Optional<Instant> before;
    try {
      before = c.query("before").map(Instant::parse);
    } catch (DateTimeParseException e) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED, "before must be an instant such as 2026-01-31T12:00:00Z");
    }
    return Reply.ok(
        new Items<>(tunnels.sessions(c.query("device"), kind, before, c.limit(), principal(c))));
  }

  private Reply portForward(Call c) {
    String device = c.path("id");
    String host = c.query("host").orElse("127.0.0.1");
    if (host.length() > 253 || !host.matches("[A-Za-z0-9.:\\-]+")) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED, "host must be a host name or an IP address");
    }
    long port = c.requiredPositive("port", "the port to reach on the device, 1 to 65535");
    if (port > 65535) {
      throw new ControllerException(ErrorCode.VALIDATION_FAILED, "port must be 1 to 65535");
    }
    Tunnels.Open open =
        tunnels.open(
            device,
            "tcp",
            Map.of("host", host, "port", Long.toString(port)),
            host + ":" + port,
            principal(c));
    return Reply.socket(
        new SocketBridge(open.stream()),
        () -> open.stream().reset(ErrorCode.BAD_REQUEST, "not a WebSocket request"));
  }
}
