package io.edgefleet.agent;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import java.time.Instant;

/**
 * A part of the agent that talks to the controller over the agent's one connection (telemetry,
 * logs). The agent calls these methods from its own threads; implementations are thread-safe and
 * must not block for long.
 */
public interface AgentFeature extends AutoCloseable {

  /** Sends messages over the current connection. */
  interface Channel {
    /** Queues a message; false if the connection is gone. */
    boolean send(AgentMessage message);

    /** Whether the connection carries binary messages ({@link #sendBinary}). */
    default boolean binary() {
      return false;
    }

    /**
     * Queues a binary message (a compact telemetry batch); false if the connection is gone or
     * carries no binary messages.
     */
    default boolean sendBinary(byte[] message) {
      return false;
    }
  }

  /** The connection is up and the controller welcomed the agent. */
  void connected(Channel channel, ControllerMessage.Welcome welcome);

  /** The connection is gone; messages sent through the old channel are lost. */
  void disconnected();

  /** Offered every controller message the agent core does not handle; true if handled. */
  boolean handle(ControllerMessage message);

  /**
   * A verified desired state is in effect (received, or loaded at start before any contact): a
   * feature that acts on part of it takes it here. Called on the agent's own threads; returns at
   * once.
   */
  default void applied(io.edgefleet.protocol.DesiredState state) {}

  /**
   * A reconcile pass over the desired state of {@code generation} finished (whatever each app's
   * outcome). Called on the agent's worker threads; returns at once.
   */
  default void reconciled(long generation) {}

  /**
   * Something happened on the device. A feature that takes events (the outbox) returns true; if
   * none does, the agent sends the event at once when connected.
   */
  default boolean event(String kind, String severity, String app, String message, Instant at) {
    return false;
  }

  @Override
  void close();
}
