package io.edgefleet.controller.shell;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.tunnels.SocketBridge;
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
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;

/**
 * An operator's terminal joined to a device's {@code shell} stream, like the tunnels' {@link
 * SocketBridge} (binary messages are the terminal's bytes both ways, text messages CONTROL JSON,
 * {@code {"eof": true}} ends the input, the same close codes), and recording what the terminal
 * showed: every chunk from the device is written to the session's asciicast before it is sent on,
 * every resize the operator asks for is recorded, and the recording ends with the shell's exit
 * status or the reason the stream ended ("link lost" when the device's connection went).
 */
final class ShellBridge implements FrameHandler {
  private final TunnelStream stream;
  private final Recordings.Recorder recorder;
  private final AtomicReference<Integer> exit = new AtomicReference<>();
  private volatile CoreSession session;
  private StringBuilder text;
  private byte messageType = OpCode.UNDEFINED;

  ShellBridge(TunnelStream stream, Recordings.Recorder recorder) {
    this.stream = stream;
    this.recorder = recorder;
    stream
        .ended()
        .whenComplete(
            (how, error) -> {
              Integer code = exit.get();
              String reason;
              if (how == null) {
                reason = "ended";
              } else if (how.clean()) {
                reason = code == null ? "closed" : "the shell exited with status " + code;
              } else {
                reason = how.code().name() + ": " + how.message();
              }
              recorder.finish(code, reason);
            });
  }

  @Override
  public void onOpen(CoreSession s, Callback callback) {
    session = s;
    s.setMaxFrameSize(64 * 1024);
    s.setMaxTextMessageSize(TunnelFrame.MAX_JSON);
    s.setMaxBinaryMessageSize(0);
    s.setIdleTimeout(java.time.Duration.ZERO);
    stream.onControl(this::fromDevice);
    Thread.ofVirtual().name("edgefleet-shell-down").start(this::down);
    callback.succeeded();
    s.demand();
  }

  private void fromDevice(JsonNode message) {
    if (message.has("exit") && message.get("exit").canConvertToInt()) {
      exit.set(message.get("exit").asInt());
    }
    CoreSession s = session;
    if (s != null && s.isOutputOpen()) {
      s.sendFrame(
          new Frame(OpCode.TEXT, true, ByteBuffer.wrap(Json.writeBytes(message))),
          Callback.NOOP,
          false);
    }
  }

  /** The terminal's output to the recording and the operator, then the close frame. */
  private void down() {
    InputStream in = stream.input();
    byte[] buf = new byte[TunnelFrame.MAX_DATA];
    try {
      int n;
      while ((n = in.read(buf)) >= 0) {
        if (n > 0) {
          recorder.output(buf, 0, n);
          send(new Frame(OpCode.BINARY, true, ByteBuffer.wrap(buf.clone(), 0, n)));
        }
      }
      // The device's end is done: the shell exited. Nothing more goes to it either, so the
      // stream ends cleanly even while the operator's terminal is still open.
      stream.closeOutput();
      close(stream.ended().get(1, TimeUnit.DAYS));
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

  private void close(TunnelStream.Ended how) {
    CoreSession s = session;
    if (s == null || !s.isOutputOpen()) {
      return;
    }
    if (how == null || how.clean()) {
      s.close(CloseStatus.NORMAL, "closed", Callback.NOOP);
      return;
    }
    String r = how.code().name() + ": " + how.message();
    byte[] b = r.getBytes(StandardCharsets.UTF_8);
    if (b.length > 120) {
      r = new String(b, 0, 117, StandardCharsets.UTF_8).replace("\uFFFD", "") + "...";
    }
    s.close(SocketBridge.closeCode(how.code()), r, Callback.NOOP);
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
        // The operator left: the shell's session ends (the agent kills its process group).
        stream.reset(ErrorCode.TUNNEL_CLOSED, "the operator closed the terminal");
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
      if (text.length() > TunnelFrame.MAX_JSON) {
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
    JsonNode r = msg.path("resize");
    if (r.isObject()) {
      int cols = r.path("cols").asInt(-1);
      int rows = r.path("rows").asInt(-1);
      if (cols < 1 || rows < 1 || cols > 1000 || rows > 1000) {
        return; // a window the agent would refuse is not recorded either
      }
      recorder.resize(cols, rows);
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
    if (!stream.ended().isDone()) {
      stream.reset(ErrorCode.TUNNEL_CLOSED, "the operator closed the terminal");
    }
    callback.succeeded();
  }
}
