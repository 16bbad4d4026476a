package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.events.EventLog.Event;
import io.edgefleet.controller.events.EventSource;
import io.edgefleet.controller.rollouts.RolloutReads.LoggedEvent;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Rollout events in the event log ({@code rollout}): a device sees the events of its rollouts as a
 * whole and of its own batch. Each happened when it was recorded, at the controller. Thread-safe.
 */
public final class RolloutEventSource implements EventSource {
  private final RolloutReads reads;

  public RolloutEventSource(RolloutReads reads) {
    this.reads = reads;
  }

  @Override
  public List<Event> newest(long since, long upTo, Optional<Set<String>> devices, int limit) {
    return reads.newestEvents(since, upTo, devices, limit).stream()
        .map(RolloutEventSource::event)
        .toList();
  }

  @Override
  public List<Event> recorded(long after, long upTo, Optional<Set<String>> devices, int limit) {
    return reads.eventsAfter(after, upTo, devices, limit).stream()
        .map(RolloutEventSource::event)
        .toList();
  }

  private static Event event(LoggedEvent e) {
    return new Event(
        "rollout:" + e.id(),
        e.at(),
        e.at(),
        "rollout",
        e.kind(),
        switch (e.kind()) {
          case "BATCH_FAILED", "PAUSED", "ROLLING_BACK", "ROLLED_BACK", "ABORTED" -> "warning";
          default -> "info";
        },
        null,
        e.app(),
        e.rolloutId(),
        e.seq(),
        "rollout "
            + e.rolloutId()
            + " of "
            + e.app()
            + " ("
            + (e.fromRevision() == null ? "" : e.fromRevision() + " → ")
            + e.toRevision()
            + "): "
            + e.message(),
        null);
  }
}
