package io.edgefleet.controller.rollouts;

import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Runs every change to rollouts in one transaction, one at a time: ticks, commands and starts are
 * serialized here, and the gate's cached view of the latest rollouts is dropped after each. The
 * lock is always taken before a database connection.
 */
final class RolloutTransactions {
  private final Jdbi jdbi;
  private final RolloutGate gate;

  RolloutTransactions(Jdbi jdbi, RolloutGate gate) {
    this.jdbi = jdbi;
    this.gate = gate;
  }

  <T> T run(Function<Handle, T> work) {
    synchronized (this) {
      T result = jdbi.inTransaction(work::apply);
      gate.invalidate();
      return result;
    }
  }
}
