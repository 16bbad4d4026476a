package io.edgefleet.controller.downloads;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ErrorCode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The download policies' endpoints (list, get, put by name, delete), and a device's artifacts: the
 * policy that applies to it, what it holds and fetches, and how far it is with what it stages.
 *
 * <p>Download policies select devices across the whole fleet, like secrets (decision 0036): to a
 * caller confined to projects, the list is empty, a named policy does not exist and changes are
 * refused. A device's own artifacts are shown to whoever sees the device.
 */
public record DownloadPolicyRoutes(
    DownloadPolicies policies, ArtifactReports reports, DeviceStages stages) implements Routes {

  /** What each device was told to stage, and its tags. */
  public interface DeviceStages {
    /** Per app: the held-back revision and its artifacts the device stages. */
    Map<String, Staged> of(String deviceId);

    /** The device's tags; empty when there is no such device. */
    Optional<Map<String, String>> tags(String deviceId);
  }

  /** One app's revision the device stages. */
  public record Staged(String revision, List<ArtifactRef> artifacts) {}

  /** How far a device is with one app's staged revision. */
  public record StageView(
      String app,
      String revision,
      int artifacts,
      int held,
      long bytes,
      long total,
      boolean complete,
      String status) {}

  /** A device's artifacts as shown. */
  public record DeviceArtifacts(
      String deviceId,
      String policy,
      DownloadPolicies.Policy downloads,
      List<String> held,
      List<ArtifactReports.Fetch> fetching,
      String waiting,
      Instant reportedAt,
      List<StageView> staging) {}

  private static String fleetWide(Call c) {
    if (ProjectScope.of(c).confined()) {
      throw new ControllerException(
          ErrorCode.DOWNLOAD_POLICY_NOT_FOUND,
          "download policy '" + c.path("name") + "' does not exist");
    }
    return c.path("name");
  }

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/download-policies",
        ADMIN,
        c -> Reply.ok(new Items<>(ProjectScope.of(c).confined() ? List.of() : policies.list())));
    r.get("/api/v1/download-policies/{name}", ADMIN, c -> Reply.ok(policies.get(fleetWide(c))));
    r.put(
        "/api/v1/download-policies/{name}",
        ADMIN,
        c -> {
          if (ProjectScope.of(c).confined()) {
            throw new ControllerException(
                ErrorCode.PERMISSION_DENIED,
                "download policies are fleet-wide and your roles are held within projects: ask an"
                    + " administrator to set the policy");
          }
          DownloadPolicies.Put put =
              policies.put(c.path("name"), c.body(DownloadPolicies.Request.class), c.actor());
          return put.created() ? Reply.created(put.policy()) : Reply.ok(put.policy());
        });
    r.delete(
        "/api/v1/download-policies/{name}",
        ADMIN,
        c -> {
          policies.delete(fleetWide(c), c.actor());
          return Reply.noContent();
        });
    r.get("/api/v1/devices/{id}/artifacts", ADMIN, c -> Reply.ok(device(c.path("id"))));
  }

  private DeviceArtifacts device(String id) {
    Map<String, String> tags =
        stages.tags(id).orElseThrow(() -> ControllerException.notFound("device", id));
    Optional<DownloadPolicies.Policy> policy = policies.applying(tags);
    ArtifactReports.Report report = reports.of(id);
    List<StageView> staging = new ArrayList<>();
    stages
        .of(id)
        .forEach(
            (app, s) -> {
              StageProgress p = StageProgress.of(s.artifacts(), report);
              staging.add(
                  new StageView(
                      app,
                      s.revision(),
                      p.count(),
                      p.held(),
                      p.bytes(),
                      p.total(),
                      p.complete(),
                      p.describe()));
            });
    return new DeviceArtifacts(
        id,
        policy.map(DownloadPolicies.Policy::name).orElse(null),
        policy.orElse(null),
        report.held(),
        report.fetching(),
        report.waiting(),
        report.at(),
        staging);
  }
}
