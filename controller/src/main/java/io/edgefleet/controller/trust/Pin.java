package io.edgefleet.controller.trust;

import java.time.Instant;
import java.util.Map;

/**
 * Measurements pinned as the reference of every device of a hardware model or with a tag.
 *
 * @param scope {@code model} or {@code tag}
 * @param key the model, or the tag key
 * @param value the tag value; empty for a model
 * @param eventLog base64 of the event log, or null
 * @param sourceDevice the device whose measurements were pinned
 */
public record Pin(
    String id,
    String scope,
    String key,
    String value,
    Map<Integer, String> pcrs,
    String eventLog,
    String sourceDevice,
    String createdBy,
    Instant createdAt) {
  public static final String MODEL = "model";
  public static final String TAG = "tag";

  /** What it matches, for people: {@code model Pi 5} or {@code tag site=berlin}. */
  public String describe() {
    return MODEL.equals(scope) ? "model " + key : "tag " + key + "=" + value;
  }
}
