package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The demo's link passes bytes both ways, drops its connections when cut, and comes back. */
class DemoLinkTest {

  @Test
  void relaysUntilCutRefusesWhileDownAndRelaysAgainWhenRestored() throws Exception {
    try (ServerSocket echo = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        DemoLink link = new DemoLink(echo.getLocalPort())) {
      Thread.ofVirtual().start(() -> serveEcho(echo));

      Socket first = connect(link);
      assertThat(roundTrip(first, "hello")).isEqualTo("hello");

      link.cut();
      assertThat(link.isDown()).isTrue();
      // The open connection is dropped: reading ends (EOF or reset).
      first.setSoTimeout(5_000);
      assertThat(readEnds(first)).isTrue();
      // New connections are accepted by the OS but closed at once while the link is down.
      Socket refused = connect(link);
      refused.setSoTimeout(5_000);
      assertThat(readEnds(refused)).isTrue();

      link.restore();
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                try (Socket again = connect(link)) {
                  assertThat(roundTrip(again, "back")).isEqualTo("back");
                }
              });
    }
  }

  private static Socket connect(DemoLink link) throws IOException {
    return new Socket(InetAddress.getLoopbackAddress(), link.port());
  }

  private static String roundTrip(Socket s, String text) throws IOException {
    s.setSoTimeout(5_000);
    OutputStream out = s.getOutputStream();
    out.write(text.getBytes());
    out.flush();
    byte[] got = s.getInputStream().readNBytes(text.length());
    return new String(got);
  }

  private static boolean readEnds(Socket s) {
    try {
      return s.getInputStream().read() < 0;
    } catch (IOException e) {
      return !(e instanceof java.net.SocketTimeoutException);
    }
  }

  private static void serveEcho(ServerSocket server) {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        Thread.ofVirtual()
            .start(
                () -> {
                  try (s;
                      InputStream in = s.getInputStream();
                      OutputStream out = s.getOutputStream()) {
                    in.transferTo(out);
                  } catch (IOException e) {
                    // peer went away
                  }
                });
      } catch (IOException e) {
        return;
      }
    }
  }
}
