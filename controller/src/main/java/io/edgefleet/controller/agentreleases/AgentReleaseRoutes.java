package io.edgefleet.controller.agentreleases;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The agent releases' endpoints: push (the file streamed as the body, its signature file in the
 * {@value #SIGNATURE_HEADER} header), list, show, delete, and the trusted release keys.
 */
public record AgentReleaseRoutes(
    AgentReleases releases, AgentRollouts rollouts, AgentSlotReports slots) implements Routes {
  /** The header carrying the release's signature file (its JSON, base64-encoded). */
  public static final String SIGNATURE_HEADER = "x-edgefleet-signature";

  private static final int CHUNK = 64 * 1024;

  @Override
  public void register(Router r) {
    r.get("/api/v1/agent-releases", ADMIN, c -> Reply.ok(new Items<>(releases.list())));
    r.get("/api/v1/agent-releases/keys", ADMIN, c -> Reply.ok(new Items<>(releases.releaseKeys())));
    r.upload(
        "/api/v1/agent-releases",
        ADMIN,
        (c, body) -> {
          long declared = declaredLength(c.headers());
          try {
            fleetWide(c, "push an agent release");
            AgentRelease sig = AgentReleases.parseSignature(c.headers().get(SIGNATURE_HEADER));
            return Reply.created(releases.push(sig, declared, body, c.actor()));
          } catch (ControllerException e) {
            drain(body, declared);
            throw e;
          }
        });
    r.get(
        "/api/v1/agent-releases/{version}",
        ADMIN,
        c -> {
          List<AgentReleases.Release> found = releases.version(c.path("version"));
          if (found.isEmpty()) {
            throw new ControllerException(
                ErrorCode.AGENT_RELEASE_NOT_FOUND,
                "no agent release "
                    + c.path("version")
                    + " is stored; see edgefleet agent-releases list");
          }
          return Reply.ok(new Items<>(found));
        });
    r.post(
        "/api/v1/agent-releases/{version}/rollout",
        ADMIN,
        c -> {
          fleetWide(c, "roll out an agent release");
          AgentRollouts.Plan plan =
              rollouts.rollout(c.path("version"), c.body(AgentRollouts.Request.class), c.actor());
          return plan.dryRun() ? Reply.ok(plan) : Reply.created(plan);
        });
    r.get(
        "/api/v1/devices/{id}/agent",
        ADMIN,
        c ->
            Reply.ok(
                slots
                    .of(c.path("id"))
                    .orElseThrow(
                        () ->
                            new ControllerException(
                                ErrorCode.NOT_FOUND,
                                "device "
                                    + c.path("id")
                                    + " has not reported its agent slots (it is unknown, never"
                                    + " connected, or runs an agent without slot reports)"))));
    r.delete(
        "/api/v1/agent-releases/{version}",
        ADMIN,
        c -> {
          fleetWide(c, "delete an agent release");
          releases.delete(c.path("version"), c.query("arch").filter(a -> !a.isBlank()), c.actor());
          return Reply.noContent();
        });
  }

  /**
   * The agent runs on every device (decision 0036: fleet-wide things are not for callers confined
   * to projects): changing its releases or rolling one out is refused to them.
   */
  private static void fleetWide(Call c, String what) {
    if (ProjectScope.of(c).confined()) {
      throw new ControllerException(
          ErrorCode.PERMISSION_DENIED,
          "agent releases concern the whole fleet and your roles are held within projects: ask an"
              + " administrator to "
              + what);
    }
  }

  /**
   * Reads and drops what is left of a refused body when it is not larger than a release may be, so
   * the client, still sending, reads the answer instead of a reset connection.
   */
  private static void drain(InputStream body, long declared) throws IOException {
    long bound = 2 * ReleaseArchive.MAX_BYTES;
    if (declared > bound) {
      return;
    }
    byte[] buffer = new byte[CHUNK];
    long read = 0;
    int n;
    while (read < bound && (n = body.read(buffer)) > 0) {
      read += n;
    }
  }

  private static long declaredLength(Map<String, String> headers) {
    return Optional.ofNullable(headers.get("content-length"))
        .map(String::trim)
        .map(
            v -> {
              try {
                return Long.parseLong(v);
              } catch (NumberFormatException e) {
                return -1L;
              }
            })
        .orElse(-1L);
  }
}
