package io.edgefleet.simulator;

import io.edgefleet.device.Timeouts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;

/**
 * One virtual device's network: both directions of its link profile (bandwidth and delay), its
 * outages, and HTTP exchanges over the simulator's shared selector threads, each on its own
 * connection as the agent's client opens them.
 */
final class SimulatedLink {
  /**
   * How long one whole exchange may take. The agent streams and gives a transfer up after {@link
   * Timeouts#HEADERS} without an answer or {@link Timeouts#STALL} without progress; the simulator
   * reads answers whole, so it bounds the exchange instead.
   */
  static final Duration EXCHANGE = Duration.ofSeconds(30);

  private final Simulator sim;
  private final VirtualDevice device;
  private final LinkProfile.Direction up = new LinkProfile.Direction();
  private final LinkProfile.Direction down = new LinkProfile.Direction();
  private volatile long cutUntil;

  SimulatedLink(Simulator sim, VirtualDevice device) {
    this.sim = sim;
    this.device = device;
  }

  /** The controller URL the device uses now. */
  Endpoint endpoint() {
    return device.endpoint();
  }

  /** Whether the link is down now. */
  boolean isCut() {
    return System.nanoTime() < cutUntil;
  }

  /** The link goes down for {@code nanos}. */
  void cut(long nanos) {
    cutUntil = Math.max(cutUntil, System.nanoTime() + nanos);
  }

  /** How long {@code bytes} sent now take to reach the controller, in nanoseconds. */
  long upDelay(long bytes) {
    return up.schedule(sim.options.link(), bytes, System.nanoTime(), ThreadLocalRandom.current());
  }

  /** How long {@code bytes} from the controller take to arrive, in nanoseconds. */
  long downDelay(long bytes) {
    return down.schedule(sim.options.link(), bytes, System.nanoTime(), ThreadLocalRandom.current());
  }

  /** A round trip, as the TCP and TLS handshakes cost, in nanoseconds. */
  long roundTrip() {
    return 2 * sim.options.link().delayNanos(ThreadLocalRandom.current());
  }

  /** The device's certificate on a mutual-TLS connection. */
  void bind(SSLEngine engine) {
    sim.keys.bind(engine, device.credential());
  }

  /** Marks an exchange whose connection closed. */
  private static final Object ENDED = new Object();

  /** One request on its own connection (the agent's client also opens one per exchange here). */
  CompletableFuture<Wire.Response> http(String method, String path, byte[] body, boolean mutual) {
    return http(method, path, body, mutual, "");
  }

  /** One request with extra header lines ({@code Name: value\r\n} each). */
  CompletableFuture<Wire.Response> http(
      String method, String path, byte[] body, boolean mutual, String headers) {
    CompletableFuture<Wire.Response> result = new CompletableFuture<>();
    Endpoint at = endpoint();
    ByteBuffer request =
        Wire.request(
            method,
            at.hostHeader(),
            path,
            body,
            "Accept-Encoding: gzip\r\nConnection: close\r\n" + headers);
    long delay = upDelay(request.remaining()) + roundTrip();
    sim.scheduler.schedule(
        () -> {
          if (isCut()) {
            result.completeExceptionally(new IOException("link down"));
            return;
          }
          Wire.ResponseReader reader = new Wire.ResponseReader();
          SSLEngine[] engine = new SSLEngine[1];
          // The exchange's deadline lets go of the connection once it closed, so a large response
          // is not held until the deadline passes.
          java.util.concurrent.atomic.AtomicReference<Object> open =
              new java.util.concurrent.atomic.AtomicReference<>();
          TlsNet.Handler h =
              new TlsNet.Handler() {
                @Override
                public void opened(TlsNet.Conn conn) {
                  conn.send(request);
                }

                @Override
                public void received(TlsNet.Conn conn, ByteBuffer data) {
                  try {
                    Wire.Response r = reader.offer(data);
                    if (r != null) {
                      conn.abort(new IOException("done"));
                      deliver(r);
                    }
                  } catch (IOException e) {
                    conn.abort(e);
                  }
                }

                @Override
                public void closed(TlsNet.Conn conn, IOException cause) {
                  open.set(ENDED);
                  if (engine[0] != null) {
                    sim.keys.release(engine[0]);
                  }
                  Wire.Response r = reader.eof();
                  if (r != null) {
                    deliver(r);
                  } else {
                    result.completeExceptionally(cause);
                  }
                }

                private void deliver(Wire.Response r) {
                  if (result.isDone()) {
                    return;
                  }
                  long d = downDelay(r.body().length + 200L);
                  sim.scheduler.schedule(() -> result.complete(r), d, TimeUnit.NANOSECONDS);
                }
              };
          int index = device.index;
          TlsNet.Conn c =
              sim.net.open(
                  at.remote(),
                  sim.localAddress(index),
                  at.host(),
                  mutual ? index + 1 : -1 - index,
                  h,
                  e -> {
                    if (mutual) {
                      engine[0] = e;
                      bind(e);
                    }
                  });
          open.compareAndSet(null, c);
          sim.scheduler.schedule(
              () -> {
                if (open.getAndSet(ENDED) instanceof TlsNet.Conn pending) {
                  pending.abort(new IOException("no answer within " + EXCHANGE.toSeconds() + "s"));
                }
              },
              EXCHANGE.toMillis(),
              TimeUnit.MILLISECONDS);
        },
        delay,
        TimeUnit.NANOSECONDS);
    return result;
  }
}
