package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/** Messages the controller sends to an agent over its WebSocket. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
@JsonSubTypes({@JsonSubTypes.Type(value = ControllerMessage.Welcome.class, name = "welcome")})
public sealed interface ControllerMessage {

  /** Answer to {@link AgentMessage.Hello}: who the agent is and how often to check in. */
  record Welcome(String deviceId, int heartbeatSeconds) implements ControllerMessage {}
}
