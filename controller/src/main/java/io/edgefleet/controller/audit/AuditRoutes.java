package io.edgefleet.controller.audit;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import java.util.Optional;

/** The audit log: who changed what, newest first, filtered and in pages. */
public record AuditRoutes(AuditLog audit) implements Routes {
  /** The longest filter value taken: longer ones are refused, not cut. */
  static final int MAX_FILTER = 200;

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/audit",
        ADMIN,
        c ->
            Reply.ok(
                audit.page(
                    new AuditLog.Query(
                        filter(c, "actor"),
                        filter(c, "action"),
                        filter(c, "target"),
                        filter(c, "q"),
                        c.query("before").filter(b -> !b.isEmpty()).map(AuditRoutes::position),
                        c.limit()))));
  }

  private static Optional<String> filter(Call c, String name) {
    Optional<String> value = c.query(name).map(String::strip).filter(v -> !v.isEmpty());
    if (value.isPresent() && value.get().length() > MAX_FILTER) {
      throw ControllerException.invalid(
          name + " is longer than " + MAX_FILTER + " characters; use a shorter filter");
    }
    return value;
  }

  private static AuditLog.Position position(String text) {
    return AuditLog.Position.parse(text)
        .orElseThrow(
            () ->
                ControllerException.invalid(
                    "before '"
                        + (text.length() > 80 ? text.substring(0, 80) + "…" : text)
                        + "' is not a position in the audit log: pass the 'next' of the page"
                        + " before"));
  }
}
