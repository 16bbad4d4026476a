package io.edgefleet.controller.gitops;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.OPEN;

import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;

/** The git sources' endpoints: adding, listing, syncing them, their history and webhooks. */
public record GitOpsRoutes(GitOps gitops) implements Routes {

  @Override
  public void register(Router r) {
    r.post(
        "/api/v1/repos",
        ADMIN,
        c -> {
          AddSource req = c.body(AddSource.class);
          return c.flag("dryRun")
              ? Reply.ok(gitops.check(req))
              : Reply.created(gitops.add(req, c.actor()));
        });
    r.get("/api/v1/repos", ADMIN, c -> Reply.ok(new Items<>(gitops.list())));
    r.get("/api/v1/repos/{name}", ADMIN, c -> Reply.ok(gitops.get(c.path("name"))));
    r.delete(
        "/api/v1/repos/{name}",
        ADMIN,
        c -> {
          gitops.remove(c.path("name"), c.actor());
          return Reply.noContent();
        });
    r.post("/api/v1/repos/{name}/sync", ADMIN, c -> Reply.ok(gitops.sync(c.path("name"))));
    r.get(
        "/api/v1/repos/{name}/history",
        ADMIN,
        c -> Reply.ok(new Items<>(gitops.history(c.path("name"), c.limit()))));
    r.get(
        "/api/v1/repos/{name}/commits/{sha}",
        ADMIN,
        c -> Reply.ok(gitops.commit(c.path("name"), c.path("sha"))));
    // Authenticated by the source's shared secret (HMAC or token header), not by a bearer token.
    r.post(
        GitOps.WEBHOOK_PATH + "{name}",
        OPEN,
        c -> Reply.ok(gitops.webhook(c.path("name"), c.headers(), c.body())));
  }
}
