package io.edgefleet.controller.stream;

import io.edgefleet.controller.common.ControllerException;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/** What a stream can follow ({@code topics}): each topic's messages are sent only if asked for. */
public enum Topic {
  /** {@code summary}: the fleet summary, first and whenever it changes. */
  SUMMARY,
  /** {@code device}: a device whose status, name or tags changed. */
  DEVICES,
  /** {@code rollout}: a rollout whose state or counts changed. */
  ROLLOUTS,
  /** {@code fleet-event}: each new event of the event log. */
  EVENTS;

  /** The name in {@code topics}. */
  public String param() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * A comma-separated list of topics; every topic when absent.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} for an unknown topic
   */
  public static Set<Topic> parse(Optional<String> list) {
    if (list.isEmpty()) {
      return EnumSet.allOf(Topic.class);
    }
    Set<Topic> out = EnumSet.noneOf(Topic.class);
    for (String t : list.get().split(",")) {
      String name = t.strip();
      Optional<Topic> topic =
          Arrays.stream(values()).filter(v -> v.param().equals(name)).findFirst();
      out.add(
          topic.orElseThrow(
              () ->
                  ControllerException.invalid(
                      "topics must be one or more of summary, devices, rollouts, events,"
                          + " separated by commas; got '"
                          + name
                          + "'")));
    }
    return out;
  }
}
