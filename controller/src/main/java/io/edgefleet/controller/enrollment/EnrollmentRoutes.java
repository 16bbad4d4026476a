package io.edgefleet.controller.enrollment;

import static io.edgefleet.controller.api.Router.Access.OPEN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.TpmQuote;

/** The enrollment endpoint: open, as it checks its own credential (an onboarding token). */
public record EnrollmentRoutes(EnrollmentService enrollment) implements Routes {
  /** Room for the largest event log, base64, and the rest of the request. */
  private static final int MAX_BODY = TpmQuote.MAX_EVENT_LOG_BYTES / 3 * 4 + 64 * 1024;

  @Override
  public void register(Router r) {
    // A device with a TPM sends its boot event log with its enrollment quote.
    r.post(
        DeviceApi.ENROLLMENTS,
        OPEN,
        MAX_BODY,
        c -> Reply.ok(enrollment.enroll(c.body(EnrollmentRequest.class), c.remoteAddress())));
  }
}
