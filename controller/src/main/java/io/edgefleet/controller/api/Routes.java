package io.edgefleet.controller.api;

/**
 * The endpoints of one feature. Each feature package implements this for its own routes; the
 * composition root collects them into one {@link Router}, so this package knows no feature.
 */
@FunctionalInterface
public interface Routes {
  void register(Router router);
}
