package io.edgefleet.agent.tunnel;

import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

/** Copies bytes between a tunnel stream and a socket, both ways, until both are done. */
final class Pipes {
  private Pipes() {}

  /**
   * Stream to socket on a virtual thread, socket to stream on the caller's; half closes are passed
   * on (FIN becomes a socket output shutdown and the socket's end a FIN). Returns when both
   * directions ended; the socket is closed.
   */
  static void join(TunnelStream s, Socket socket) throws IOException, InterruptedException {
    InputStream fromPeer = s.input();
    OutputStream toSocket = socket.getOutputStream();
    Thread up =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    fromPeer.transferTo(toSocket);
                    toSocket.flush();
                    if (!socket.isClosed()) {
                      try {
                        socket.shutdownOutput();
                      } catch (IOException | UnsupportedOperationException e) {
                        // TLS sockets cannot half close: the server ends the exchange.
                      }
                    }
                  } catch (IOException e) {
                    closeQuietly(socket);
                  }
                });
    try (socket) {
      InputStream fromSocket = socket.getInputStream();
      OutputStream toPeer = s.output();
      byte[] buf = new byte[16 * 1024];
      int n;
      try {
        while ((n = fromSocket.read(buf)) >= 0) {
          toPeer.write(buf, 0, n);
        }
      } catch (java.net.SocketException e) {
        if (s.ended().isDone()) {
          return;
        }
      }
      toPeer.close();
      up.join();
    } finally {
      up.interrupt();
    }
  }

  static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing anyway
    }
  }
}
