package io.edgefleet.controller.rollouts;

import java.util.List;

/**
 * A rollout policy text that cannot be used, with every problem found in it (not just the first),
 * each prefixed with the path of the offending field, e.g. {@code waves[1]: '150%' is not a
 * percentage between 1% and 100%}.
 */
public final class RolloutPolicyException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** Kept as an immutable copy; an immutable list is serializable, which the field must be. */
  private final List<String> problems;

  /**
   * @param problems at least one problem, each a complete sentence fragment a person can act on
   */
  public RolloutPolicyException(List<String> problems) {
    super("rollout policy is invalid: " + String.join("; ", problems));
    if (problems.isEmpty()) {
      throw new IllegalArgumentException("a RolloutPolicyException needs at least one problem");
    }
    this.problems = List.copyOf(problems);
  }

  /** The problems, in the order found (roughly document order); never empty. */
  public List<String> problems() {
    return problems;
  }
}
