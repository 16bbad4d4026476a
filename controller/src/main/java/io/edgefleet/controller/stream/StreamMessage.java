package io.edgefleet.controller.stream;

import java.nio.charset.StandardCharsets;

/**
 * One server-sent event: its name, an optional id and one line of JSON.
 *
 * @param topic the topic it belongs to; null for messages every stream gets ({@code hello})
 * @param id the {@code id:} field, or null
 */
public record StreamMessage(Topic topic, String event, String id, String data) {

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
