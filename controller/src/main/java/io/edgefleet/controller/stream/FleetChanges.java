package io.edgefleet.controller.stream;

import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceView;
import io.edgefleet.controller.events.EventLog;
import io.edgefleet.controller.health.FleetSummaries;
import io.edgefleet.controller.rollouts.RolloutEngine;
import io.edgefleet.protocol.Json;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The fleet's changes for the streams, found by comparing with what was seen at the previous look:
 * one read of the registry (every device's view, and the summary from the same views), the newest
 * rollouts (the view of each one in flight, or changed since) and the event log after its cursor. A
 * device counts as changed when its status, name or tags did (its reason's wording changes with
 * time and is not compared). Thread-safe: one look at a time.
 */
public final class FleetChanges implements ChangeSource {
  /** The newest rollouts looked at; an older one still in flight is rare. */
  static final int ROLLOUTS = 100;

  /** Events read per page of the log, and pages per look at most. */
  static final int EVENT_PAGE = 500;

  static final int EVENT_PAGES = 10;

  private final DeviceService devices;
  private final FleetSummaries summaries;
  private final RolloutEngine rollouts;
  private final EventLog events;

  private String summary;
  private List<DeviceView> summarized = List.of();
  private Map<String, String> deviceStates;
  private final Map<String, Seen> rolloutsSeen = new HashMap<>();
  private String eventCursor;

  /** What was last sent of a rollout: when it last changed and its view (null when unsent). */
  private record Seen(Instant updatedAt, String json) {}

  public FleetChanges(
      DeviceService devices, FleetSummaries summaries, RolloutEngine rollouts, EventLog events) {
    this.devices = devices;
    this.summaries = summaries;
    this.rollouts = rollouts;
    this.events = events;
  }

  @Override
  public synchronized List<StreamMessage> current() {
    if (deviceStates == null) {
      look(false);
    }
    return List.of(summaryMessage(summary, summarized));
  }

  @Override
  public synchronized List<StreamMessage> changes() {
    boolean first = deviceStates == null;
    List<StreamMessage> out = look(!first);
    return first ? List.of() : out;
  }

  @Override
  public synchronized void reset() {
    summary = null;
    summarized = List.of();
    deviceStates = null;
    rolloutsSeen.clear();
    eventCursor = null;
  }

  /** Reads everything once; with {@code report}, returns what differs from the previous look. */
  private List<StreamMessage> look(boolean report) {
    List<StreamMessage> out = new ArrayList<>();
    List<DeviceView> views = devices.list(Optional.empty());
    String nowSummary = Json.write(summaries.summary(views));
    summarized = views;
    if (!nowSummary.equals(summary)) {
      out.add(summaryMessage(nowSummary, views));
      summary = nowSummary;
    }
    Map<String, String> states = new HashMap<>(views.size() * 2);
    for (DeviceView v : views) {
      String state = v.status() + "\u0000" + v.name() + "\u0000" + v.tags();
      states.put(v.id(), state);
      if (deviceStates != null && !state.equals(deviceStates.get(v.id()))) {
        out.add(new StreamMessage(Topic.DEVICES, "device", null, Json.write(v), v.tags()));
      }
    }
    deviceStates = states;
    lookAtRollouts(out, report);
    Map<String, Map<String, String>> tags = new HashMap<>(views.size() * 2);
    views.forEach(v -> tags.put(v.id(), v.tags()));
    lookAtEvents(out, tags);
    return out;
  }

  /**
   * The summary message: the fleet's, and for a caller confined to projects the summary of its
   * devices only, from the same views.
   */
  private StreamMessage summaryMessage(String fleet, List<DeviceView> views) {
    return new StreamMessage(
        Topic.SUMMARY,
        "summary",
        null,
        fleet,
        null,
        visible ->
            Json.write(
                summaries.summaryOf(views.stream().filter(v -> visible.test(v.tags())).toList())));
  }

  private void lookAtRollouts(List<StreamMessage> out, boolean report) {
    Map<String, Seen> still = new HashMap<>();
    for (RolloutEngine.Summary r : rollouts.list(Optional.empty(), Optional.empty(), ROLLOUTS)) {
      Seen before = rolloutsSeen.get(r.id());
      boolean unchanged = before != null && before.updatedAt().equals(r.updatedAt());
      if (r.state().finished() && (unchanged || !report && before == null)) {
        still.put(r.id(), before == null ? new Seen(r.updatedAt(), null) : before);
        continue;
      }
      String json = Json.write(rollouts.view(r.id(), false));
      if (report && (before == null || !json.equals(before.json()))) {
        out.add(new StreamMessage(Topic.ROLLOUTS, "rollout", null, json));
      }
      still.put(r.id(), new Seen(r.updatedAt(), json));
    }
    rolloutsSeen.clear();
    rolloutsSeen.putAll(still);
  }

  private void lookAtEvents(List<StreamMessage> out, Map<String, Map<String, String>> tags) {
    if (eventCursor == null) {
      eventCursor =
          events
              .list(
                  new EventLog.Request(
                      Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), 1))
              .next();
      return;
    }
    for (int i = 0; i < EVENT_PAGES; i++) {
      EventLog.Page page =
          events.list(
              new EventLog.Request(
                  Optional.empty(),
                  Optional.empty(),
                  Optional.empty(),
                  Optional.of(eventCursor),
                  EVENT_PAGE));
      for (EventLog.Event e : page.items()) {
        out.add(
            new StreamMessage(
                Topic.EVENTS,
                "fleet-event",
                e.id(),
                Json.write(e),
                e.deviceId() == null ? null : tags.get(e.deviceId())));
      }
      eventCursor = page.next();
      if (!page.more()) {
        return;
      }
    }
  }
}
