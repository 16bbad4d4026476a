package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/** Messages an agent sends over its WebSocket. Property {@code t} names the type. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
@JsonSubTypes({
  @JsonSubTypes.Type(value = AgentMessage.Hello.class, name = "hello"),
  @JsonSubTypes.Type(value = AgentMessage.Heartbeat.class, name = "hb")
})
public sealed interface AgentMessage {

  /** First message on every connection. */
  record Hello(String agentVersion, long bootId) implements AgentMessage {}

  /** Liveness; deliberately tiny because it is the most frequent exchange. */
  record Heartbeat(long seq) implements AgentMessage {}
}
