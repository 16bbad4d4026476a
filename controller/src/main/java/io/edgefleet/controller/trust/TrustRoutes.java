package io.edgefleet.controller.trust;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;

/** The attestation endpoints: a device's measurements, accepting them, pinned references. */
public record TrustRoutes(TrustReview review) implements Routes {

  @Override
  public void register(Router r) {
    r.get("/api/v1/devices/{id}/attestation", ADMIN, c -> Reply.ok(review.show(c.path("id"))));
    r.post(
        "/api/v1/devices/{id}/attestation/accept",
        ADMIN,
        c -> Reply.ok(review.accept(c.path("id"), c.actor())));
    r.post(
        "/api/v1/devices/{id}/attestation/pin",
        ADMIN,
        c ->
            Reply.created(
                review.pin(c.path("id"), c.body(TrustReview.PinRequest.class), c.actor())));
    r.get("/api/v1/attestation/references", ADMIN, c -> Reply.ok(new Items<>(review.pins())));
    r.delete(
        "/api/v1/attestation/references/{id}",
        ADMIN,
        c -> {
          review.unpin(c.path("id"), c.actor());
          return Reply.noContent();
        });
  }
}
