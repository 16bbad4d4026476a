package io.edgefleet.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code edgefleet port-forward DEVICE LOCAL:HOST:PORT}: a local port to a port the device reaches.
 */
@Command(
    name = "port-forward",
    description = {
      "Listen on 127.0.0.1:LOCAL and forward each connection through the controller and the"
          + " device's own connection to HOST:PORT as the device reaches it (HOST defaults to the"
          + " device itself; other hosts only if the device's agent allows them with"
          + " --tunnel-host).",
      "Needs tunnels:port-forward. Each connection is a session (edgefleet sessions list). Stop"
          + " with Ctrl-C."
    })
final class PortForwardCommand extends TokenCommand {
  private static final Pattern SPEC =
      Pattern.compile("(\\d{1,5}):(?:([A-Za-z0-9.\\-]+|\\[[0-9a-fA-F:]+\\]):)?(\\d{1,5})");

  @Parameters(index = "0", paramLabel = "DEVICE", description = "The device id.")
  String device;

  @Parameters(
      index = "1",
      paramLabel = "LOCAL:[HOST:]PORT",
      description = "Local port, then the host and port to reach from the device.")
  String spec;

  @Option(
      names = "--connections",
      paramLabel = "N",
      description = "Exit after N connections were served (default: run until stopped).")
  Integer connections;

  int local;
  String host = "127.0.0.1";
  int port;

  @Override
  void validate() {
    Matcher m = SPEC.matcher(spec);
    if (!m.matches()) {
      throw badInput(
          "expected LOCAL:PORT or LOCAL:HOST:PORT, e.g. 8080:80 or 8080:10.0.0.5:80; got " + spec);
    }
    local = Integer.parseInt(m.group(1));
    if (m.group(2) != null) {
      host = m.group(2).replace("[", "").replace("]", "");
    }
    port = Integer.parseInt(m.group(3));
    if (local > 65535 || port < 1 || port > 65535) {
      throw badInput("ports are 1 to 65535 (LOCAL may be 0 for any free port)");
    }
    if (connections != null && connections < 1) {
      throw badInput("--connections must be at least 1");
    }
  }

  @Override
  void run(ControllerClient api) {
    String path =
        "/api/v1/devices/"
            + ControllerClient.segment(device)
            + "/port-forward?host="
            + ControllerClient.segment(host)
            + "&port="
            + port;
    try (ServerSocket server = new ServerSocket()) {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), local), 50);
      note(
          "forwarding 127.0.0.1:"
              + server.getLocalPort()
              + " -> "
              + host
              + ":"
              + port
              + " on device "
              + device
              + " (Ctrl-C to stop)");
      out().flush();
      AtomicInteger n = new AtomicInteger();
      int max = connections == null ? Integer.MAX_VALUE : connections;
      Semaphore done = new Semaphore(0);
      for (int i = 0; i < max; i++) {
        Socket s = server.accept();
        int id = n.incrementAndGet();
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    serve(api, path, s, id);
                  } finally {
                    done.release();
                  }
                });
      }
      done.acquireUninterruptibly(max);
    } catch (IOException e) {
      throw CliException.failed("cannot listen on 127.0.0.1:" + local + ": " + e.getMessage());
    }
  }

  private void serve(ControllerClient api, String path, Socket local, int id) {
    try (local) {
      Bridge bridge = new Bridge(local);
      WebSocket ws;
      try {
        ws = api.webSocket(path, bridge);
      } catch (CliException e) {
        say("connection " + id + " refused: " + e.getMessage());
        return;
      }
      say("connection " + id + " opened");
      InputStream in = local.getInputStream();
      byte[] buf = new byte[16 * 1024];
      int r;
      try {
        while ((r = in.read(buf)) >= 0) {
          ws.sendBinary(ByteBuffer.wrap(buf.clone(), 0, r), true).join();
        }
        ws.sendText("{\"eof\":true}", true).join();
      } catch (IOException | RuntimeException e) {
        // The socket or the stream ended; the close below says why.
      }
      String why = bridge.closed.join();
      say("connection " + id + " closed" + (why.isEmpty() ? "" : ": " + why));
      ws.abort();
    } catch (IOException e) {
      say("connection " + id + " failed: " + e.getMessage());
    }
  }

  private synchronized void say(String line) {
    note(line);
    out().flush();
  }

  /** The device's bytes to the local connection; the close's reason when the stream ends. */
  private static final class Bridge implements WebSocket.Listener {
    private final Socket local;
    private final OutputStream out;
    final CompletableFuture<String> closed = new CompletableFuture<>();

    Bridge(Socket local) throws IOException {
      this.local = local;
      this.out = local.getOutputStream();
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      try {
        byte[] b = new byte[data.remaining()];
        data.get(b);
        out.write(b);
        out.flush();
      } catch (IOException e) {
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "the local connection closed");
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
      try {
        local.shutdownOutput();
      } catch (IOException e) {
        // already closed
      }
      closed.complete(code == WebSocket.NORMAL_CLOSURE ? "" : reason + " (" + code + ")");
      try {
        local.close();
      } catch (IOException e) {
        // closing anyway
      }
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      closed.complete("the connection to the controller failed: " + error.getMessage());
      try {
        local.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }
}
