package io.edgefleet.controller.desired;

import io.edgefleet.controller.artifacts.ArtifactUsers;
import io.edgefleet.controller.artifacts.BlobStore;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;

/**
 * The apps that use an artifact: a container image or VM disk in the bundle some device is told to
 * run, or staged on a device ahead of a rollout. Deleting such an artifact would leave those
 * devices unable to fetch it ({@code WORKLOAD_ARTIFACT_MISSING}), so the delete is refused.
 */
public final class AppArtifactUsers implements ArtifactUsers {
  private final Jdbi jdbi;

  public AppArtifactUsers(Jdbi jdbi) {
    this.jdbi = jdbi;
  }

  @Override
  public Optional<String> userOf(String digest) {
    if (!BlobStore.wellFormed(digest)) {
      return Optional.empty();
    }
    // A digest is only hex and ':', so it cannot hold LIKE's wildcards.
    String like = "%\"" + digest + "\"%";
    return jdbi.withHandle(
        h -> {
          Optional<String> running =
              h.createQuery(
                      "SELECT a.app AS app, COUNT(*) AS n FROM device_apps a JOIN bundles b ON"
                          + " b.digest = a.desired_bundle WHERE b.artifacts LIKE :like GROUP BY"
                          + " a.app ORDER BY a.app")
                  .bind("like", like)
                  .map((rs, ctx) -> describe(rs.getString("app"), rs.getLong("n"), "runs"))
                  .findFirst();
          if (running.isPresent()) {
            return running;
          }
          return h.createQuery(
                  "SELECT app, COUNT(*) AS n FROM device_stages WHERE artifacts LIKE :like GROUP BY"
                      + " app ORDER BY app")
              .bind("like", like)
              .map((rs, ctx) -> describe(rs.getString("app"), rs.getLong("n"), "stages"))
              .findFirst();
        });
  }

  private static String describe(String app, long devices, String verb) {
    return "app "
        + app
        + " "
        + verb
        + " it on "
        + devices
        + (devices == 1 ? " device" : " devices");
  }
}
