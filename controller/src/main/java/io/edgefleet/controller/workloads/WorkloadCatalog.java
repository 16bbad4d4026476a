package io.edgefleet.controller.workloads;

import io.edgefleet.controller.desired.AppCatalog;
import java.util.List;
import java.util.Map;

/**
 * The apps of another catalog, rendered as devices run them: each render (after values and {@code
 * ${tag:KEY}} substitution) is read as workloads and its blobs resolved for the device's
 * architecture by a {@link WorkloadResolver}. Thread-safe if the catalog it wraps is.
 */
public final class WorkloadCatalog implements AppCatalog {
  private final AppCatalog apps;
  private final WorkloadResolver resolver;

  public WorkloadCatalog(AppCatalog apps, WorkloadResolver resolver) {
    this.apps = apps;
    this.resolver = resolver;
  }

  @Override
  public List<App> apps() {
    return apps.apps();
  }

  /** Renders for a device of unknown architecture: {@value WorkloadResolver#DEFAULT_ARCH}. */
  @Override
  public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
    return render(app, new Device(tags, kubeVersion, null));
  }

  @Override
  public Rendered render(App app, Device device) {
    return resolver.resolve(apps.render(app, device), device.arch());
  }
}
