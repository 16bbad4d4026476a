package io.edgefleet.agent.tunnel;

import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tunnel.TunnelException;
import io.edgefleet.protocol.tunnel.TunnelMux;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.PrintStream;
import java.util.Map;
import java.util.TreeSet;

/**
 * The device's end of the tunnels: takes each stream the controller opens and runs the handler of
 * its kind on a virtual thread; a kind this device does not offer is refused ({@code
 * TUNNEL_REFUSED}).
 */
public final class TunnelService implements TunnelMux.Acceptor {
  private final Map<String, StreamHandler> handlers;
  private final PrintStream out;

  /**
   * @param handlers the kinds this device offers and what serves them
   * @param out where opened and ended streams are reported
   */
  public TunnelService(Map<String, StreamHandler> handlers, PrintStream out) {
    this.handlers = Map.copyOf(handlers);
    this.out = out;
  }

  @Override
  public void open(TunnelStream s) {
    StreamHandler h = handlers.get(s.kind());
    if (h == null) {
      s.reset(
          ErrorCode.TUNNEL_REFUSED,
          "this device offers no '"
              + s.kind()
              + "' tunnels"
              + (handlers.isEmpty()
                  ? ""
                  : " (it offers " + String.join(", ", new TreeSet<>(handlers.keySet())) + ")"));
      return;
    }
    s.accept();
    Thread.ofVirtual()
        .name("edgefleet-tunnel-" + s.kind() + "-" + Integer.toUnsignedString(s.id()))
        .start(() -> run(h, s));
  }

  private void run(StreamHandler h, TunnelStream s) {
    try {
      h.open(s);
      s.output().close();
    } catch (TunnelException e) {
      s.reset(e.code(), e.getMessage());
    } catch (Exception e) {
      s.reset(ErrorCode.INTERNAL, "the device's " + s.kind() + " tunnel failed: " + e);
    } finally {
      s.closeInput();
    }
    TunnelStream.Ended end = s.ended().getNow(null);
    if (end != null && !end.clean()) {
      out.println(
          "tunnel "
              + s.kind()
              + " stream "
              + Integer.toUnsignedString(s.id())
              + " ended: "
              + end.message());
    }
  }
}
