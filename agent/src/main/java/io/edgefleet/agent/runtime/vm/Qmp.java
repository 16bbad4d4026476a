package io.edgefleet.agent.runtime.vm;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.json.JsonCodecException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * One QEMU Machine Protocol exchange over a VM's QMP socket: connect, read the greeting, leave
 * capabilities negotiation, run one command and read its answer (events in between are skipped).
 * Every exchange is bounded by its timeout, and by the size of one message. Not thread-safe: one
 * exchange per instance.
 */
final class Qmp {
  private static final int MAX_LINE = 64 * 1024;

  /** QEMU refused the command, or the socket could not be used in time. */
  static final class QmpException extends Exception {
    QmpException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private Qmp() {}

  /**
   * Runs {@code command} ({@code query-status}, {@code system_powerdown}, {@code quit}) on the QMP
   * socket and answers its {@code return} value.
   *
   * @throws QmpException when the socket cannot be reached, QEMU answers an error, or no answer
   *     arrives within {@code timeout}
   */
  static JsonNode execute(Path socket, String command, Duration timeout) throws QmpException {
    return execute(socket, command, Map.of(), timeout);
  }

  /** Like {@link #execute(Path, String, Duration)}, with the command's arguments. */
  static JsonNode execute(
      Path socket, String command, Map<String, Object> arguments, Duration timeout)
      throws QmpException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        Selector selector = Selector.open()) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      ch.configureBlocking(false);
      ch.register(selector, SelectionKey.OP_READ);
      Reader reader = new Reader(ch, selector, deadline);
      JsonNode greeting = reader.message();
      if (!greeting.has("QMP")) {
        throw new QmpException("not a QMP greeting: " + abbreviate(greeting.toString()), null);
      }
      send(ch, "qmp_capabilities", Map.of());
      answer(reader, "qmp_capabilities");
      send(ch, command, arguments);
      return answer(reader, command);
    } catch (IOException e) {
      throw new QmpException("QMP socket " + socket + ": " + e.getMessage(), e);
    }
  }

  private static JsonNode answer(Reader reader, String command) throws IOException, QmpException {
    while (true) {
      JsonNode m = reader.message();
      if (m.has("return")) {
        return m.get("return");
      }
      if (m.has("error")) {
        throw new QmpException(
            command + ": " + m.path("error").path("desc").asText("QEMU refused it"), null);
      }
      // An asynchronous event (SHUTDOWN, POWERDOWN, ...): not the answer.
    }
  }

  private static void send(SocketChannel ch, String command, Map<String, Object> arguments)
      throws IOException {
    Map<String, Object> message =
        arguments.isEmpty()
            ? Map.of("execute", command)
            : Map.of("execute", command, "arguments", arguments);
    ByteBuffer b =
        ByteBuffer.wrap((JsonCodec.write(message) + "\n").getBytes(StandardCharsets.UTF_8));
    while (b.hasRemaining()) {
      // A few bytes into an empty socket buffer: never blocks for long, even non-blocking.
      ch.write(b);
    }
  }

  private static String abbreviate(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  /** Reads newline-delimited JSON messages until the deadline. */
  private static final class Reader {
    private final SocketChannel ch;
    private final Selector selector;
    private final long deadline;
    private final ByteBuffer buf = ByteBuffer.allocate(8192);
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    Reader(SocketChannel ch, Selector selector, long deadline) {
      this.ch = ch;
      this.selector = selector;
      this.deadline = deadline;
      buf.flip();
    }

    JsonNode message() throws IOException, QmpException {
      while (true) {
        while (buf.hasRemaining()) {
          byte b = buf.get();
          if (b == '\n') {
            byte[] bytes = line.toByteArray();
            line.reset();
            try {
              return JsonCodec.readTree(bytes);
            } catch (JsonCodecException e) {
              throw new QmpException("QEMU sent something that is not JSON", e);
            }
          }
          if (line.size() >= MAX_LINE) {
            throw new QmpException("a QMP message is longer than " + MAX_LINE + " bytes", null);
          }
          line.write(b);
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new QmpException("QEMU did not answer in time", null);
        }
        selector.select(Math.max(1, left / 1_000_000));
        selector.selectedKeys().clear();
        buf.clear();
        int n = ch.read(buf);
        buf.flip();
        if (n < 0) {
          throw new QmpException("QEMU closed the QMP socket", null);
        }
      }
    }
  }
}
