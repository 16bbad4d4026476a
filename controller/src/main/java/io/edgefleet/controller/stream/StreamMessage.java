package io.edgefleet.controller.stream;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One server-sent event: its name, an optional id and one line of JSON.
 *
 * @param topic the topic it belongs to; null for messages every stream gets ({@code hello})
 * @param id the {@code id:} field, or null
 * @param deviceTags for a message about one device, the device's tags (streams of callers confined
 *     to projects get it only when one of their projects picks the device); null otherwise
 * @param scoped for a message about the whole fleet that can be told for some devices only (the
 *     summary), what it says of the devices a predicate over tags accepts; null otherwise
 */
public record StreamMessage(
    Topic topic,
    String event,
    String id,
    String data,
    Map<String, String> deviceTags,
    Function<Predicate<Map<String, String>>, String> scoped) {

  /** A message about no one device. */
  public StreamMessage(Topic topic, String event, String id, String data) {
    this(topic, event, id, data, null, null);
  }

  /** A message about one device. */
  public StreamMessage(
      Topic topic, String event, String id, String data, Map<String, String> deviceTags) {
    this(topic, event, id, data, deviceTags, null);
  }

  /** This message as told to a caller that sees only the devices {@code visible} accepts. */
  StreamMessage scopedTo(Predicate<Map<String, String>> visible) {
    return new StreamMessage(topic, event, id, scoped.apply(visible), null, null);
  }

  /** The message as it goes on the wire: {@code event:}, {@code id:}, {@code data:}, blank line. */
  public byte[] bytes() {
    StringBuilder b = new StringBuilder(data.length() + 64);
    b.append("event: ").append(event).append('\n');
    if (id != null) {
      b.append("id: ").append(id).append('\n');
    }
    b.append("data: ").append(data).append("\n\n");
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }
}
