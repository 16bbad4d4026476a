package io.edgefleet.controller.replicas;

import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;

/**
 * An operator's WebSocket relayed to the same WebSocket opened on the replica that holds the
 * device: messages go both ways as they are (binary as binary, text as text), and a close on either
 * side closes the other with the same code and reason.
 *
 * <p>Flow control both ways, one message in flight each way: the next frame from the operator is
 * read only once the previous one was sent to the other replica, and the next message from the
 * other replica is asked for only once the previous one left the operator's socket. So a slow side
 * makes the other wait instead of filling memory.
 *
 * <p>The upstream socket is opened first (its listener is {@link #upstream()}) and asks for nothing
 * until the operator's socket is open.
 */
final class SocketRelay implements FrameHandler {
  /** The largest text message relayed (tunnel control messages are far smaller). */
  static final int MAX_TEXT = 64 * 1024;

  private final Upstream listener = new Upstream();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile CoreSession session;
  private volatile WebSocket upstream;
  private StringBuilder text;
  private byte messageType = OpCode.UNDEFINED;

  /** The listener to open the upstream socket with. */
  WebSocket.Listener upstream() {
    return listener;
  }

  /** Sets the upstream socket once it is open. */
  void joined(WebSocket socket) {
    this.upstream = socket;
  }

  @Override
  public void onOpen(CoreSession s, Callback callback) {
    session = s;
    s.setMaxFrameSize(64 * 1024);
    s.setMaxTextMessageSize(MAX_TEXT);
    // The holder's session keeps its own idle deadline and ends this one through the close.
    s.setIdleTimeout(java.time.Duration.ZERO);
    callback.succeeded();
    upstream.request(1);
    s.demand();
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
        CloseStatus status = new CloseStatus(frame.getPayload());
        closeUpstream(status.getCode(), status.getReason());
        callback.succeeded();
      }
      default -> callback.failed(new IllegalStateException("unexpected frame " + frame));
    }
  }

  private void data(Frame frame, Callback callback) {
    CoreSession s = session;
    ByteBuffer p = frame.getPayload();
    byte[] bytes = new byte[p == null ? 0 : p.remaining()];
    if (p != null) {
      p.get(bytes);
    }
    CompletableFuture<WebSocket> sent;
    if (messageType == OpCode.TEXT) {
      // Text goes on whole: a frame may end inside a character, a message may not.
      if (text == null) {
        text = new StringBuilder();
      }
      text.append(new String(bytes, StandardCharsets.UTF_8));
      if (text.length() > MAX_TEXT) {
        callback.failed(new IllegalArgumentException("a text message has at most 64 KiB"));
        return;
      }
      if (!frame.isFin()) {
        callback.succeeded();
        s.demand();
        return;
      }
      String whole = text.toString();
      text = null;
      sent = upstream.sendText(whole, true);
    } else {
      sent = upstream.sendBinary(ByteBuffer.wrap(bytes), frame.isFin());
    }
    sent.whenComplete(
        (ws, failure) -> {
          if (failure != null) {
            callback.failed(failure);
            return;
          }
          callback.succeeded();
          s.demand();
        });
  }

  @Override
  public void onError(Throwable cause, Callback callback) {
    WebSocket u = upstream;
    if (u != null) {
      u.abort();
    }
    callback.succeeded();
  }

  @Override
  public void onClosed(CloseStatus closeStatus, Callback callback) {
    closeUpstream(closeStatus.getCode(), closeStatus.getReason());
    callback.succeeded();
  }

  private void closeUpstream(int code, String reason) {
    WebSocket u = upstream;
    if (u == null || u.isOutputClosed()) {
      return;
    }
    u.sendClose(sendable(code), reason == null ? "" : reason)
        .whenComplete(
            (ws, failure) -> {
              if (failure != null) {
                u.abort();
              }
            });
  }

  /** Codes that only report what happened (no status, abnormal end) cannot be sent. */
  private static int sendable(int code) {
    return switch (code) {
      case CloseStatus.NO_CODE, CloseStatus.NO_CLOSE, CloseStatus.FAILED_TLS_HANDSHAKE ->
          CloseStatus.NORMAL;
      default -> code < 1000 || code > 4999 ? CloseStatus.SERVER_ERROR : code;
    };
  }

  /** The other replica's side: each message to the operator, then the next is asked for. */
  private final class Upstream implements WebSocket.Listener {
    private boolean inMessage;

    @Override
    public void onOpen(WebSocket webSocket) {
      // Nothing is asked for until the operator's socket is open (see SocketRelay#onOpen).
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      byte[] copy = new byte[data.remaining()];
      data.get(copy);
      return toOperator(OpCode.BINARY, ByteBuffer.wrap(copy), last, webSocket);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      // The listener is given whole characters, so each part is valid UTF-8 on its own.
      ByteBuffer bytes = StandardCharsets.UTF_8.encode(data.toString());
      return toOperator(OpCode.TEXT, bytes, last, webSocket);
    }

    private CompletionStage<?> toOperator(
        byte type, ByteBuffer payload, boolean last, WebSocket webSocket) {
      byte opCode = inMessage ? OpCode.CONTINUATION : type;
      inMessage = !last;
      CompletableFuture<Void> sent = new CompletableFuture<>();
      CoreSession s = session;
      if (s == null || !s.isOutputOpen()) {
        webSocket.abort();
        sent.complete(null);
        return sent;
      }
      s.sendFrame(
          new Frame(opCode, last, payload),
          Callback.from(
              () -> {
                sent.complete(null);
                webSocket.request(1);
              },
              failure -> {
                sent.complete(null);
                webSocket.abort();
              }),
          false);
      return sent;
    }

    @Override
    public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
      // The JDK answers the ping itself.
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onPong(WebSocket webSocket, ByteBuffer message) {
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      CoreSession s = session;
      if (s != null && closed.compareAndSet(false, true)) {
        s.close(sendable(statusCode), reason, Callback.NOOP);
      }
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      CoreSession s = session;
      if (s != null && closed.compareAndSet(false, true)) {
        s.close(
            CloseStatus.SERVER_ERROR,
            "the replica holding the device went away: " + error.getClass().getSimpleName(),
            Callback.NOOP);
      }
    }
  }
}
