package io.edgefleet.controller.alerts;

import com.fasterxml.jackson.annotation.JsonValue;
import io.edgefleet.controller.common.ControllerException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The body a webhook receiver gets. */
public enum ReceiverFormat {
  /** edgefleet's own JSON: {@code {version, status, alert{…}}}. */
  GENERIC("generic"),
  /** A Slack incoming webhook: {@code {text, blocks}}. */
  SLACK("slack"),
  /** What Alertmanager sends to its webhook receivers: {@code {version: "4", status, alerts[]}}. */
  ALERTMANAGER("alertmanager");

  private final String id;

  ReceiverFormat(String id) {
    this.id = id;
  }

  @JsonValue
  public String id() {
    return id;
  }

  /**
   * @throws ControllerException {@code VALIDATION_FAILED} naming the known formats
   */
  public static ReceiverFormat parse(String text) {
    if (text == null || text.isBlank()) {
      return GENERIC;
    }
    String t = text.trim().toLowerCase(Locale.ROOT);
    for (ReceiverFormat f : values()) {
      if (f.id.equals(t)) {
        return f;
      }
    }
    throw ControllerException.invalid(
        "unknown receiver format '"
            + text
            + "': use one of "
            + Arrays.stream(values()).map(ReceiverFormat::id).collect(Collectors.joining(", ")));
  }
}
