package io.edgefleet.controller.rollouts;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.controller.catalog.Catalog;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.AppScope;
import io.edgefleet.controller.render.RenderedApp;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * The deployments as an {@link AppCatalog}: what the desired-state engine and the rollouts read of
 * them, rendered from the catalog. It starts nothing, so it exists before the rollout engine that
 * {@link Deployments} starts rollouts with. Thread-safe.
 */
public final class DeploymentApps implements AppCatalog {
  private static final TypeReference<LinkedHashMap<String, Object>> MAP = new TypeReference<>() {};

  private final Jdbi jdbi;
  private final Catalog catalog;

  public DeploymentApps(Jdbi jdbi, Catalog catalog) {
    this.jdbi = jdbi;
    this.catalog = catalog;
  }

  @Override
  public List<App> apps() {
    return jdbi.withHandle(DeploymentApps::rows).stream()
        .map(
            r -> {
              Selector s = Selector.parse(r.target());
              return new App(
                  r.name(),
                  Deployments.SOURCE,
                  r.revision(),
                  AppScope.target(s::matches, r.scope()),
                  true,
                  null,
                  r.keepInQuarantine());
            })
        .toList();
  }

  @Override
  public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
    Row r =
        jdbi.withHandle(h -> row(h, app.name()))
            .filter(d -> d.revision().equals(app.revision()))
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "deployment " + app.name() + "@" + app.revision() + " no longer exists"));
    RenderedApp out = catalog.render(r.app(), r.version(), r.values(), tags, kubeVersion);
    return new Rendered(out.yaml(), out.digest());
  }

  /** One row of the deployments table. */
  record Row(
      String name,
      String app,
      String version,
      String revision,
      String target,
      Map<String, Object> values,
      String policy,
      String createdBy,
      long createdAt,
      long updatedAt,
      boolean keepInQuarantine,
      String scope,
      String project) {}

  static List<Row> rows(Handle h) {
    return h.createQuery("SELECT * FROM deployments ORDER BY name").map((rs, c) -> row(rs)).list();
  }

  static Optional<Row> row(Handle h, String name) {
    return h.createQuery("SELECT * FROM deployments WHERE name = :n")
        .bind("n", name)
        .map((rs, c) -> row(rs))
        .findOne();
  }

  private static Row row(ResultSet rs) throws SQLException {
    Map<String, Object> values;
    try {
      values = Json.mapper().readValue(rs.getString("vals"), MAP);
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt values of deployment " + rs.getString("name"), e);
    }
    return new Row(
        rs.getString("name"),
        rs.getString("app"),
        rs.getString("version"),
        rs.getString("revision"),
        rs.getString("target"),
        values,
        rs.getString("policy"),
        rs.getString("created_by"),
        rs.getLong("created_at"),
        rs.getLong("updated_at"),
        rs.getBoolean("keep_in_quarantine"),
        rs.getString("scope"),
        rs.getString("project"));
  }
}
