package io.edgefleet.controller.rollouts;

import io.edgefleet.protocol.Durations;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The maintenance windows of a rollout policy: named recurring spans of time during which devices
 * may be updated.
 *
 * <p>A device picks its window by the value of its tag {@link #tag()} (default {@code maintenance},
 * e.g. {@code maintenance=night}); a device without that tag uses the {@link #defaultWindow()
 * default window} if there is one, and is otherwise always open. The window is evaluated in the
 * time zone named by the device's tag {@link #timeZoneTag()} (default {@code tz}, e.g. {@code
 * tz=Europe/Berlin}) if present, otherwise in the window's own zone. A window is open at {@code
 * now} iff its cron fired at some minute {@code f} with {@code f <= now < f + duration}. When there
 * are no windows at all ({@link #ALWAYS}) every device is always open, whatever its tags.
 *
 * <p>Instances are immutable and thread-safe. {@link #check} is cheap when called for many devices
 * with the same {@code now}: the result per (window, zone) is memoised for the last {@code now}
 * seen.
 */
public final class MaintenanceWindows {
  /** The default name of the device tag naming a device's window. */
  public static final String DEFAULT_TAG = "maintenance";

  /** The default name of the device tag naming a device's time zone. */
  public static final String DEFAULT_TIME_ZONE_TAG = "tz";

  /** The window name reported for devices that are open because no window applies to them. */
  public static final String ALWAYS_OPEN = "always";

  /** Window names: lowercase letters, digits and '-', starting with a letter or digit. */
  public static final Pattern WINDOW_NAME = Pattern.compile("[a-z0-9][-a-z0-9]{0,62}");

  /** The shortest allowed window duration. */
  public static final Duration MIN_DURATION = Duration.ofMinutes(1);

  /** The longest allowed window duration. */
  public static final Duration MAX_DURATION = Duration.ofDays(7);

  /** No windows: every device is always {@link Open} (window {@code "always"}, never closes). */
  public static final MaintenanceWindows ALWAYS =
      new MaintenanceWindows(DEFAULT_TAG, DEFAULT_TIME_ZONE_TAG, List.of());

  /** Past this many memoised (window, zone) results the memo is cleared, to bound its memory. */
  private static final int MEMO_LIMIT = 4096;

  /**
   * A named window: it opens whenever {@code cron} fires (evaluated in the device's zone, or {@code
   * zone} if the device names none) and stays open for {@code duration}.
   *
   * @param name matches {@link #WINDOW_NAME}
   * @param duration between {@link #MIN_DURATION} and {@link #MAX_DURATION}
   */
  public record Window(String name, Cron cron, Duration duration, ZoneId zone) {
    public Window {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(cron, "cron");
      Objects.requireNonNull(duration, "duration");
      Objects.requireNonNull(zone, "zone");
      if (!WINDOW_NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(
            "'"
                + name
                + "' is not a valid window name: use lowercase letters, digits and '-',"
                + " starting with a letter or digit, at most 63 characters");
      }
      if (duration.compareTo(MIN_DURATION) < 0 || duration.compareTo(MAX_DURATION) > 0) {
        throw new IllegalArgumentException(
            "window '"
                + name
                + "': duration "
                + Durations.human(duration)
                + " is not between 1m and 7d");
      }
    }
  }

  /** Result of checking one device; consume with an exhaustive {@code switch}. */
  public sealed interface WindowState permits Open, Closed, Never {}

  /**
   * The device may be updated now, until {@code closesAt} ({@link Instant#MAX} for {@code
   * "always"}).
   */
  public record Open(String window, Instant closesAt) implements WindowState {
    public Open {
      Objects.requireNonNull(window, "window");
      Objects.requireNonNull(closesAt, "closesAt");
    }
  }

  /** The device must wait for its window, which opens next at {@code opensAt}. */
  public record Closed(String window, Instant opensAt, String reason) implements WindowState {
    public Closed {
      Objects.requireNonNull(window, "window");
      Objects.requireNonNull(opensAt, "opensAt");
      Objects.requireNonNull(reason, "reason");
    }
  }

  /**
   * The device can never be updated under this policy as it stands, e.g. its tags name an unknown
   * window or an invalid time zone; {@code reason} says what to fix.
   */
  public record Never(String reason) implements WindowState {
    public Never {
      Objects.requireNonNull(reason, "reason");
    }
  }

  private record MemoKey(String window, ZoneId zone) {}

  private record Memo(Instant now, WindowState state) {}

  private final String tag;
  private final String timeZoneTag;
  private final Map<String, Window> windows;
  private final Optional<Window> defaultWindow;
  private final ConcurrentHashMap<MemoKey, Memo> memo = new ConcurrentHashMap<>();

  /**
   * Windows without a default: devices without the window tag are always open.
   *
   * @throws IllegalArgumentException if a tag name is blank or two windows share a name
   */
  public MaintenanceWindows(String tag, String timeZoneTag, List<Window> windows) {
    this(tag, timeZoneTag, windows, Optional.empty());
  }

  /**
   * Windows with a default window for devices without the window tag.
   *
   * @param defaultWindow names one of {@code windows}
   * @throws IllegalArgumentException if a tag name is blank, two windows share a name or {@code
   *     defaultWindow} names no window
   */
  public MaintenanceWindows(
      String tag, String timeZoneTag, List<Window> windows, String defaultWindow) {
    this(tag, timeZoneTag, windows, Optional.of(defaultWindow));
  }

  private MaintenanceWindows(
      String tag, String timeZoneTag, List<Window> windows, Optional<String> defaultWindow) {
    Objects.requireNonNull(tag, "tag");
    Objects.requireNonNull(timeZoneTag, "timeZoneTag");
    Objects.requireNonNull(windows, "windows");
    if (tag.isBlank() || timeZoneTag.isBlank()) {
      throw new IllegalArgumentException("maintenance tag names must not be blank");
    }
    this.tag = tag;
    this.timeZoneTag = timeZoneTag;
    Map<String, Window> byName = new LinkedHashMap<>();
    for (Window w : windows) {
      if (byName.putIfAbsent(w.name(), w) != null) {
        throw new IllegalArgumentException("two maintenance windows are named '" + w.name() + "'");
      }
    }
    this.windows = byName;
    this.defaultWindow =
        defaultWindow.map(
            name -> {
              Window w = byName.get(name);
              if (w == null) {
                throw new IllegalArgumentException(
                    "default maintenance window '" + name + "' names no window; known: " + known());
              }
              return w;
            });
  }

  /**
   * Whether the device with {@code deviceTags} may be updated at {@code now}. Never throws for any
   * tag values; problems with them are reported as {@link Never}.
   */
  public WindowState check(Map<String, String> deviceTags, Instant now) {
    if (windows.isEmpty()) {
      return new Open(ALWAYS_OPEN, Instant.MAX);
    }
    String name = deviceTags.get(tag);
    Window window;
    if (name == null) {
      if (defaultWindow.isEmpty()) {
        return new Open(ALWAYS_OPEN, Instant.MAX);
      }
      window = defaultWindow.get();
    } else {
      window = windows.get(name);
      if (window == null) {
        return new Never(
            "device tag "
                + tag
                + "="
                + name
                + " names no window of this rollout policy; known: "
                + known());
      }
    }
    ZoneId zone = window.zone();
    String zoneName = deviceTags.get(timeZoneTag);
    if (zoneName != null) {
      Optional<ZoneId> parsed = zone(zoneName);
      if (parsed.isEmpty()) {
        return new Never(
            "device tag "
                + timeZoneTag
                + "="
                + zoneName
                + " is not a time zone (use an IANA name such as Europe/Berlin)");
      }
      zone = parsed.get();
    }
    MemoKey key = new MemoKey(window.name(), zone);
    Memo last = memo.get(key);
    if (last != null && last.now().equals(now)) {
      return last.state();
    }
    WindowState state = evaluate(window, zone, now);
    if (memo.size() >= MEMO_LIMIT) {
      memo.clear();
    }
    memo.put(key, new Memo(now, state));
    return state;
  }

  private static WindowState evaluate(Window window, ZoneId zone, Instant now) {
    ZonedDateTime at = now.atZone(zone);
    Optional<ZonedDateTime> fired = window.cron().latestAtOrBefore(at, window.duration());
    if (fired.isPresent()) {
      Instant closesAt = fired.get().toInstant().plus(window.duration());
      if (now.isBefore(closesAt)) {
        return new Open(window.name(), closesAt);
      }
    }
    ZonedDateTime opens;
    try {
      opens = window.cron().next(at);
    } catch (IllegalStateException e) {
      return new Never(
          "maintenance window '"
              + window.name()
              + "' never opens: cron '"
              + window.cron()
              + "' never fires");
    }
    return new Closed(
        window.name(),
        opens.toInstant(),
        "outside maintenance window '" + window.name() + "' (opens " + opens + ")");
  }

  /**
   * The zone an IANA name or offset names; empty if it names none. Region ids are case-sensitive in
   * {@link ZoneId#of}, as in the tz database.
   */
  private static Optional<ZoneId> zone(String name) {
    try {
      return Optional.of(ZoneId.of(name.trim()));
    } catch (DateTimeException e) {
      return Optional.empty();
    }
  }

  private String known() {
    return String.join(", ", windows.keySet().stream().sorted().toList());
  }

  /** True iff there are no windows, so every device is always open. */
  public boolean isAlways() {
    return windows.isEmpty();
  }

  /** The windows, in the order given. */
  public List<Window> windows() {
    return List.copyOf(windows.values());
  }

  /** The window with {@code name}, if any. */
  public Optional<Window> window(String name) {
    return Optional.ofNullable(windows.get(name));
  }

  /** The window for devices without the window tag; empty means such devices are always open. */
  public Optional<String> defaultWindow() {
    return defaultWindow.map(Window::name);
  }

  /** The device tag naming a device's window. */
  public String tag() {
    return tag;
  }

  /** The device tag naming a device's time zone. */
  public String timeZoneTag() {
    return timeZoneTag;
  }

  /** Equal iff tags, windows (in order) and default window are equal. */
  @Override
  public boolean equals(Object o) {
    return o instanceof MaintenanceWindows other
        && other.tag.equals(tag)
        && other.timeZoneTag.equals(timeZoneTag)
        && new ArrayList<>(other.windows.values()).equals(new ArrayList<>(windows.values()))
        && other.defaultWindow().equals(defaultWindow());
  }

  @Override
  public int hashCode() {
    return Objects.hash(tag, timeZoneTag, List.copyOf(windows.values()), defaultWindow());
  }

  @Override
  public String toString() {
    if (isAlways()) {
      return "MaintenanceWindows[always]";
    }
    return "MaintenanceWindows[tag="
        + tag
        + ", timeZoneTag="
        + timeZoneTag
        + ", windows="
        + windows.values()
        + defaultWindow().map(d -> ", default=" + d).orElse("")
        + "]";
  }
}
