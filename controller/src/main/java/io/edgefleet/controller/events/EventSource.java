package io.edgefleet.controller.events;

import io.edgefleet.controller.events.EventLog.Event;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Events of one kind for the {@link EventLog}, read by the package that owns their table; the log
 * merges the sources. Times are epoch milliseconds; {@code devices}, when present, keeps only the
 * events that concern these devices.
 */
public interface EventSource {
  /**
   * The events that happened at or after {@code since} and were recorded up to {@code upTo}, latest
   * happened first, at most {@code limit}.
   */
  List<Event> newest(long since, long upTo, Optional<Set<String>> devices, int limit);

  /**
   * The events recorded after {@code after} up to {@code upTo}, earliest recorded first, at most
   * {@code limit}.
   */
  List<Event> recorded(long after, long upTo, Optional<Set<String>> devices, int limit);
}
