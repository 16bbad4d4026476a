package io.edgefleet.controller.gitops;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.OPEN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;

/** The git sources' endpoints: adding, listing, syncing them, their history and webhooks. */
public record GitOpsRoutes(GitOps gitops) implements Routes {

  /** The source the path names, if the caller sees it: another project's is as one that is not. */
  private SourceView source(Call c) {
    SourceView s = gitops.get(c.path("name"));
    return ProjectScope.of(c)
        .check(s, s.project(), ControllerException.notFound("git source", c.path("name")));
  }

  @Override
  public void register(Router r) {
    r.post(
        "/api/v1/repos",
        ADMIN,
        c -> {
          AddSource req = c.body(AddSource.class);
          var project = ProjectScope.of(c).createIn("git source");
          return c.flag("dryRun")
              ? Reply.ok(gitops.check(req))
              : Reply.created(gitops.add(req, c.actor(), project));
        });
    r.get(
        "/api/v1/repos",
        ADMIN,
        c -> Reply.ok(new Items<>(ProjectScope.of(c).filter(gitops.list(), SourceView::project))));
    r.get("/api/v1/repos/{name}", ADMIN, c -> Reply.ok(source(c)));
    r.delete(
        "/api/v1/repos/{name}",
        ADMIN,
        c -> {
          gitops.remove(source(c).name(), c.actor());
          return Reply.noContent();
        });
    r.post("/api/v1/repos/{name}/sync", ADMIN, c -> Reply.ok(gitops.sync(source(c).name())));
    r.get(
        "/api/v1/repos/{name}/history",
        ADMIN,
        c -> Reply.ok(new Items<>(gitops.history(source(c).name(), c.limit()))));
    r.get(
        "/api/v1/repos/{name}/commits/{sha}",
        ADMIN,
        c -> Reply.ok(gitops.commit(source(c).name(), c.path("sha"))));
    // Authenticated by the source's shared secret (HMAC or token header), not by a bearer token.
    r.post(
        GitOps.WEBHOOK_PATH + "{name}",
        OPEN,
        c -> Reply.ok(gitops.webhook(c.path("name"), c.headers(), c.body())));
  }
}
