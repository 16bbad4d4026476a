package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.controller.api.HttpLimits;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import io.edgefleet.testkit.TestController;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile clients that send slowly or not at all must not take the listener away from everyone
 * else: no thread is held by a slow body, and connections that never complete a request are closed
 * after their deadline.
 */
@Timeout(300)
class SlowClientsIT {
  @TempDir Path dir;
  TestController controller;
  SSLContext tls;
  URI url;
  final List<Socket> sockets = new ArrayList<>();

  @BeforeEach
  void start() {
    controller = TestController.start(dir.resolve("controller"));
    tls = TlsContexts.pinned(new PinnedCaTrustManager(controller.caFingerprint()));
    url = URI.create(controller.url());
  }

  @AfterEach
  void stop() {
    for (Socket s : sockets) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing test sockets only
      }
    }
    controller.close();
  }

  @Test
  void slowBodiesLeaveHealthAndTheApiAnswering() throws Exception {
    // More slow bodies than the listener has threads.
    int slow = 260;
    ExecutorService openers = Executors.newFixedThreadPool(16);
    try {
      List<Future<Socket>> opened = new ArrayList<>();
      for (int i = 0; i < slow; i++) {
        opened.add(
            openers.submit(
                () -> {
                  SSLSocket s = handshake();
                  OutputStream out = s.getOutputStream();
                  out.write(
                      ("POST /device/v1/enrollments HTTP/1.1\r\nHost: x\r\n"
                              + "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
                          .getBytes(StandardCharsets.US_ASCII));
                  out.flush();
                  return s;
                }));
      }
      for (Future<Socket> f : opened) {
        sockets.add(f.get());
      }
    } finally {
      openers.shutdownNow();
    }

    HttpClient client =
        HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> health =
        client.send(
            HttpRequest.newBuilder(url.resolve("/healthz")).timeout(Duration.ofSeconds(5)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).isEqualTo(200);
    HttpResponse<String> api =
        client.send(
            HttpRequest.newBuilder(url.resolve("/api/v1/devices"))
                .header("Authorization", "Bearer " + controller.controller().adminToken().get())
                .timeout(Duration.ofSeconds(5))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(api.statusCode()).isEqualTo(200);
  }

  @Test
  void connectionsThatNeverCompleteARequestAreClosedAtTheirDeadline() throws Exception {
    restart(
        TestController.config(dir.resolve("short"))
            .withHttpLimits(
                HttpLimits.defaults()
                    .withTimeouts(
                        Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofSeconds(3))));
    // Idle after the handshake, dripping header bytes, and idle without even a handshake.
    SSLSocket idle = handshake();
    SSLSocket dripping = handshake();
    Socket plain = new Socket();
    plain.connect(new InetSocketAddress(url.getHost(), url.getPort()), 5_000);
    sockets.addAll(List.of(idle, dripping, plain));
    OutputStream drip = dripping.getOutputStream();
    long start = System.nanoTime();
    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              try {
                // Each byte would restart an idle timeout; the header deadline is absolute.
                drip.write('G');
                drip.flush();
                return false;
              } catch (IOException e) {
                return true;
              }
            });
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    awaitClosed(idle, Duration.ofSeconds(10));
    awaitClosed(plain, Duration.ofSeconds(10));

    // A kept-alive connection gets its idle time after an answer, then is closed too.
    SSLSocket kept = handshake();
    sockets.add(kept);
    kept.getOutputStream()
        .write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    kept.getOutputStream().flush();
    assertThat(readStatus(kept.getInputStream())).isEqualTo(200);
    awaitClosed(kept, Duration.ofSeconds(10));
    assertThat(metric("edgefleet_http_connections_limited_total{reason=\"header_timeout\"}"))
        .isGreaterThanOrEqualTo(3);
  }

  @Test
  void aBodyThatDoesNotArriveInTimeIsAnswered408AndTheConnectionClosed() throws Exception {
    restart(
        TestController.config(dir.resolve("short"))
            .withHttpLimits(
                HttpLimits.defaults()
                    .withTimeouts(
                        Duration.ofSeconds(20), Duration.ofSeconds(20), Duration.ofSeconds(2))));
    SSLSocket s = handshake();
    sockets.add(s);
    OutputStream out = s.getOutputStream();
    out.write(
        ("POST /device/v1/enrollments HTTP/1.1\r\nHost: x\r\n"
                + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    long start = System.nanoTime();
    String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(answer).startsWith("HTTP/1.1 408").contains("REQUEST_TIMEOUT");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void oneAddressCannotHoldMoreThanItsShareOfConnections() throws Exception {
    restart(
        TestController.config(dir.resolve("capped"))
            .withHttpLimits(HttpLimits.defaults().withConnections(10_000, 20)));
    for (int i = 0; i < 20; i++) {
      sockets.add(handshake());
    }
    // The 21st is closed at once, before or during its handshake.
    Socket extra = new Socket();
    sockets.add(extra);
    extra.connect(new InetSocketAddress(url.getHost(), url.getPort()), 5_000);
    awaitClosed(extra, Duration.ofSeconds(5));
    // Once the held ones go, the address is welcome again.
    for (Socket s : sockets) {
      s.close();
    }
    sockets.clear();
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(get("/healthz").statusCode()).isEqualTo(200));
    assertThat(metric("edgefleet_http_connections_limited_total{reason=\"address_limit\"}"))
        .isGreaterThanOrEqualTo(1);
  }

  private void restart(io.edgefleet.controller.ControllerConfig config) {
    controller.close();
    controller = TestController.start(config);
    tls = TlsContexts.pinned(new PinnedCaTrustManager(controller.caFingerprint()));
    url = URI.create(controller.url());
  }

  private HttpResponse<String> get(String path) throws Exception {
    HttpClient client =
        HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(5)).build();
    return client.send(
        HttpRequest.newBuilder(url.resolve(path))
            .header("Authorization", "Bearer " + controller.controller().adminToken().get())
            .timeout(Duration.ofSeconds(5))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private double metric(String series) throws Exception {
    for (String line : get("/metrics").body().split("\n")) {
      if (line.startsWith(series + " ")) {
        return Double.parseDouble(line.substring(series.length() + 1).trim());
      }
    }
    return 0;
  }

  /** The status code of the first answer on this stream. */
  private static int readStatus(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n') {
      line.append((char) c);
    }
    return Integer.parseInt(line.toString().split(" ")[1]);
  }

  private SSLSocket handshake() throws IOException {
    Socket plain = new Socket();
    plain.connect(new InetSocketAddress(url.getHost(), url.getPort()), 5_000);
    SSLSocket s =
        (SSLSocket) tls.getSocketFactory().createSocket(plain, url.getHost(), url.getPort(), true);
    s.setSoTimeout(30_000);
    s.startHandshake();
    return s;
  }

  /** Waits until the controller has closed the socket (end of stream or a reset). */
  static void awaitClosed(Socket s, Duration within) throws IOException {
    s.setSoTimeout(200);
    await()
        .atMost(within)
        .until(
            () -> {
              try {
                // Whatever the controller still sends before closing is skipped.
                byte[] skip = new byte[8192];
                int n;
                while ((n = s.getInputStream().read(skip)) > 0) {
                  continue;
                }
                return n < 0;
              } catch (java.net.SocketTimeoutException e) {
                return false;
              } catch (IOException e) {
                return true;
              }
            });
  }
}
