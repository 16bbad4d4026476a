package io.edgefleet.controller.tunnels;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tunnel.TunnelException;
import io.edgefleet.protocol.tunnel.TunnelFrame;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;

/**
 * An operator's WebSocket joined to a tunnel stream: binary messages are the stream's bytes both
 * ways, text messages are its CONTROL JSON objects both ways ({@code {"eof": true}} from the
 * operator closes the stream's output to the device, like a half-closed TCP connection). The socket
 * ends with a close frame: 1000 when the stream ended cleanly, otherwise {@code 4000 + the error
 * code's HTTP status} with {@code CODE: message} as its reason.
 *
 * <p>Flow control both ways: the next frame from the operator is read only once the previous one
 * was written to the stream (which waits for the device's window), and the next chunk from the
 * device is read only once the previous one left the socket.
 */
public final class SocketBridge implements FrameHandler {
  private static final int MAX_TEXT = TunnelFrame.MAX_JSON;

  private final TunnelStream stream;
  private final Observer observer;
  private volatile CoreSession session;
  private StringBuilder text;
  private byte messageType = OpCode.UNDEFINED;

  /**
   * What a feature sees of a bridged stream (a shell's recording), and how its ends behave.
   *
   * <p>A <em>terminal</em> is interactive: when the operator closes its socket the device's end is
   * reset at once (the agent ends the shell), and when the device's end is done (the shell exited)
   * the stream is over both ways. Otherwise the bridge behaves like a TCP connection: each side
   * half-closes, and the stream ends cleanly once both did.
   */
  public interface Observer {
    /** Bytes from the device, before they go to the operator. */
    default void output(byte[] bytes, int offset, int length) {}

    /** A CONTROL message from the device, before it goes to the operator. */
    default void fromDevice(JsonNode message) {}

    /**
     * A CONTROL message from the operator.
     *
     * @return whether it goes on to the device
     */
    default boolean fromOperator(JsonNode message) {
      return true;
    }

    /** Whether the stream is a terminal (see the interface). */
    default boolean terminal() {
      return false;
    }
  }

  private static final Observer PLAIN = new Observer() {};

  public SocketBridge(TunnelStream stream) {
    this(stream, PLAIN);
  }

  public SocketBridge(TunnelStream stream, Observer observer) {
    this.stream = stream;
    this.observer = observer;
  }

  @Override
  public void onOpen(CoreSession s, Callback callback) {
    session = s;
    s.setMaxFrameSize(64 * 1024);
    s.setMaxTextMessageSize(MAX_TEXT);
    s.setIdleTimeout(java.time.Duration.ZERO); // the stream's idle timeout applies
    stream.onControl(this::sendControl);
    Thread.ofVirtual().name("edgefleet-tunnel-down").start(this::down);
    callback.succeeded();
    s.demand();
  }

