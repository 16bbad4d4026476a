package io.edgefleet.agent;

import io.edgefleet.device.link.ControllerLink;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * The JDK WebSocket under the agent's {@link ControllerLink}: whole text messages in, sends out,
 * the socket's close and errors reported to the link.
 */
final class WebSocketTransport implements WebSocket.Listener, ControllerLink.Transport {
  private final ControllerLink link;

  /** The largest binary message taken (a tunnel frame is at most 16 KiB and 6 bytes). */
  private static final int MAX_BINARY = 64 * 1024;

  private final StringBuilder partial = new StringBuilder();
  private final java.io.ByteArrayOutputStream partialBinary = new java.io.ByteArrayOutputStream();
  private boolean binaryTooLarge;
  private volatile WebSocket ws;

  WebSocketTransport(ControllerLink link) {
    this.link = link;
  }

  @Override
  public void onOpen(WebSocket webSocket) {
    ws = webSocket;
    link.opened(this);
    webSocket.request(1);
  }

  @Override
  public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
    link.heard();
    partial.append(data);
    if (last) {
      String text = partial.toString();
      partial.setLength(0);
      link.received(text);
    }
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
    link.heard();
    if (!binaryTooLarge && partialBinary.size() + data.remaining() <= MAX_BINARY) {
      byte[] b = new byte[data.remaining()];
      data.get(b);
      partialBinary.writeBytes(b);
    } else {
      binaryTooLarge = true; // Skipped to its end: no message of the protocol is that large.
    }
    if (last) {
      byte[] message = partialBinary.toByteArray();
      boolean skip = binaryTooLarge;
      partialBinary.reset();
      binaryTooLarge = false;
      if (!skip) {
        link.receivedBinary(ByteBuffer.wrap(message));
      }
    }
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
    link.closedBy(statusCode, reason == null ? "" : reason);
    return null;
  }

  @Override
  public void onError(WebSocket webSocket, Throwable error) {
    link.closedBy(1006, LinkProblem.of(error, "the controller").message());
  }

  @Override
  public CompletionStage<?> sendText(String text) {
    return ws.sendText(text, true);
  }

  @Override
  public CompletionStage<?> sendBinary(byte[] message) {
    return ws.sendBinary(ByteBuffer.wrap(message), true);
  }

  @Override
  public void close(int code, String reason) {
    WebSocket w = ws;
    w.sendClose(code, reason).orTimeout(2, TimeUnit.SECONDS).whenComplete((x, e) -> w.abort());
  }

  @Override
  public void abort() {
    WebSocket w = ws;
    if (w != null) {
      w.abort();
    }
  }
}
