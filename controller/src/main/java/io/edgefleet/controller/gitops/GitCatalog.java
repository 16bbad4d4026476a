package io.edgefleet.controller.gitops;

import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.AppScope;
import io.edgefleet.controller.render.RenderedApp;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The apps of every Git source at its current head, as the desired-state engine sees them: each at
 * its content revision, with the commit that introduced it as provenance.
 */
public final class GitCatalog implements AppCatalog {
  private final GitOps gitops;
  private final Map<String, AppDefinition> definitions = new ConcurrentHashMap<>();
  private final Map<String, String> scopes = new ConcurrentHashMap<>();

  public GitCatalog(GitOps gitops) {
    this.gitops = gitops;
  }

  @Override
  public List<App> apps() {
    Map<String, String> phased = gitops.rolloutPolicies();
    return gitops.apps().stream()
        .map(
            d -> {
              definitions.put(key(d.source(), d.name(), d.revision()), d);
              return new App(
                  d.name(),
                  d.source(),
                  d.revision(),
                  AppScope.target(d.target()::matches, scope(d)),
                  phased.containsKey(d.source()),
                  d.commit());
            })
        .toList();
  }

  @Override
  public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
    AppDefinition d = definitions.get(key(app.source(), app.name(), app.revision()));
    if (d == null) {
      d =
          gitops.apps().stream()
              .filter(a -> a.source().equals(app.source()) && a.name().equals(app.name()))
              .filter(a -> a.revision().equals(app.revision()))
              .findFirst()
              .orElseThrow(
                  () -> new IllegalStateException(app.name() + " is no longer in " + app.source()));
    }
    RenderedApp r = gitops.render(d, tags, kubeVersion);
    return new Rendered(r.yaml(), r.digest());
  }

  /**
   * The application's scope, kept per content revision (which covers its spec file). Content that
   * cannot be read counts as cluster-scoped, so that it never spreads to every device; rendering it
   * fails and says why.
   */
  private String scope(AppDefinition d) {
    return scopes.computeIfAbsent(
        key(d.source(), d.name(), d.revision()),
        k -> {
          try {
            return gitops.scope(d);
          } catch (RuntimeException e) {
            return AppScope.CLUSTER;
          }
        });
  }

  private static String key(String source, String name, String revision) {
    return source + "/" + name + "@" + revision;
  }
}
