package io.edgefleet.bench.tls;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;

/**
 * Runs one TLS connection between a client and a server {@link SSLEngine} in the calling thread,
 * handing the records from one to the other through buffers, and charges the thread's CPU time
 * spent inside each side's engine calls (and its delegated tasks) to that side.
 *
 * <p>A connection is the handshake plus one request and one answer of a few bytes, as a device's
 * WebSocket upgrade is: the answer carries the server's TLS 1.3 session tickets to the client
 * before it, so a returning device has a ticket to offer.
 */
final class EnginePair {
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
  private static final int MAX_STEPS = 64;

  private final ByteBuffer toServer = ByteBuffer.allocateDirect(64 * 1024);
  private final ByteBuffer toClient = ByteBuffer.allocateDirect(64 * 1024);
  private final ByteBuffer clientApp = ByteBuffer.allocateDirect(64 * 1024);
  private final ByteBuffer serverApp = ByteBuffer.allocateDirect(64 * 1024);

  /** Thread CPU time charged to each side, in nanoseconds. */
  record Cost(long serverNanos, long clientNanos) {}

  Cost connect(SSLEngine client, SSLEngine server) throws SSLException {
    toServer.clear();
    toClient.clear();
    clientApp.clear();
    serverApp.clear();
    long serverNs = 0;
    long clientNs = 0;
    long t = CPU.getCurrentThreadCpuTime();
    client.beginHandshake();
    long t1 = CPU.getCurrentThreadCpuTime();
    clientNs += t1 - t;
    server.beginHandshake();
    long t2 = CPU.getCurrentThreadCpuTime();
    serverNs += t2 - t1;
    boolean requestSent = false;
    boolean answerSent = false;
    for (int step = 0; step < MAX_STEPS; step++) {
      long a = CPU.getCurrentThreadCpuTime();
      exchange(client, toClient, toServer, clientApp);
      if (!requestSent && client.getHandshakeStatus() == HandshakeStatus.NOT_HANDSHAKING) {
        check(client.wrap(ascii("GET /api/v1/agent/connect"), toServer));
        requestSent = true;
      }
      long b = CPU.getCurrentThreadCpuTime();
      clientNs += b - a;
      if (clientApp.position() > 0) {
        return new Cost(serverNs, clientNs);
      }
      exchange(server, toServer, toClient, serverApp);
      if (!answerSent && serverApp.position() > 0) {
        check(server.wrap(ascii("HTTP/1.1 101"), toClient));
        answerSent = true;
      }
      serverNs += CPU.getCurrentThreadCpuTime() - b;
    }
    throw new SSLException(
        "no answer after "
            + MAX_STEPS
            + " steps (client "
            + client.getHandshakeStatus()
            + ", server "
            + server.getHandshakeStatus()
            + ")");
  }

  /** Reads what {@code in} holds and writes what the engine wants to send, until neither moves. */
  private static void exchange(SSLEngine e, ByteBuffer in, ByteBuffer out, ByteBuffer app)
      throws SSLException {
    for (int i = 0; i < MAX_STEPS; i++) {
      boolean moved = false;
      in.flip();
      if (in.hasRemaining()) {
        SSLEngineResult r = e.unwrap(in, app);
        moved = r.bytesConsumed() > 0 || r.bytesProduced() > 0;
        check(r);
      }
      in.compact();
      runTasks(e);
      if (e.getHandshakeStatus() == HandshakeStatus.NEED_WRAP) {
        SSLEngineResult r = e.wrap(EMPTY, out);
        moved |= r.bytesProduced() > 0;
        check(r);
        runTasks(e);
      }
      if (!moved) {
        return;
      }
    }
  }

  private static void runTasks(SSLEngine e) {
    Runnable task;
    while (e.getHandshakeStatus() == HandshakeStatus.NEED_TASK
        && (task = e.getDelegatedTask()) != null) {
      task.run();
    }
  }

  private static void check(SSLEngineResult r) throws SSLException {
    if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW
        || r.getStatus() == SSLEngineResult.Status.CLOSED) {
      throw new SSLException("unexpected engine result: " + r);
    }
  }

  private static ByteBuffer ascii(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
  }
}
