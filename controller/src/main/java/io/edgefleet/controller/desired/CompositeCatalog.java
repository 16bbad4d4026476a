package io.edgefleet.controller.desired;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Several app catalogs (Git sources, catalog deployments) seen as one. Thread-safe. */
public final class CompositeCatalog implements AppCatalog {
  private final List<AppCatalog> parts;
  private final Map<String, AppCatalog> bySource = new ConcurrentHashMap<>();

  public CompositeCatalog(List<AppCatalog> parts) {
    this.parts = List.copyOf(parts);
  }

  @Override
  public List<App> apps() {
    List<App> all = new ArrayList<>();
    for (AppCatalog part : parts) {
      for (App a : part.apps()) {
        bySource.put(a.source(), part);
        all.add(a);
      }
    }
    return all;
  }

  @Override
  public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
    return part(app).render(app, tags, kubeVersion);
  }

  @Override
  public Rendered render(App app, Device device) {
    return part(app).render(app, device);
  }

  private AppCatalog part(App app) {
    AppCatalog part = bySource.get(app.source());
    if (part == null) {
      apps();
      part = bySource.get(app.source());
    }
    if (part == null) {
      throw new IllegalStateException("no catalog holds apps of source " + app.source());
    }
    return part;
  }
}
