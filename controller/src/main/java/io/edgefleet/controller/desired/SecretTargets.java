package io.edgefleet.controller.desired;

import java.util.List;

/**
 * The secrets devices should hold: each at its current version, for the devices its target matches.
 * A device's desired state references those that match its tags, so a change to a secret or to a
 * device's tags changes that device's document.
 */
@FunctionalInterface
public interface SecretTargets {

  /** A secret at its current version, for the devices {@code target} matches. */
  record Secret(String name, long version, String namespace, AppCatalog.Target target) {}

  List<Secret> secrets();

  /** No secrets at all. */
  SecretTargets NONE = List::of;
}
