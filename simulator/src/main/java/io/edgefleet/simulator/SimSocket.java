package io.edgefleet.simulator;

import io.edgefleet.device.Timeouts;
import io.edgefleet.device.link.ControllerLink;
import io.edgefleet.protocol.DeviceApi;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;

/**
 * One WebSocket of a virtual device on the simulator's shared selector threads: the TLS connection,
 * the upgrade, frames both ways delayed by the device's link. Under a {@link ControllerLink}, which
 * speaks the protocol on it.
 */
final class SimSocket implements TlsNet.Handler, Wire.FrameSink, ControllerLink.Transport {
  private static final CompletableFuture<Void> SENT = CompletableFuture.completedFuture(null);

  private final Simulator sim;
  private final int index;
  private final SimulatedLink net;
  private final ControllerLink link;
  private final Runnable releaseHandshake;
  private boolean released;
  private TlsNet.Conn conn;
  private SSLEngine engine;
  private Wire.ResponseReader upgrade = new Wire.ResponseReader();
  private final Wire.FrameReader frames = new Wire.FrameReader();
  private volatile boolean cancelled;

  SimSocket(
      Simulator sim, int index, SimulatedLink net, ControllerLink link, Runnable releaseHandshake) {
    this.sim = sim;
    this.index = index;
    this.net = net;
    this.link = link;
    this.releaseHandshake = releaseHandshake;
  }

  /** Opens the connection; the upgrade must be answered within {@link Timeouts#WELCOME}. */
  void open() {
    if (cancelled) {
      release();
      sim.scheduler.execute(() -> link.closedBy(1006, "cancelled"));
      return;
    }
    Endpoint at = net.endpoint();
    conn =
        sim.net.open(
            at.remote(),
            sim.localAddress(index),
            at.host(),
            index + 1,
            this,
            e -> {
              engine = e;
              net.bind(e);
            });
    sim.scheduler.schedule(
        () -> {
          if (upgrade != null) {
            conn.abort(
                new IOException(
                    "no WebSocket upgrade within " + Timeouts.WELCOME.toSeconds() + "s"));
          }
        },
        Timeouts.WELCOME.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  private void release() {
    if (!released) {
      released = true;
      releaseHandshake.run();
    }
  }

  @Override
  public void opened(TlsNet.Conn c) {
    byte[] nonce = new byte[16];
    ThreadLocalRandom.current().nextBytes(nonce);
    String key = Base64.getEncoder().encodeToString(nonce);
    c.send(
        Wire.request(
            "GET",
            net.endpoint().hostHeader(),
            DeviceApi.CONNECT,
            null,
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: "
                + key
                + "\r\n"));
  }

  @Override
  public void received(TlsNet.Conn c, ByteBuffer data) {
    link.heard();
    try {
      if (upgrade != null) {
        Wire.Response r = upgrade.offer(data);
        if (r == null) {
          return;
        }
        ByteBuffer rest = upgrade.rest();
        upgrade = null;
        release();
        if (r.status() != 101) {
          throw new IOException("WebSocket upgrade refused: HTTP " + r.status());
        }
        link.opened(this);
        if (rest.hasRemaining()) {
          frames.offer(rest, this);
        }
        return;
      }
      frames.offer(data, this);
    } catch (IOException e) {
      c.abort(e);
    }
  }

  @Override
  public void message(int opcode, byte[] payload) {
    switch (opcode) {
      case Wire.OP_TEXT -> {
        long d = net.downDelay(payload.length + 6);
        sim.scheduler.schedule(
            () -> link.received(new String(payload, StandardCharsets.UTF_8)),
            d,
            TimeUnit.NANOSECONDS);
      }
      case Wire.OP_PING -> conn.send(Wire.frame(Wire.OP_PONG, payload));
      case Wire.OP_CLOSE -> {
        int code = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
        conn.send(Wire.closeFrame(code == 1005 ? 1000 : code, ""));
        sim.scheduler.schedule(
            () -> conn.abort(new IOException("closed by the controller (" + code + ")")),
            200,
            TimeUnit.MILLISECONDS);
      }
      default -> {}
    }
  }

  @Override
  public CompletionStage<?> sendText(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    send(Wire.frame(Wire.OP_TEXT, bytes));
    return SENT;
  }

  @Override
  public CompletionStage<?> sendBinary(byte[] message) {
    send(Wire.frame(Wire.OP_BINARY, message));
    return SENT;
  }

  private void send(ByteBuffer f) {
    sim.stats.messagesOut.increment();
    long d = net.upDelay(f.remaining());
    if (d < 500_000) {
      conn.send(f);
    } else {
      sim.scheduler.schedule(() -> conn.send(f), d, TimeUnit.NANOSECONDS);
    }
  }

  /** Breaks the connection without a close (a cut link, a dead one). */
  void abort(IOException why) {
    cancelled = true;
    if (conn != null) {
      conn.abort(why);
    }
  }

  @Override
  public void abort() {
    abort(new IOException("the link is down"));
  }

  @Override
  public void close(int code, String reason) {
    cancelled = true;
    if (conn == null) {
      return;
    }
    conn.send(Wire.closeFrame(code, reason));
    sim.scheduler.schedule(() -> conn.abort(new IOException(reason)), 200, TimeUnit.MILLISECONDS);
  }

  @Override
  public void closed(TlsNet.Conn c, IOException cause) {
    release();
    if (engine != null) {
      sim.keys.release(engine);
    }
    sim.scheduler.execute(() -> link.closedBy(1006, cause.getMessage()));
  }
}
