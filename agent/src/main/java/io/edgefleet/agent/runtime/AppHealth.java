package io.edgefleet.agent.runtime;

import java.util.Objects;

/**
 * How an app's workloads are doing, with a reason for a person ("deployment web: 1/2 available",
 * "all 3 objects ready").
 */
public record AppHealth(State state, String reason) {

  public enum State {
    /** Rolling out, scaling or starting: not there yet, nothing wrong so far. */
    PROGRESSING,
    /** Every workload is up to date and available. */
    READY,
    /** A workload failed (crash loop, deadline exceeded, failed job): a person should look. */
    FAILED,
    /** The app has no objects, or objects it should have are gone. */
    MISSING
  }

  public AppHealth {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(reason, "reason");
  }
}
