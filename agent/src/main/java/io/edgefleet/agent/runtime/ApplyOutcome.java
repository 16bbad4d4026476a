package io.edgefleet.agent.runtime;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/** What one {@link WorkloadRuntime#apply} or {@link WorkloadRuntime#remove} did. */
public sealed interface ApplyOutcome {

  /**
   * Changes were made.
   *
   * @param objects objects applied (for {@code remove}: 0)
   * @param pruned objects deleted because they are no longer desired
   * @param repaired objects of the revision already in effect that had been deleted or changed by
   *     someone else and were put back by this apply, in apply order; empty when the apply took a
   *     new revision or manifests (the agent's own change is never drift), and for runtimes that
   *     cannot tell
   */
  record Applied(int objects, int pruned, List<DriftRepair> repaired) implements ApplyOutcome {
    public Applied {
      if (objects < 0 || pruned < 0) {
        throw new IllegalArgumentException("counts must not be negative");
      }
      repaired = List.copyOf(repaired);
    }

    /** Changes without drift: a new revision, a removal, or a first apply. */
    public Applied(int objects, int pruned) {
      this(objects, pruned, List.of());
    }
  }

  /** Nothing needed changing. */
  record InSync() implements ApplyOutcome {}

  /**
   * Not done now for a reason that may go away by itself (the cluster is unreachable, overloaded,
   * or still registering a new kind); try again after {@code delay}. Part of the change may have
   * been made: the next attempt completes it.
   */
  record RetryAfter(Duration delay, String reason) implements ApplyOutcome {
    public RetryAfter {
      Objects.requireNonNull(reason, "reason");
      if (delay.isNegative()) {
        throw new IllegalArgumentException("delay must not be negative");
      }
    }
  }

  /**
   * Cannot be done as asked (a malformed manifest, a kind the cluster does not know, a request the
   * API server rejected); retrying the same input fails the same way. {@code reason} is for a
   * person.
   */
  record Failed(String reason) implements ApplyOutcome {
    public Failed {
      Objects.requireNonNull(reason, "reason");
    }
  }
}
