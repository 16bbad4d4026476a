package io.edgefleet.agent.artifacts;

import io.edgefleet.protocol.DesiredState;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The daily windows of a {@link DesiredState.DownloadPolicy} in which artifacts may be downloaded,
 * as {@code HH:MM-HH:MM} in the policy's zone; a window may wrap past midnight ({@code
 * 22:00-06:00}), one whose start equals its end lasts all day. No windows: always open.
 */
record DownloadWindows(List<Window> windows, ZoneId zone) {
  private static final Pattern WINDOW =
      Pattern.compile("([01]\\d|2[0-3]):([0-5]\\d)-([01]\\d|2[0-3]):([0-5]\\d)");

  /** One daily window from {@code start} (inclusive) to {@code end} (exclusive). */
  record Window(LocalTime start, LocalTime end) {
    boolean contains(LocalTime t) {
      if (start.equals(end)) {
        return true;
      }
      return start.isBefore(end)
          ? !t.isBefore(start) && t.isBefore(end)
          : !t.isBefore(start) || t.isBefore(end);
    }

    @Override
    public String toString() {
      return start + "-" + end;
    }
  }

  DownloadWindows {
    windows = List.copyOf(windows);
  }

  /** Always open, in UTC. */
  static final DownloadWindows ALWAYS = new DownloadWindows(List.of(), ZoneOffset.UTC);

  /**
   * The windows of {@code policy} (null: always open).
   *
   * @throws IllegalArgumentException naming the window or zone that cannot be read
   */
  static DownloadWindows of(DesiredState.DownloadPolicy policy) {
    if (policy == null) {
      return ALWAYS;
    }
    ZoneId zone;
    try {
      zone =
          policy.zone() == null || policy.zone().isBlank()
              ? ZoneOffset.UTC
              : ZoneId.of(policy.zone());
    } catch (DateTimeException e) {
      throw new IllegalArgumentException(
          "the download zone '" + policy.zone() + "' is no time zone (want e.g. Europe/Berlin)");
    }
    List<Window> out = new ArrayList<>();
    for (String w : policy.windows()) {
      Matcher m = w == null ? null : WINDOW.matcher(w.trim());
      if (m == null || !m.matches()) {
        throw new IllegalArgumentException(
            "the download window '" + w + "' is not HH:MM-HH:MM (e.g. 01:00-05:30)");
      }
      out.add(
          new Window(
              LocalTime.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))),
              LocalTime.of(Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4)))));
    }
    return new DownloadWindows(out, zone);
  }

  /** Whether downloads may run at {@code now}. */
  boolean open(Instant now) {
    if (windows.isEmpty()) {
      return true;
    }
    LocalTime t = now.atZone(zone).toLocalTime();
    return windows.stream().anyMatch(w -> w.contains(t));
  }

  /**
   * When the windows open at {@code now} close, if they do: the first instant after {@code now} at
   * which no window is open. Empty when always open.
   */
  Optional<Instant> closes(Instant now) {
    if (windows.isEmpty() || !open(now)) {
      return Optional.empty();
    }
    // Window edges are whole minutes: step from edge to edge, at most two days ahead.
    Optional<Instant> edge = nextEdge(now);
    while (edge.isPresent() && edge.get().isBefore(now.plusSeconds(2 * 86_400))) {
      if (!open(edge.get())) {
        return edge;
      }
      edge = nextEdge(edge.get());
    }
    return Optional.empty();
  }

  /** The next instant after {@code now} at which a window opens; empty when always open. */
  Optional<Instant> opens(Instant now) {
    if (windows.isEmpty()) {
      return Optional.empty();
    }
    Optional<Instant> edge = nextEdge(now);
    while (edge.isPresent() && edge.get().isBefore(now.plusSeconds(2 * 86_400))) {
      if (open(edge.get())) {
        return edge;
      }
      edge = nextEdge(edge.get());
    }
    return Optional.empty();
  }

  /** The first window start or end strictly after {@code now}. */
  private Optional<Instant> nextEdge(Instant now) {
    ZonedDateTime local = now.atZone(zone);
    Instant best = null;
    for (int day = 0; day <= 2; day++) {
      LocalDate date = local.toLocalDate().plusDays(day);
      for (Window w : windows) {
        for (LocalTime t : new LocalTime[] {w.start(), w.end()}) {
          Instant at = ZonedDateTime.of(date, t, zone).toInstant();
          if (at.isAfter(now) && (best == null || at.isBefore(best))) {
            best = at;
          }
        }
      }
    }
    return Optional.ofNullable(best);
  }

  @Override
  public String toString() {
    return windows.isEmpty() ? "at any time" : windows + " " + zone;
  }
}
