package io.edgefleet.controller.devices;

import io.edgefleet.controller.common.ControllerException;
import java.time.Instant;
import java.util.Arrays;
import java.util.Comparator;
import java.util.function.Function;

/**
 * The orders a device listing can come in ({@code sort}); a {@code -} before the field reverses it.
 * Devices without a value (never seen, never named, not enrolled) come last either way; ties go by
 * id (ascending in either direction), so pages never overlap.
 */
public enum DeviceOrder {
  /** Enrollment order, the default: when the device first asked to join. */
  CREATED("", false),
  NAME("name", false),
  NAME_DESC("-name", true),
  STATUS("status", false),
  STATUS_DESC("-status", true),
  LAST_SEEN("lastSeen", false),
  LAST_SEEN_DESC("-lastSeen", true),
  ENROLLED_AT("enrolledAt", false),
  ENROLLED_AT_DESC("-enrolledAt", true);

  private final String param;
  private final boolean descending;

  DeviceOrder(String param, boolean descending) {
    this.param = param;
    this.descending = descending;
  }

  /** The value of {@code sort} that asks for this order. */
  public String param() {
    return param;
  }

  /**
   * @throws ControllerException {@code VALIDATION_FAILED} naming the accepted values
   */
  public static DeviceOrder parse(String sort) {
    String s = sort.strip();
    for (DeviceOrder o : values()) {
      if (o != CREATED && o.param.equals(s)) {
        return o;
      }
    }
    throw ControllerException.invalid(
        "sort must be one of "
            + String.join(
                ", ", Arrays.stream(values()).filter(o -> o != CREATED).map(o -> o.param).toList())
            + "; got '"
            + sort
            + "'");
  }

  /** Whether the order needs each device's status (from the health model), not only its row. */
  boolean needsStatus() {
    return this == STATUS || this == STATUS_DESC;
  }

  /** Whether the order needs each device's last contact (from presence). */
  boolean needsLastSeen() {
    return this == LAST_SEEN || this == LAST_SEEN_DESC;
  }

  /** The order over devices, given how to read their last-seen time and status. */
  <T> Comparator<T> comparator(
      Function<T, DeviceRecord> record,
      Function<T, Instant> lastSeen,
      Function<T, DeviceStatus> status) {
    Comparator<T> byValue =
        switch (this) {
          case CREATED ->
              Comparator.comparing(
                  t -> record.apply(t).createdAt(),
                  Comparator.nullsFirst(Comparator.naturalOrder()));
          case NAME, NAME_DESC -> nullsLast(t -> record.apply(t).name());
          case STATUS, STATUS_DESC -> nullsLast(t -> status.apply(t).name());
          case LAST_SEEN, LAST_SEEN_DESC -> nullsLast(lastSeen);
          case ENROLLED_AT, ENROLLED_AT_DESC -> nullsLast(t -> record.apply(t).enrolledAt());
        };
    Comparator<T> byId = Comparator.comparing(t -> record.apply(t).id());
    return byValue.thenComparing(byId);
  }

  /** Values in this direction, absent values last in either. */
  private <T, V extends Comparable<? super V>> Comparator<T> nullsLast(Function<T, V> value) {
    Comparator<V> natural = Comparator.naturalOrder();
    return Comparator.comparing(
        value, Comparator.nullsLast(descending ? natural.reversed() : natural));
  }
}
