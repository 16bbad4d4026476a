package io.edgefleet.controller.shell;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;

/**
 * Writes one terminal session as asciicast v2: a header line ({@code version}, {@code width},
 * {@code height}, {@code timestamp}), then one JSON array per event: {@code [seconds, "o", text]}
 * for output and {@code [seconds, "r", "COLSxROWS"]} for a resize, the seconds counted from the
 * start on the given clock. Output is decoded as UTF-8 across chunk boundaries (a character split
 * between two chunks is written whole with the second). At most {@code maxBytes} are written; the
 * event that would pass the bound is left out, a last output event says the recording was cut, and
 * nothing more is written. Not thread-safe: the caller serialises.
 */
public final class Asciicast implements AutoCloseable {
  /** Bytes kept back for the line that says the recording was cut. */
  private static final int TRAILER = 200;

  private final OutputStream out;
  private final Clock clock;
  private final Instant start;
  private final long maxBytes;
  private final CharsetDecoder decoder =
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPLACE)
          .onUnmappableCharacter(CodingErrorAction.REPLACE);
  private ByteBuffer pending = ByteBuffer.allocate(0);
  private long written;
  private boolean truncated;

  /**
   * Starts a recording and writes its header.
   *
   * @param maxBytes the most bytes of the whole recording, at least 1 KiB
   */
  public Asciicast(OutputStream out, Clock clock, int cols, int rows, String term, long maxBytes)
      throws IOException {
    if (maxBytes < 1024) {
      throw new IllegalArgumentException("a recording needs at least 1 KiB");
    }
    this.out = out;
    this.clock = clock;
    this.start = clock.instant();
    this.maxBytes = maxBytes;
    ObjectNode header = JsonNodeFactory.instance.objectNode();
    header.put("version", 2);
    header.put("width", cols);
    header.put("height", rows);
    header.put("timestamp", start.getEpochSecond());
    if (term != null) {
      header.putObject("env").put("TERM", term);
    }
    line(Json.mapper().writeValueAsBytes(header));
  }

  /** Records output the terminal showed. */
  public void output(byte[] data, int off, int len) throws IOException {
    if (truncated || len == 0) {
      return;
    }
    ByteBuffer in = ByteBuffer.allocate(pending.remaining() + len);
    in.put(pending).put(data, off, len).flip();
    CharBuffer chars = CharBuffer.allocate(in.remaining() + 1);
    decoder.decode(in, chars, false);
    chars.flip();
    pending = ByteBuffer.allocate(in.remaining());
    pending.put(in).flip();
    if (chars.hasRemaining()) {
      event("o", chars.toString());
    }
  }

  /** Records a window resize. */
  public void resize(int cols, int rows) throws IOException {
    if (!truncated) {
      event("r", cols + "x" + rows);
    }
  }

  private void event(String type, String data) throws IOException {
    double t = (clock.millis() - start.toEpochMilli()) / 1000.0;
    ArrayNode e = JsonNodeFactory.instance.arrayNode();
    e.add(Math.max(0, t)).add(type).add(data);
    byte[] line = Json.mapper().writeValueAsBytes(e);
    if (written + line.length + 1 > maxBytes - TRAILER) {
      truncated = true;
      ArrayNode cut = JsonNodeFactory.instance.arrayNode();
      cut.add(Math.max(0, t))
          .add("o")
          .add(
              "\r\n[edgefleet: the recording was cut here: it reached " + maxBytes + " bytes]\r\n");
      line(Json.mapper().writeValueAsBytes(cut));
      out.flush();
      return;
    }
    line(line);
  }

  private void line(byte[] bytes) throws IOException {
    out.write(bytes);
    out.write('\n');
    written += bytes.length + 1;
  }

  /** Bytes written so far. */
  public long bytes() {
    return written;
  }

  /** Whether the bound was reached and the rest of the session is not recorded. */
  public boolean truncated() {
    return truncated;
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
