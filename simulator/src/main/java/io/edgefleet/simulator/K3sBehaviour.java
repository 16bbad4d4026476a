package io.edgefleet.simulator;

import java.time.Duration;

/**
 * How simulated K3s nodes behave (the simulator's cluster members).
 *
 * @param download how long fetching a K3s binary the device does not hold takes
 * @param start how long K3s takes from start to ready
 * @param failRate the share of starts that end {@code FAILED} instead of {@code RUNNING}
 * @param reportEvery how often a member reports while nothing changes
 */
public record K3sBehaviour(
    Duration download, Duration start, double failRate, Duration reportEvery) {
  public static final K3sBehaviour DEFAULT =
      new K3sBehaviour(Duration.ofSeconds(2), Duration.ofSeconds(3), 0, Duration.ofSeconds(30));

  public K3sBehaviour {
    if (download.isNegative() || start.isNegative()) {
      throw new IllegalArgumentException("--k3s-download-time and --k3s-start-time must be >= 0");
    }
    if (failRate < 0 || failRate > 1) {
      throw new IllegalArgumentException("--k3s-fail-rate must be between 0 and 1");
    }
    if (!reportEvery.isPositive()) {
      throw new IllegalArgumentException("the cluster report interval must be positive");
    }
  }
}
