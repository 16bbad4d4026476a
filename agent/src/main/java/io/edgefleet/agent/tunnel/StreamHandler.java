package io.edgefleet.agent.tunnel;

import io.edgefleet.protocol.tunnel.TunnelStream;

/**
 * Serves one kind of tunnel stream on the device ({@code kube}, {@code tcp}, ...). Runs on its own
 * virtual thread and may block; when it returns, the stream's output is closed (FIN). A {@link
 * io.edgefleet.protocol.tunnel.TunnelException} it throws resets the stream with its code; any
 * other exception with {@code INTERNAL}.
 */
@FunctionalInterface
public interface StreamHandler {
  void open(TunnelStream stream) throws Exception;
}
