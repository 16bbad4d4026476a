package io.edgefleet.controller.catalog;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceView;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The catalog's endpoints under {@value #APPS}, as {@code openapi.yaml} describes them. Services
 * are only used when a route is called.
 *
 * @param devices resolves the device of a preview to its tags
 */
public record CatalogRoutes(Catalog catalog, DeviceService devices) implements Routes {
  /** The catalog's route prefix. */
  public static final String APPS = "/api/v1/catalog/apps";

  @Override
  public void register(Router r) {
    r.get(APPS, ADMIN, c -> Reply.ok(new Items<>(catalog.list())));
    r.get(APPS + "/{name}", ADMIN, c -> Reply.ok(catalog.app(c.path("name"))));
    // The only route with a large body: an archive of up to ~12 MiB as base64 in JSON.
    r.post(
        APPS + "/{name}/versions",
        ADMIN,
        Catalog.MAX_PUSH_BODY,
        c -> {
          Catalog.PushResult pushed =
              catalog.push(c.path("name"), c.body(Catalog.PushRequest.class), c.actor());
          return pushed.created() ? Reply.created(pushed) : Reply.ok(pushed);
        });
    r.get(
        APPS + "/{name}/versions/{version}",
        ADMIN,
        c -> Reply.ok(catalog.detail(c.path("name"), c.path("version"))));
    r.post(
        APPS + "/{name}/versions/{version}/preview",
        ADMIN,
        c -> {
          Catalog.PreviewRequest req =
              c.body().length == 0
                  ? new Catalog.PreviewRequest(null, null, null)
                  : c.body(Catalog.PreviewRequest.class);
          String device = null;
          Optional<Map<String, String>> tags = Optional.empty();
          String kubeVersion = null;
          if (req.device() != null && !req.device().isBlank()) {
            DeviceView d = devices.get(req.device().strip());
            device = d.id();
            tags = Optional.of(new TreeMap<>(d.tags()));
            kubeVersion = d.facts() == null ? null : d.facts().kubernetesVersion();
          }
          if (req.tags() != null && !req.tags().isEmpty()) {
            Map<String, String> merged = new TreeMap<>(tags.orElse(Map.of()));
            merged.putAll(req.tags());
            tags = Optional.of(merged);
          }
          return Reply.ok(
              catalog.preview(
                  c.path("name"), c.path("version"), device, tags, kubeVersion, req.values()));
        });
  }
}
