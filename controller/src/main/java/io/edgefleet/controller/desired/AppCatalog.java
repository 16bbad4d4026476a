package io.edgefleet.controller.desired;

import io.edgefleet.protocol.ArtifactRef;
import java.util.List;
import java.util.Map;

/**
 * Where applications come from (Git sources now, the catalog later): which apps exist at which
 * revision, which devices they target, and their manifests rendered for one device.
 */
public interface AppCatalog {

  /**
   * An application at a revision, targeting devices whose tags the target matches.
   *
   * @param revision what devices report running: it changes exactly when what the app is made of
   *     changes (a Git app's content digest, a deployment's version and values)
   * @param phased whether a new revision reaches devices through a phased rollout (the {@link
   *     ReleaseGate} decides per device) rather than at once
   * @param commit optional: the full SHA of the commit that brought a Git app to this revision (its
   *     provenance, shown with the revision); null for apps that do not come from Git
   * @param keepInQuarantine the app keeps running on a quarantined device
   */
  record App(
      String name,
      String source,
      String revision,
      Target target,
      boolean phased,
      String commit,
      boolean keepInQuarantine) {
    public App(
        String name, String source, String revision, Target target, boolean phased, String commit) {
      this(name, source, revision, target, phased, commit, false);
    }

    public App(String name, String source, String revision, Target target, boolean phased) {
      this(name, source, revision, target, phased, null);
    }

    public App(String name, String source, String revision, Target target) {
      this(name, source, revision, target, false);
    }

    /** The key rollouts use for this app: {@code source/name}. */
    public String subject() {
      return source + "/" + name;
    }
  }

  /** Decides from a device's tags whether an app goes to it. */
  @FunctionalInterface
  interface Target {
    boolean matches(Map<String, String> tags);
  }

  /**
   * Rendered manifests and the {@code sha256:} digest of their UTF-8 bytes.
   *
   * @param runtime the runtime the bundle needs ({@code container}, {@code vm}); null for
   *     Kubernetes objects
   * @param artifacts the blobs the bundle's workloads use (container images, VM disks); empty when
   *     none
   */
  record Rendered(String yaml, String digest, String runtime, List<ArtifactRef> artifacts) {
    public Rendered {
      artifacts = artifacts == null ? List.of() : List.copyOf(artifacts);
    }

    /** Kubernetes objects, which use no artifacts. */
    public Rendered(String yaml, String digest) {
      this(yaml, digest, null, List.of());
    }
  }

  /**
   * The device an app is rendered for.
   *
   * @param tags the device's tags, for {@code ${tag:KEY}}
   * @param kubeVersion the Kubernetes version it reports ({@code v1.28.3}); null if none
   * @param arch its CPU architecture ({@code amd64}, {@code arm64}): which platform of a mirrored
   *     image it gets; null if it reports none
   */
  record Device(Map<String, String> tags, String kubeVersion, String arch) {
    public Device {
      tags = Map.copyOf(tags);
    }
  }

  /** A catalog without apps. */
  AppCatalog EMPTY =
      new AppCatalog() {
        @Override
        public List<App> apps() {
          return List.of();
        }

        @Override
        public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
          throw new IllegalArgumentException("no such app: " + app.name());
        }
      };

  List<App> apps();

  /**
   * Renders the app for a device with these tags whose cluster runs {@code kubeVersion}.
   *
   * @param kubeVersion the Kubernetes version the device reports ({@code v1.28.3}); null if it
   *     reports none, for Helm's default capabilities
   * @throws RuntimeException with a message for a person when the app cannot be rendered for this
   *     device (e.g. a missing tag it substitutes, a chart requiring a newer Kubernetes)
   */
  Rendered render(App app, Map<String, String> tags, String kubeVersion);

  /**
   * Renders the app for this device. Catalogs whose bundles name blobs resolve them for the
   * device's architecture here; others render as {@link #render(App, Map, String)} does.
   *
   * @throws RuntimeException with a message for a person when the app cannot be rendered for this
   *     device
   */
  default Rendered render(App app, Device device) {
    return render(app, device.tags(), device.kubeVersion());
  }
}
