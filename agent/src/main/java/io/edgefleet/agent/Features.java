package io.edgefleet.agent;

import io.edgefleet.device.link.ControllerLink;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import java.io.PrintStream;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * The features that share the agent's connection (telemetry, logs): they hear when it comes and
 * goes, are offered the messages the agent core does not handle, and may keep events. Thread-safe.
 */
final class Features {
  private final List<AgentFeature> all = new CopyOnWriteArrayList<>();
  private final PrintStream out;

  Features(PrintStream out) {
    this.out = out;
  }

  void add(AgentFeature feature) {
    all.add(feature);
  }

  /**
   * The connection is up: each feature gets a channel that sends on {@code link} while it is the
   * agent's {@code current} one.
   */
  void connected(
      ControllerLink link, Supplier<ControllerLink> current, ControllerMessage.Welcome welcome) {
    AgentFeature.Channel channel =
        new AgentFeature.Channel() {
          @Override
          public boolean send(AgentMessage message) {
            return current.get() == link && link.send(message);
          }

          @Override
          public boolean binary() {
            return true;
          }

          @Override
          public boolean sendBinary(byte[] message) {
            return current.get() == link && link.sendBinary(message);
          }
        };
    for (AgentFeature f : all) {
      f.connected(channel, welcome);
    }
  }

  /** Offers a message to each feature in turn; true if one handled it. */
  boolean handle(ControllerMessage message) {
    for (AgentFeature f : all) {
      if (f.handle(message)) {
        return true;
      }
    }
    return false;
  }

  /** A verified desired state is in effect. */
  void applied(io.edgefleet.protocol.DesiredState state) {
    for (AgentFeature f : all) {
      try {
        f.applied(state);
      } catch (RuntimeException e) {
        out.printf("a feature failed to take the desired state: %s%n", e);
      }
    }
  }

  /** A reconcile pass finished. */
  void reconciled(long generation) {
    for (AgentFeature f : all) {
      try {
        f.reconciled(generation);
      } catch (RuntimeException e) {
        out.printf("a feature failed to take a reconcile pass: %s%n", e);
      }
    }
  }

  void disconnected() {
    all.forEach(AgentFeature::disconnected);
  }

  /** Hands an event to the first feature that keeps events; false if none does. */
  boolean event(String kind, String severity, String app, String message, Instant at) {
    for (AgentFeature f : all) {
      if (f.event(kind, severity, app, message, at)) {
        return true;
      }
    }
    return false;
  }

  void close() {
    for (AgentFeature f : all) {
      try {
        f.close();
      } catch (RuntimeException e) {
        out.printf("a feature did not close cleanly: %s%n", e);
      }
    }
  }
}
