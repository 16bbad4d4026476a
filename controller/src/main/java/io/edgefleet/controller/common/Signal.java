package io.edgefleet.controller.common;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A change one producer announces to the listeners subscribed while the controller is assembled:
 * for a producer that must exist before those who follow it (a Git source's commit and the
 * desired-state engine that reads the source's apps). Subscriptions end with {@link #seal}, before
 * anything runs, so that every listener is known once the controller starts. Thread-safe; listeners
 * run on the producer's thread, in the order they subscribed, and must not throw.
 */
public final class Signal<T> implements Consumer<T> {
  private final String name;
  private final List<Consumer<? super T>> listeners = new CopyOnWriteArrayList<>();
  private volatile boolean sealed;

  /**
   * @param name what changes, for the message of a refused subscription
   */
  public Signal(String name) {
    this.name = name;
  }

  /**
   * Adds a listener.
   *
   * @throws IllegalStateException once {@link #seal sealed}
   */
  public void subscribe(Consumer<? super T> listener) {
    synchronized (listeners) {
      if (sealed) {
        throw new IllegalStateException(
            "listeners of " + name + " are subscribed before the controller starts");
      }
      listeners.add(listener);
    }
  }

  /** Ends subscriptions: the listeners are complete. */
  public void seal() {
    synchronized (listeners) {
      sealed = true;
    }
  }

  /** Announces a change to every listener. */
  @Override
  public void accept(T change) {
    for (Consumer<? super T> l : listeners) {
      l.accept(change);
    }
  }
}
