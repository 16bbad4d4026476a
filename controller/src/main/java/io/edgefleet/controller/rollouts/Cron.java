package io.edgefleet.controller.rollouts;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.Month;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A five-field cron expression ({@code minute hour day-of-month month day-of-week}) with Vixie cron
 * semantics, evaluated on the local date-time fields of a time zone.
 *
 * <p>Each field accepts {@code *}, a number, a range {@code a-b}, a list {@code a,b,c}, and steps
 * {@code *}{@code /n}, {@code a-b/n} and {@code a/n} (from {@code a} to the field's maximum).
 * Months may be written {@code JAN}–{@code DEC} and weekdays {@code SUN}–{@code SAT}
 * (case-insensitive); day-of-week {@code 0} and {@code 7} both mean Sunday. Macros stand for their
 * usual expansions:
 *
 * <ul>
 *   <li>{@code @yearly} and {@code @annually}: {@code 0 0 1 1 *}
 *   <li>{@code @monthly}: {@code 0 0 1 * *}
 *   <li>{@code @weekly}: {@code 0 0 * * 0}
 *   <li>{@code @daily} and {@code @midnight}: {@code 0 0 * * *}
 *   <li>{@code @hourly}: {@code 0 * * * *}
 * </ul>
 *
 * <p>As in Vixie cron, when both day-of-month and day-of-week are restricted (neither field starts
 * with {@code *}) a day matches if <em>either</em> matches; otherwise both must match.
 *
 * <p>Daylight saving time: fields are matched against the local date-time in the zone of the {@link
 * ZonedDateTime} passed in. A local time skipped by a DST gap does not fire that day; a local time
 * repeated by a DST overlap fires once, at its first (earlier-offset) occurrence.
 *
 * <p>Instances are immutable and thread-safe. {@link #equals} compares the expression text.
 */
public final class Cron {
  /**
   * How far {@link #next} and {@link #previousOrSame} search. 28 years is the period after which
   * dates fall on the same weekdays again within a century, so it covers rare but possible
   * schedules such as "February 29th that is a Tuesday"; schedules that can never fire (such as
   * {@code 0 0 30 2 *}) are recognised up front and do not search at all.
   */
  private static final int HORIZON_YEARS = 28;

  private static final Duration MAX_HORIZON = Duration.ofDays(366L * HORIZON_YEARS);

  private static final Map<String, String> MACROS =
      Map.of(
          "@yearly", "0 0 1 1 *",
          "@annually", "0 0 1 1 *",
          "@monthly", "0 0 1 * *",
          "@weekly", "0 0 * * 0",
          "@daily", "0 0 * * *",
          "@midnight", "0 0 * * *",
          "@hourly", "0 * * * *");

  private static final List<String> MONTH_NAMES =
      List.of("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC");
  private static final List<String> DAY_NAMES =
      List.of("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT");

  private enum Field {
    MINUTE("minute", 0, 59, List.of()),
    HOUR("hour", 0, 23, List.of()),
    DAY_OF_MONTH("day-of-month", 1, 31, List.of()),
    MONTH("month", 1, 12, MONTH_NAMES),
    DAY_OF_WEEK("day-of-week", 0, 7, DAY_NAMES);

    final String label;
    final int min;
    final int max;

    /** Names for the values {@code min}, {@code min + 1}, ... */
    final List<String> names;

    Field(String label, int min, int max, List<String> names) {
      this.label = label;
      this.min = min;
      this.max = max;
      this.names = names;
    }

    String allowed() {
      String range = min + "-" + max;
      if (this == MONTH) {
        return range + " or JAN-DEC";
      }
      if (this == DAY_OF_WEEK) {
        return range + " (0 and 7 are Sunday) or SUN-SAT";
      }
      return range;
    }
  }

  private final String expression;
  private final long minutes;
  private final long hours;
  private final long daysOfMonth;
  private final long months;
  private final long daysOfWeek;
  private final boolean dayOfMonthStar;
  private final boolean dayOfWeekStar;

  private Cron(String original, String text, String[] fields) {
    this.expression = original;
    this.minutes = parseField(text, Field.MINUTE, fields[0]);
    this.hours = parseField(text, Field.HOUR, fields[1]);
    this.daysOfMonth = parseField(text, Field.DAY_OF_MONTH, fields[2]);
    this.months = parseField(text, Field.MONTH, fields[3]);
    long dow = parseField(text, Field.DAY_OF_WEEK, fields[4]);
    if ((dow & (1L << 7)) != 0) {
      dow = (dow & ~(1L << 7)) | 1L;
    }
    this.daysOfWeek = dow;
    this.dayOfMonthStar = fields[2].startsWith("*");
    this.dayOfWeekStar = fields[4].startsWith("*");
  }

  /**
   * Parses a cron expression.
   *
   * @throws IllegalArgumentException naming the offending field, its value and the allowed range
   */
  public static Cron parse(String expression) {
    if (expression == null || expression.isBlank()) {
      throw new IllegalArgumentException(
          "cron expression is empty: use five fields 'minute hour day-of-month month"
              + " day-of-week' (e.g. '0 2 * * *') or a macro such as @daily");
    }
    String text = expression.trim();
    String body = text;
    if (text.startsWith("@")) {
      body = MACROS.get(text.toLowerCase(Locale.ROOT));
      if (body == null) {
        throw new IllegalArgumentException(
            "cron '"
                + text
                + "': unknown macro "
                + text
                + " (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)");
      }
    }
    String[] fields = body.split("\\s+");
    if (fields.length != 5) {
      throw new IllegalArgumentException(
          "cron '"
              + text
              + "' has "
              + fields.length
              + (fields.length == 1 ? " field" : " fields")
              + ", expected 5: minute hour day-of-month month day-of-week (e.g. '0 2 * * *'),"
              + " or a macro such as @daily");
    }
    return new Cron(expression, text, fields);
  }

  private static long parseField(String expression, Field field, String text) {
    long bits = 0;
    for (String part : text.split(",", -1)) {
      bits |= parsePart(expression, field, text, part);
    }
    return bits;
  }

  private static long parsePart(String expression, Field field, String fieldText, String part) {
    if (part.isEmpty()) {
      throw error(expression, field, fieldText, "has an empty list element");
    }
    String rangeText = part;
    int step = 1;
    int slash = part.indexOf('/');
    if (slash >= 0) {
      rangeText = part.substring(0, slash);
      String stepText = part.substring(slash + 1);
      if (!stepText.matches("\\d{1,4}") || Integer.parseInt(stepText) == 0) {
        throw error(
            expression,
            field,
            fieldText,
            "has step '" + stepText + "'; a step must be a whole number of at least 1");
      }
      step = Integer.parseInt(stepText);
    }
    int from;
    int to;
    if (rangeText.equals("*")) {
      from = field.min;
      to = field.max;
    } else {
      int dash = rangeText.indexOf('-');
      if (dash == 0 || dash == rangeText.length() - 1) {
        throw error(
            expression,
            field,
            fieldText,
            "has range '" + rangeText + "' with a missing end; write it as a-b");
      }
      if (dash >= 0) {
        from = value(expression, field, fieldText, rangeText.substring(0, dash));
        to = value(expression, field, fieldText, rangeText.substring(dash + 1));
        if (from > to) {
          throw error(
              expression,
              field,
              fieldText,
              "has range '" + rangeText + "' that runs backwards; write the smaller value first");
        }
      } else {
        from = value(expression, field, fieldText, rangeText);
        to = slash >= 0 ? field.max : from;
      }
    }
    long bits = 0;
    for (int v = from; v <= to; v += step) {
      bits |= 1L << v;
    }
    return bits;
  }

  private static int value(String expression, Field field, String fieldText, String token) {
    int v;
    if (token.matches("\\d{1,9}")) {
      v = Integer.parseInt(token);
    } else {
      v = field.names.indexOf(token.toUpperCase(Locale.ROOT));
      if (v < 0) {
        throw error(
            expression,
            field,
            fieldText,
            "has value '" + token + "' that is not a number; allowed: " + field.allowed());
      }
      v += field.min;
    }
    if (v < field.min || v > field.max) {
      throw error(
          expression,
          field,
          fieldText,
          "has value " + v + " out of range; allowed: " + field.allowed());
    }
    return v;
  }

  private static IllegalArgumentException error(
      String expression, Field field, String fieldText, String problem) {
    return new IllegalArgumentException(
        "cron '" + expression + "': " + field.label + " field '" + fieldText + "' " + problem);
  }

  /**
   * Whether the cron fires in the minute of {@code t}, judged on its local fields in its zone
   * (seconds are ignored). The second occurrence of a local time repeated by a DST overlap does not
   * match, since an ambiguous local time fires only once.
   */
  public boolean matches(ZonedDateTime t) {
    LocalDateTime local = t.toLocalDateTime();
    if (!has(minutes, local.getMinute())
        || !has(hours, local.getHour())
        || !has(months, local.getMonthValue())
        || !dayMatches(local.toLocalDate())) {
      return false;
    }
    return t.getOffset().equals(t.getZone().getRules().getValidOffsets(local).get(0));
  }

  /**
   * The first minute strictly after {@code after} at which the cron fires, in {@code after}'s zone.
   *
   * @throws IllegalStateException if the cron never fires (e.g. {@code 0 0 30 2 *})
   */
  public ZonedDateTime next(ZonedDateTime after) {
    if (!canEverFire()) {
      throw neverFires();
    }
    ZoneId zone = after.getZone();
    Instant afterInstant = after.toInstant();
    LocalDateTime t = after.toLocalDateTime().truncatedTo(ChronoUnit.MINUTES).plusMinutes(1);
    LocalDateTime limit = t.plusYears(HORIZON_YEARS);
    while (t.isBefore(limit)) {
      if (!has(months, t.getMonthValue())) {
        t = t.toLocalDate().withDayOfMonth(1).plusMonths(1).atStartOfDay();
        continue;
      }
      if (!dayMatches(t.toLocalDate())) {
        t = t.toLocalDate().plusDays(1).atStartOfDay();
        continue;
      }
      int hour = nextBit(hours, t.getHour());
      if (hour < 0) {
        t = t.toLocalDate().plusDays(1).atStartOfDay();
        continue;
      }
      if (hour != t.getHour()) {
        t = t.toLocalDate().atTime(hour, 0);
      }
      int minute = nextBit(minutes, t.getMinute());
      if (minute < 0) {
        t = t.truncatedTo(ChronoUnit.HOURS).plusHours(1);
        continue;
      }
      t = t.withMinute(minute);
      Optional<ZonedDateTime> fire = resolve(t, zone);
      if (fire.isPresent() && fire.get().toInstant().isAfter(afterInstant)) {
        return fire.get();
      }
      t = t.plusMinutes(1);
    }
    throw neverFires();
  }

  /**
   * The latest minute at or before {@code at} (truncated to the minute) at which the cron fires, in
   * {@code at}'s zone.
   *
   * @throws IllegalStateException if the cron never fires
   */
  public ZonedDateTime previousOrSame(ZonedDateTime at) {
    if (!canEverFire()) {
      throw neverFires();
    }
    return latestAtOrBefore(at, MAX_HORIZON).orElseThrow(this::neverFires);
  }

  /**
   * The latest minute {@code f} at which the cron fires with {@code at - horizon <= f <= at}
   * ({@code at} truncated to the minute), in {@code at}'s zone; empty if it does not fire in that
   * span. The cost grows with the days in {@code horizon}, not its minutes; horizons beyond 28
   * years are cut to 28 years.
   */
  public Optional<ZonedDateTime> latestAtOrBefore(ZonedDateTime at, Duration horizon) {
    if (horizon.isNegative() || !canEverFire()) {
      return Optional.empty();
    }
    if (horizon.compareTo(MAX_HORIZON) > 0) {
      horizon = MAX_HORIZON;
    }
    ZoneId zone = at.getZone();
    Instant atInstant = at.toInstant().truncatedTo(ChronoUnit.MINUTES);
    Instant lowest = at.toInstant().minus(horizon);
    // With DST, the latest firing at or before `at` may have a later local time than `at` (e.g.
    // 02:30 first occurrence when `at` is 02:10 second occurrence), so start a few hours later in
    // local time and skip candidates after `at`. Firings resolved to the earlier offset are
    // monotonic in local time, so the first one found walking back is the latest.
    LocalDateTime t = at.toLocalDateTime().truncatedTo(ChronoUnit.MINUTES).plusHours(3);
    LocalDateTime limit = LocalDateTime.ofInstant(lowest, zone).minusHours(3);
    while (!t.isBefore(limit)) {
      if (!has(months, t.getMonthValue())) {
        t = t.toLocalDate().withDayOfMonth(1).atStartOfDay().minusMinutes(1);
        continue;
      }
      if (!dayMatches(t.toLocalDate())) {
        t = t.toLocalDate().atStartOfDay().minusMinutes(1);
        continue;
      }
      int hour = previousBit(hours, t.getHour());
      if (hour < 0) {
        t = t.toLocalDate().atStartOfDay().minusMinutes(1);
        continue;
      }
      if (hour != t.getHour()) {
        t = t.toLocalDate().atTime(hour, 59);
      }
      int minute = previousBit(minutes, t.getMinute());
      if (minute < 0) {
        t = t.truncatedTo(ChronoUnit.HOURS).minusMinutes(1);
        continue;
      }
      t = t.withMinute(minute);
      Optional<ZonedDateTime> fire = resolve(t, zone);
      if (fire.isPresent() && !fire.get().toInstant().isAfter(atInstant)) {
        return fire.get().toInstant().isBefore(lowest) ? Optional.empty() : fire;
      }
      t = t.minusMinutes(1);
    }
    return Optional.empty();
  }

  /**
   * The zoned time of a local firing time: empty in a DST gap, the earlier offset in an overlap.
   */
  private static Optional<ZonedDateTime> resolve(LocalDateTime local, ZoneId zone) {
    if (zone instanceof ZoneOffset offset) {
      return Optional.of(ZonedDateTime.ofLocal(local, zone, offset));
    }
    List<ZoneOffset> offsets = zone.getRules().getValidOffsets(local);
    if (offsets.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(ZonedDateTime.ofLocal(local, zone, offsets.get(0)));
  }

  private boolean dayMatches(LocalDate date) {
    boolean dom = has(daysOfMonth, date.getDayOfMonth());
    boolean dow = has(daysOfWeek, date.getDayOfWeek().getValue() % 7);
    return dayOfMonthStar || dayOfWeekStar ? dom && dow : dom || dow;
  }

  /**
   * False only if no calendar date can ever match: that happens when the days of month are the only
   * day restriction and none of them exists in any selected month (e.g. February 30th).
   */
  private boolean canEverFire() {
    if (!dayOfMonthStar && !dayOfWeekStar) {
      return true; // either field may match, and every month has every weekday
    }
    for (int m = 1; m <= 12; m++) {
      if (has(months, m)) {
        int length = Month.of(m).maxLength();
        for (int d = 1; d <= length; d++) {
          if (has(daysOfMonth, d)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  private IllegalStateException neverFires() {
    return new IllegalStateException(
        "cron '"
            + expression
            + "' never fires: no date matches its day-of-month and month fields within "
            + HORIZON_YEARS
            + " years");
  }

  private static boolean has(long bits, int value) {
    return (bits & (1L << value)) != 0;
  }

  /** The smallest set bit at or above {@code from}, or -1. */
  private static int nextBit(long bits, int from) {
    long rest = bits & (-1L << from);
    return rest == 0 ? -1 : Long.numberOfTrailingZeros(rest);
  }

  /** The largest set bit at or below {@code from}, or -1. */
  private static int previousBit(long bits, int from) {
    long rest = from >= 63 ? bits : bits & ((1L << (from + 1)) - 1);
    return rest == 0 ? -1 : 63 - Long.numberOfLeadingZeros(rest);
  }

  /** The expression exactly as given to {@link #parse}. */
  @Override
  public String toString() {
    return expression;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Cron other && other.expression.equals(expression);
  }

  @Override
  public int hashCode() {
    return expression.hashCode();
  }
}
