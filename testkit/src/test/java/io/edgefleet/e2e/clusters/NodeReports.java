package io.edgefleet.e2e.clusters;

import io.edgefleet.agent.AgentFeature;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A test-side agent feature that lets a test speak for the agent's K3s: it sends the cluster-node
 * reports a member would send over the agent's own connection. Thread-safe.
 */
public final class NodeReports implements AgentFeature {
  private final AtomicReference<Channel> channel = new AtomicReference<>();

  @Override
  public void connected(Channel c, ControllerMessage.Welcome welcome) {
    channel.set(c);
  }

  @Override
  public void disconnected() {
    channel.set(null);
  }

  @Override
  public boolean handle(ControllerMessage message) {
    return false;
  }

  /** Whether the agent is connected, so that reports can go out. */
  public boolean connected() {
    return channel.get() != null;
  }

  /** Sends a report; false when the agent is not connected. */
  public boolean send(AgentMessage.ClusterNode node) {
    Channel c = channel.get();
    return c != null && c.send(node);
  }

  @Override
  public void close() {}
}
