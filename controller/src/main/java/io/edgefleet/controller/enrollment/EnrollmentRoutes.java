package io.edgefleet.controller.enrollment;

import static io.edgefleet.controller.api.Router.Access.OPEN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.EnrollmentRequest;

/** The enrollment endpoint: open, as it checks its own credential (an onboarding token). */
public record EnrollmentRoutes(EnrollmentService enrollment) implements Routes {

  @Override
  public void register(Router r) {
    r.post(
        DeviceApi.ENROLLMENTS,
        OPEN,
        c -> Reply.ok(enrollment.enroll(c.body(EnrollmentRequest.class), c.remoteAddress())));
  }
}
