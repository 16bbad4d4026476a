package io.edgefleet.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link DelayProxy} between real sockets on loopback. */
class DelayProxyTest {
  private final ServerSocket server;
  private final BlockingQueue<Socket> accepted = new ArrayBlockingQueue<>(16);

  DelayProxyTest() throws IOException {
    server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
    Thread.ofVirtual()
        .start(
            () -> {
              while (!server.isClosed()) {
                try {
                  accepted.add(server.accept());
                } catch (IOException e) {
                  return;
                }
              }
            });
  }

  @AfterEach
  void closeServer() throws IOException {
    server.close();
    for (Socket s : accepted) {
      s.close();
    }
  }

  private DelayProxy.Builder proxy() {
    return DelayProxy.to("127.0.0.1", server.getLocalPort());
  }

  private Socket connect(DelayProxy p) throws IOException {
    Socket s = new Socket(InetAddress.getLoopbackAddress(), p.port());
    s.setTcpNoDelay(true);
    return s;
  }

  private Socket serverSide() throws InterruptedException {
    Socket s = accepted.poll(10, TimeUnit.SECONDS);
    assertThat(s).as("the proxy connected onwards").isNotNull();
    return s;
  }

  /** Everything a socket receives, collected by a virtual thread. */
  static final class Collector {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final AtomicBoolean ended = new AtomicBoolean();

    Collector(Socket s) {
      Thread.ofVirtual()
          .start(
              () -> {
                byte[] buf = new byte[8192];
                try {
                  InputStream in = s.getInputStream();
                  int n;
                  while ((n = in.read(buf)) >= 0) {
                    synchronized (bytes) {
                      bytes.write(buf, 0, n);
                    }
                  }
                } catch (IOException e) {
                  // Reset: ended as well.
                }
                ended.set(true);
              });
    }

    int size() {
      synchronized (bytes) {
        return bytes.size();
      }
    }

    byte[] get() {
      synchronized (bytes) {
        return bytes.toByteArray();
      }
    }
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Writes in pieces of varying size, as an application would. */
  private static void writeInPieces(OutputStream out, byte[] data) throws IOException {
    Random r = new Random(7);
    int off = 0;
    while (off < data.length) {
      int n = Math.min(data.length - off, 1 + r.nextInt(20_000));
      out.write(data, off, n);
      out.flush();
      off += n;
    }
  }

