package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/** Messages the controller sends to an agent over its WebSocket. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
@JsonSubTypes({
  @JsonSubTypes.Type(value = ControllerMessage.Welcome.class, name = "welcome"),
  @JsonSubTypes.Type(value = ControllerMessage.Ack.class, name = "ack"),
  @JsonSubTypes.Type(value = ControllerMessage.Nudge.class, name = "nudge")
})
public sealed interface ControllerMessage {

  /** Answer to {@link AgentMessage.Hello}: who the agent is and how often to check in. */
  record Welcome(String deviceId, int heartbeatSeconds, long generation)
      implements ControllerMessage {}

  /** A newer desired state exists; the agent fetches and verifies it itself. */
  record Nudge(long generation) implements ControllerMessage {}

  /**
   * Answer to a heartbeat. Its arrival is how an agent knows the link is alive even when TCP has
   * not noticed a dead peer yet.
   */
  record Ack() implements ControllerMessage {}
}
