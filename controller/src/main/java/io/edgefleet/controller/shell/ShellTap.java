package io.edgefleet.controller.shell;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.tunnels.SocketBridge;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What a shell session's {@link SocketBridge} shows the recording: every chunk from the device is
 * written to the session's asciicast before it is sent on, every resize the operator asks for is
 * recorded (a window the agent would refuse is neither recorded nor sent), and the recording ends
 * with the shell's exit status or the reason the stream ended ("link lost" when the device's
 * connection went). The stream is a terminal: closing it ends the shell.
 */
final class ShellTap implements SocketBridge.Observer {
  private final Recordings.Recorder recorder;
  private final AtomicReference<Integer> exit = new AtomicReference<>();

  ShellTap(TunnelStream stream, Recordings.Recorder recorder) {
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
  public void output(byte[] bytes, int offset, int length) {
    recorder.output(bytes, offset, length);
  }

  @Override
  public void fromDevice(JsonNode message) {
    if (message.has("exit") && message.get("exit").canConvertToInt()) {
      exit.set(message.get("exit").asInt());
    }
  }

  @Override
  public boolean fromOperator(JsonNode message) {
    JsonNode r = message.path("resize");
    if (r.isObject()) {
      int cols = r.path("cols").asInt(-1);
      int rows = r.path("rows").asInt(-1);
      if (cols < 1 || rows < 1 || cols > 1000 || rows > 1000) {
        return false;
      }
      recorder.resize(cols, rows);
    }
    return true;
  }

  @Override
  public boolean terminal() {
    return true;
  }
}
