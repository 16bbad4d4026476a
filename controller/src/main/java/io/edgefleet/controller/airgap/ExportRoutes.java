package io.edgefleet.controller.airgap;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.selector.ProjectScope;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code POST /api/v1/exports}: an export bundle for the devices a selector matches, streamed as
 * {@code application/octet-stream}. The bounds are checked and the export audited before the first
 * byte goes out, so a refused request answers with a plain error.
 *
 * @param audit records each export (who, which selector, which devices and generations)
 */
public record ExportRoutes(Exports exports, Audit audit) implements Routes {

  /** Records an export in the audit log. */
  @FunctionalInterface
  public interface Audit {
    void record(String actor, String action, String target, Map<String, ?> detail);
  }

  /** The request body. */
  public record ExportRequest(String devices) {}

  @Override
  public void register(Router r) {
    r.post(
        "/api/v1/exports",
        ADMIN,
        c -> {
          ExportRequest req = c.body(ExportRequest.class);
          Exports.Plan plan = exports.plan(req.devices(), ProjectScope.of(c).devices());
          Map<String, Object> detail = new LinkedHashMap<>();
          detail.put("devices", plan.manifest().devices());
          detail.put("bundles", plan.manifest().bundles().size());
          detail.put("blobs", plan.manifest().blobs().size());
          detail.put("bytes", plan.bytes());
          audit.record(c.actor(), "export.create", req.devices(), detail);
          Map<String, String> headers = new LinkedHashMap<>();
          headers.put("Content-Disposition", "attachment; filename=\"edgefleet-export.efb\"");
          headers.put("X-Edgefleet-Export-Devices", Integer.toString(plan.documents().size()));
          headers.put("X-Edgefleet-Export-Bytes", Long.toString(plan.bytes()));
          return Reply.stream("application/octet-stream", headers, out -> exports.write(plan, out));
        });
  }
}
