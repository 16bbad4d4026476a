package io.edgefleet.controller.common;

import io.edgefleet.protocol.ErrorCode;
import java.util.Collection;

/**
 * The device tags the controller keeps on the members of a K3s cluster, so that selectors (app
 * targets, rollouts, alerts, profiles) can speak of clusters the way they speak of any tag. Only
 * the controller writes them: a tag under {@link #PREFIX} in an operator's request is refused.
 */
public final class ClusterTags {
  /** Every controller-managed cluster tag starts with this. */
  public static final String PREFIX = "cluster.edgefleet.io/";

  /** The name of the cluster the device is a member of. */
  public static final String NAME = PREFIX + "name";

  /** {@code server} or {@code agent}. */
  public static final String ROLE = PREFIX + "role";

  /**
   * {@code true} on the one member per cluster that applies the cluster's cluster-scoped apps (its
   * profile's apps among them); the controller moves it to another running server on failure.
   */
  public static final String APPLIER = PREFIX + "applier";

  /** The name of the profile the cluster follows, absent when none. */
  public static final String PROFILE = PREFIX + "profile";

  private ClusterTags() {}

  /**
   * Refuses an operator's tag keys when one is reserved.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming the first reserved key
   */
  public static void refuseReserved(Collection<String> keys) {
    for (String key : keys) {
      if (reserved(key)) {
        throw new ControllerException(
            ErrorCode.VALIDATION_FAILED,
            "tag "
                + key
                + " is kept by the controller for cluster membership; tags under "
                + PREFIX
                + " cannot be set or removed by hand (create or change a cluster instead)");
      }
    }
  }

  /** Whether an operator may not set or remove this tag key. */
  public static boolean reserved(String key) {
    return key != null && key.startsWith(PREFIX);
  }
}
