package io.edgefleet.controller.profiles;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * One layer of a profile version. A {@value #KUBERNETES} layer carries the K3s version and
 * configuration; every other kind pins a catalog app version with values.
 *
 * @param name the layer's name, unique in its version
 * @param kind {@value #KUBERNETES}, {@code networking}, {@code storage}, {@code addon} or {@code
 *     app}
 * @param kubernetesVersion the K3s version of a Kubernetes layer ({@code v1.20.2+k3s1}); null to
 *     keep the cluster's
 * @param config further K3s configuration keys of a Kubernetes layer
 * @param app the catalog app an app layer pins
 * @param version the catalog version an app layer pins
 * @param values the values an app layer renders its app with
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Layer(
    String name,
    String kind,
    String kubernetesVersion,
    Map<String, Object> config,
    String app,
    String version,
    Map<String, Object> values) {
  /** The kind of the layer holding the Kubernetes distribution. */
  public static final String KUBERNETES = "kubernetes";

  /** Every kind a layer may have. */
  public static final Set<String> KINDS =
      Set.of(KUBERNETES, "networking", "storage", "addon", "app");

  /** Whether this is the Kubernetes distribution layer. */
  public boolean kubernetes() {
    return KUBERNETES.equals(kind == null ? null : kind.toLowerCase(Locale.ROOT));
  }

  /** A Kubernetes layer. */
  public static Layer kubernetes(String name, String version, Map<String, Object> config) {
    return new Layer(name, KUBERNETES, version, config, null, null, null);
  }

  /** A layer pinning a catalog app version. */
  public static Layer app(
      String name, String kind, String app, String version, Map<String, Object> values) {
    return new Layer(name, kind, null, null, app, version, values);
  }
}