  @Test
  void forwardsBothWaysInOrderAndDelaysEachDirection() throws Exception {
    Duration up = Duration.ofMillis(150);
    Duration down = Duration.ofMillis(250);
    try (DelayProxy p = proxy().delay(up, down).start();
        Socket client = connect(p);
        Socket far = serverSide()) {
      byte[] upData = random(1_000_000, 1);
      byte[] downData = random(700_000, 2);
      Collector atServer = new Collector(far);
      Collector atClient = new Collector(client);
      Thread writer =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      writeInPieces(far.getOutputStream(), downData);
                    } catch (IOException e) {
                      throw new IllegalStateException(e);
                    }
                  });
      writeInPieces(client.getOutputStream(), upData);
      writer.join();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> atServer.size() == upData.length && atClient.size() == downData.length);
      assertThat(atServer.get()).isEqualTo(upData);
      assertThat(atClient.get()).isEqualTo(downData);
      assertThat(p.bytesUp()).isEqualTo(upData.length);
      assertThat(p.bytesDown()).isEqualTo(downData.length);

      // One byte each way on the quiet connection: each arrives no earlier than its delay.
      long t0 = System.nanoTime();
      client.getOutputStream().write(1);
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(5))
          .until(() -> atServer.size() == upData.length + 1);
      long upNanos = System.nanoTime() - t0;
      long t1 = System.nanoTime();
      far.getOutputStream().write(2);
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(5))
          .until(() -> atClient.size() == downData.length + 1);
      long downNanos = System.nanoTime() - t1;
      assertThat(upNanos).isGreaterThanOrEqualTo(up.toNanos());
      assertThat(downNanos).isGreaterThanOrEqualTo(down.toNanos());
      // Not delayed twice (a loaded machine may add scheduling time, not another delay).
      assertThat(upNanos).isLessThan(up.toNanos() + Duration.ofSeconds(2).toNanos());
      assertThat(downNanos).isLessThan(down.toNanos() + Duration.ofSeconds(2).toNanos());
    }
  }

  @Test
  void theDelayDoesNotLimitThroughput() throws Exception {
    // 8 MiB in 16 KiB reads: one chunk per delay would take 512 x 300 ms = 154 s.
    try (DelayProxy p = proxy().delay(Duration.ofMillis(300)).start();
        Socket client = connect(p);
        Socket far = serverSide()) {
      byte[] data = random(8 * 1024 * 1024, 3);
      Collector atClient = new Collector(client);
      long t0 = System.nanoTime();
      far.getOutputStream().write(data);
      await().atMost(Duration.ofSeconds(30)).until(() -> atClient.size() == data.length);
      assertThat(System.nanoTime() - t0).isLessThan(Duration.ofSeconds(30).toNanos());
      assertThat(atClient.get()).isEqualTo(data);
    }
  }

  @Test
  void theRateCapHoldsEachDirectionToItsRate() throws Exception {
    int rate = 64 * 1024;
    try (DelayProxy p = proxy().rate(rate, rate).start();
        Socket client = connect(p);
        Socket far = serverSide()) {
      byte[] data = random(3 * rate, 4);
      Collector atClient = new Collector(client);
      long t0 = System.nanoTime();
      far.getOutputStream().write(data);
      await().atMost(Duration.ofSeconds(30)).until(() -> atClient.size() == data.length);
      double seconds = (System.nanoTime() - t0) / 1e9;
      assertThat(atClient.get()).isEqualTo(data);
      // Three seconds' worth at the cap; the first 20 ms slice goes at once.
      assertThat(seconds).isGreaterThan(2.9);

      // Upstream on its own budget, shared by a second connection.
      try (Socket second = connect(p);
          Socket far2 = serverSide()) {
        Collector atServer = new Collector(far);
        Collector atServer2 = new Collector(far2);
        byte[] half = random(rate, 5);
        long t1 = System.nanoTime();
        Thread other =
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        second.getOutputStream().write(half);
                      } catch (IOException e) {
                        throw new IllegalStateException(e);
                      }
                    });
        client.getOutputStream().write(half);
        other.join();
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> atServer.size() == half.length && atServer2.size() == half.length);
        assertThat((System.nanoTime() - t1) / 1e9)
            .as("two seconds' worth together")
            .isGreaterThan(1.9);
        assertThat(atServer2.get()).isEqualTo(half);
      }
    }
  }

  @Test
  void blackholeAfterNBytesDownstreamHoldsTheConnectionOpenThenResumesInOrder() throws Exception {
    try (DelayProxy p = proxy().delay(Duration.ofMillis(20)).start();
        Socket client = connect(p);
        Socket far = serverSide()) {
      Collector atClient = new Collector(client);
      Collector atServer = new Collector(far);
      byte[] data = random(200_000, 6);
      p.blackholeAfterDown(70_000);
      far.getOutputStream().write(data);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> p.state() == DelayProxy.State.BLACKHOLE && atClient.size() == 70_000);
      assertThat(p.blackholedAtNanos()).isPositive();

      // Held: nothing more either way, and neither end sees the connection end.
      client.getOutputStream().write(new byte[] {9, 8, 7});
      await()
          .during(Duration.ofSeconds(1))
          .atMost(Duration.ofSeconds(3))
          .until(
              () ->
                  atClient.size() == 70_000
                      && atServer.size() == 0
                      && !atClient.ended.get()
                      && !atServer.ended.get()
                      && p.open() == 1);
      assertThat(p.bytesDown()).isEqualTo(70_000);

      // A new connection is accepted but not carried onwards while the link is a black hole.
      try (Socket late = connect(p)) {
        await()
            .during(Duration.ofMillis(500))
            .atMost(Duration.ofSeconds(2))
            .until(() -> accepted.isEmpty() && p.connections().size() == 2);

        p.restore();
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> atClient.size() == data.length && atServer.size() == 3);
        assertThat(atClient.get()).isEqualTo(data);
        assertThat(atServer.get()).containsExactly(9, 8, 7);
        assertThat(serverSide()).as("the held connection goes through after restore").isNotNull();
        assertThat(late.isClosed()).isFalse();
      }
    }
  }

  @Test
  void cutResetsConnectionsAndRefusesNewOnesUntilRestored() throws Exception {
    try (DelayProxy p = proxy().start();
        Socket client = connect(p);
        Socket far = serverSide()) {
      Collector atClient = new Collector(client);
      far.getOutputStream().write(1);
      await().atMost(Duration.ofSeconds(5)).until(() -> atClient.size() == 1);

      p.cut();
      await().atMost(Duration.ofSeconds(5)).until(atClient.ended::get);
      assertThat(p.open()).isZero();
      try (Socket refused = connect(p)) {
        int b;
        try {
          b = refused.getInputStream().read();
        } catch (IOException e) {
          b = -1;
        }
        assertThat(b).as("a connection made while cut is closed at once").isEqualTo(-1);
      }
      assertThat(p.refused()).isEqualTo(1);

      p.restore();
      try (Socket again = connect(p);
          Socket far2 = serverSide()) {
        Collector c2 = new Collector(again);
        far2.getOutputStream().write(new byte[] {4, 2});
        await()
            .atMost(Duration.ofSeconds(5))
            .until(() -> Arrays.equals(c2.get(), new byte[] {4, 2}));
      }
    }
  }
}
