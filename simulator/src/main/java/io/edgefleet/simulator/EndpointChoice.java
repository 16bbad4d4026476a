package io.edgefleet.simulator;

import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Which of the controller's URLs (its replicas) one virtual device uses, as the agent chooses: a
 * random one at first, so a fleet spreads over the replicas; the same one while it works; the next
 * one when it fails. Only a whole round of failed URLs makes the device back off, so a replica that
 * died costs its devices one quick retry elsewhere. {@link #current()} may be called from any
 * thread; {@link #failed()} and {@link #worked()} only under the device's lock. The simulator keeps
 * one per device, so it stays small.
 */
final class EndpointChoice {
  private final List<Endpoint> endpoints;
  // Written under the device's lock, read by the selector and timer threads that dial.
  private volatile int index;
  private int failedInRound;

  /**
   * @param endpoints every URL of the controller, not empty
   */
  EndpointChoice(List<Endpoint> endpoints, RandomGenerator random) {
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("no controller URL");
    }
    this.endpoints = endpoints;
    this.index = endpoints.size() == 1 ? 0 : random.nextInt(endpoints.size());
  }

  /** The URL to use now. */
  Endpoint current() {
    return endpoints.get(index);
  }

  /**
   * The current URL failed: the next one is used from now on.
   *
   * @return whether a URL not yet tried in this round remains (try it at once); false when every
   *     URL failed in a row (back off) or there is only one
   */
  boolean failed() {
    if (endpoints.size() <= 1) {
      return false;
    }
    index = (index + 1) % endpoints.size();
    failedInRound++;
    if (failedInRound >= endpoints.size()) {
      failedInRound = 0;
      return false;
    }
    return true;
  }

  /** The current URL answered: a new round starts. */
  void worked() {
    failedInRound = 0;
  }
}
