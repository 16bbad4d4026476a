package io.edgefleet.controller.desired;

import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.common.ControllerException;
import java.util.Locale;
import java.util.Map;

/**
 * Where an app runs: on every device its target selects ({@link #DEVICE}, the default), or once per
 * K3s cluster ({@link #CLUSTER}): only on the member that applies the cluster's apps, the one
 * carrying {@code cluster.edgefleet.io/applier=true}, which the controller moves to another server
 * when it fails.
 */
public final class AppScope {
  /** Once per device the target selects. */
  public static final String DEVICE = "device";

  /** Once per cluster: the target ANDed with {@code cluster.edgefleet.io/applier=true}. */
  public static final String CLUSTER = "cluster";

  private AppScope() {}

  /**
   * The scope as stored: {@link #DEVICE} for null or blank.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming the field and the allowed values
   */
  public static String parse(String field, String text) {
    if (text == null || text.isBlank()) {
      return DEVICE;
    }
    String s = text.strip().toLowerCase(Locale.ROOT);
    if (!s.equals(DEVICE) && !s.equals(CLUSTER)) {
      throw ControllerException.invalid(
          "'"
              + field
              + "' must be 'device' (every device the target selects) or 'cluster' (once per"
              + " K3s cluster, on its applier member); got '"
              + text
              + "'");
    }
    return s;
  }

  /** Whether a device with these tags applies a cluster's cluster-scoped apps. */
  public static boolean applier(Map<String, String> tags) {
    return "true".equals(tags.get(ClusterTags.APPLIER));
  }

  /** The target narrowed to the scope: for {@link #CLUSTER}, ANDed with the applier tag. */
  public static AppCatalog.Target target(AppCatalog.Target target, String scope) {
    if (!CLUSTER.equals(scope)) {
      return target;
    }
    return tags -> applier(tags) && target.matches(tags);
  }
}
