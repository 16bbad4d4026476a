package io.edgefleet.controller.registry;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.artifacts.Artifacts.Artifact;

/**
 * {@code POST /api/v1/artifacts/mirror}: an operator has the controller mirror an image from a
 * registry. The call answers when the image is stored (or found stored), so it takes as long as the
 * pull.
 */
public record MirrorRoutes(ImageMirror mirror) implements Routes {

  /** The request: an image reference and the architecture wanted (default amd64). */
  public record MirrorRequest(String reference, String arch) {}

  /** The answer: the stored artifact, what the reference resolved to, and whether it was new. */
  public record MirrorAnswer(
      Artifact artifact,
      String reference,
      String manifestDigest,
      String platform,
      boolean fetched) {}

  @Override
  public void register(Router r) {
    r.post(
        "/api/v1/artifacts/mirror",
        ADMIN,
        c -> {
          MirrorRequest req = c.strictBody(MirrorRequest.class);
          var m = mirror.mirror(req.reference(), req.arch(), c.actor());
          MirrorAnswer answer =
              new MirrorAnswer(
                  m.artifact(), m.reference(), m.manifestDigest(), m.platform(), m.fetched());
          return m.fetched() ? Reply.created(answer) : Reply.ok(answer);
        });
  }
}