  /** The device's bytes to the operator, then the close frame. */
  private void down() {
    InputStream in = stream.input();
    byte[] buf = new byte[TunnelFrame.MAX_DATA];
    try {
      int n;
      while ((n = in.read(buf)) >= 0) {
        if (n > 0) {
          observer.output(buf, 0, n);
          send(new Frame(OpCode.BINARY, true, ByteBuffer.wrap(buf.clone(), 0, n)));
        }
      }
      // The device is done sending; the stream ends cleanly once the operator is done too. A
      // terminal whose device end is done (the shell exited) takes nothing more either.
      if (observer.terminal()) {
        stream.closeOutput();
      }
      TunnelStream.Ended how = stream.ended().get(1, TimeUnit.DAYS);
      close(how);
    } catch (TunnelException e) {
      close(stream.ended().getNow(new TunnelStream.Ended(e.code(), e.getMessage(), false)));
    } catch (IOException | RuntimeException | java.util.concurrent.ExecutionException e) {
      stream.reset(ErrorCode.TUNNEL_CLOSED, "the operator's connection failed: " + e.getMessage());
      close(stream.ended().getNow(null));
    } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
      stream.reset(ErrorCode.TUNNEL_CLOSED, "the bridge was stopped");
    }
  }

  private void send(Frame frame) throws IOException {
    CoreSession s = session;
    if (!s.isOutputOpen()) {
      throw new IOException("the operator's connection is closed");
    }
    CompletableFuture<Void> sent = new CompletableFuture<>();
    s.sendFrame(
        frame, Callback.from(() -> sent.complete(null), sent::completeExceptionally), false);
    try {
      sent.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IOException(e.getCause());
    }
  }

  private void sendControl(JsonNode message) {
    observer.fromDevice(message);
    CoreSession s = session;
    if (s != null && s.isOutputOpen()) {
      s.sendFrame(
          new Frame(OpCode.TEXT, true, ByteBuffer.wrap(Json.writeBytes(message))),
          Callback.NOOP,
          false);
    }
  }

  private void close(TunnelStream.Ended how) {
    CoreSession s = session;
    if (s == null || !s.isOutputOpen()) {
      return;
    }
    if (how == null || how.clean()) {
      s.close(CloseStatus.NORMAL, "closed", Callback.NOOP);
      return;
    }
    s.close(closeCode(how.code()), reason(how), Callback.NOOP);
  }

  /** The close code of a stream reset with {@code code}: 4000 plus its HTTP status. */
  public static int closeCode(ErrorCode code) {
    return 4000 + code.httpStatus();
  }

  private static String reason(TunnelStream.Ended how) {
    String r = how.code().name() + ": " + how.message();
    byte[] b = r.getBytes(StandardCharsets.UTF_8);
    if (b.length <= 120) {
      return r;
    }
    // A close reason has at most 123 bytes.
    return new String(b, 0, 117, StandardCharsets.UTF_8).replace("\uFFFD", "") + "...";
  }

  @Override
  public void onFrame(Frame frame, Callback callback) {
    CoreSession s = session;
    switch (frame.getOpCode()) {
      case OpCode.BINARY, OpCode.TEXT -> {
        messageType = frame.getOpCode();
        data(frame, callback);
      }
      case OpCode.CONTINUATION -> data(frame, callback);
      case OpCode.PING -> {
        s.sendFrame(new Frame(OpCode.PONG, true, frame.getPayload()), Callback.NOOP, false);
        callback.succeeded();
        s.demand();
      }
      case OpCode.PONG -> {
        callback.succeeded();
        s.demand();
      }
      case OpCode.CLOSE -> {
        // The operator is done: nothing more goes to the device; a terminal's device end ends.
        if (observer.terminal()) {
          stream.reset(ErrorCode.TUNNEL_CLOSED, "the operator closed the terminal");
        } else {
          stream.closeOutput();
        }
        callback.succeeded();
      }
      default -> callback.failed(new IllegalStateException("unexpected frame " + frame));
    }
  }

  private void data(Frame frame, Callback callback) {
    CoreSession s = session;
    if (messageType == OpCode.TEXT) {
      if (text == null) {
        text = new StringBuilder();
      }
      text.append(StandardCharsets.UTF_8.decode(frame.getPayload()));
      if (text.length() > MAX_TEXT) {
        callback.failed(new IllegalArgumentException("a control message has at most 8 KiB"));
        return;
      }
      if (frame.isFin()) {
        String t = text.toString();
        text = null;
        control(t);
      }
      callback.succeeded();
      s.demand();
      return;
    }
    ByteBuffer p = frame.getPayload();
    byte[] bytes = new byte[p == null ? 0 : p.remaining()];
    if (p != null) {
      p.get(bytes);
    }
    // Written on a thread of its own (the write waits for the device's window); the next frame is
    // read only then.
    Thread.ofVirtual()
        .start(
            () -> {
              try {
                stream.output().write(bytes);
                stream.output().flush();
                callback.succeeded();
                s.demand();
              } catch (IOException e) {
                callback.succeeded();
                // The stream ended; down() closes the socket with its reason.
              }
            });
  }

  private void control(String t) {
    JsonNode msg;
    try {
      msg = Json.mapper().readTree(t);
    } catch (IOException e) {
      msg = null;
    }
    if (msg == null || !msg.isObject()) {
      stream.reset(ErrorCode.INVALID_JSON, "a text message must be a JSON object");
      return;
    }
    if (msg.path("eof").asBoolean(false)) {
      stream.closeOutput();
      return;
    }
    if (!observer.fromOperator(msg)) {
      return;
    }
    try {
      stream.control(msg);
    } catch (TunnelException e) {
      // The stream ended; down() closes the socket with its reason.
    }
  }

  @Override
  public void onError(Throwable cause, Callback callback) {
    stream.reset(
        ErrorCode.TUNNEL_CLOSED, "the operator's connection failed: " + cause.getMessage());
    callback.succeeded();
  }

  @Override
  public void onClosed(CloseStatus closeStatus, Callback callback) {
    if (!stream.ended().isDone() && observer.terminal()) {
      stream.reset(ErrorCode.TUNNEL_CLOSED, "the operator closed the terminal");
    } else if (!stream.ended().isDone()) {
      // Given a moment to finish cleanly (the device's FIN after the operator's), else reset.
      stream.closeOutput();
      CompletableFuture.delayedExecutor(5, TimeUnit.SECONDS)
          .execute(
              () ->
                  stream.reset(
                      ErrorCode.TUNNEL_CLOSED,
                      "the operator closed the connection before the device's end was done"));
    }
    callback.succeeded();
  }
}
