package io.edgefleet.controller.alerts;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A webhook receiver on a loopback socket that speaks just enough HTTP/1.1 to answer the
 * controller's POSTs the way real receivers misbehave: at once, with a huge error body written as
 * fast as the socket takes it, or with a body dripped one byte at a time that never ends. It counts
 * the body bytes it managed to write, so a test can tell how much of an answer the controller read.
 */
final class TestReceiver implements AutoCloseable {
  static final String ERROR_PREFIX = "the database is on fire; ";

  /** How one request is answered. */
  sealed interface Answer {}

  /** {@code 200 ok} at once. */
  record Ok() implements Answer {}

  /** A {@code status} whose body of {@code bytes} is written as fast as the socket takes it. */
  record Huge(int status, long bytes) implements Answer {}

  /** A {@code status} whose endless body comes one byte every {@code every}. */
  record Drip(int status, Duration every) implements Answer {}

  /** A request as it arrived. */
  record Request(String path, String body, long atNanos) {}

  private final ServerSocket server;
  private final Answer answer;
  private final ExecutorService connections = Executors.newCachedThreadPool(daemon("receiver"));
  private final ScheduledExecutorService drips =
      Executors.newSingleThreadScheduledExecutor(daemon("receiver-drip"));
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final AtomicLong written = new AtomicLong();
  private final AtomicInteger answersCut = new AtomicInteger();
  private final AtomicInteger answersComplete = new AtomicInteger();

  private TestReceiver(Answer answer) throws IOException {
    this.answer = answer;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    connections.execute(this::accept);
  }

  static TestReceiver start(Answer answer) throws IOException {
    return new TestReceiver(answer);
  }

  String url(String path) {
    return "http://127.0.0.1:" + server.getLocalPort() + path;
  }

  List<Request> requests() {
    return List.copyOf(requests);
  }

  /** Body bytes written to the sockets so far, over all answers. */
  long bodyBytesWritten() {
    return written.get();
  }

  /** Answers whose body the peer stopped reading: it closed the connection first. */
  int answersCut() {
    return answersCut.get();
  }

  /** Answers written to their end. */
  int answersComplete() {
    return answersComplete.get();
  }

  private void accept() {
    while (!server.isClosed()) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return;
      }
      open.add(s);
      connections.execute(() -> serve(s));
    }
  }

  private void serve(Socket s) {
    try {
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      while (true) {
        Request r = read(in);
        if (r == null) {
          close(s);
          return;
        }
        requests.add(r);
        switch (answer) {
          case Ok ok -> {
            out.write(head(200, 2).getBytes(StandardCharsets.US_ASCII));
            out.write("ok".getBytes(StandardCharsets.US_ASCII));
            out.flush();
          }
          case Huge huge -> {
            huge(out, huge);
            close(s);
            return;
          }
          case Drip drip -> {
            drip(s, out, drip);
            // The dripping task owns the socket from now on.
            return;
          }
        }
      }
    } catch (IOException e) {
      close(s);
    }
  }

  private void huge(OutputStream out, Huge huge) throws IOException {
    out.write(head(huge.status(), huge.bytes()).getBytes(StandardCharsets.US_ASCII));
    byte[] prefix = ERROR_PREFIX.getBytes(StandardCharsets.US_ASCII);
    byte[] block = new byte[64 * 1024];
    Arrays.fill(block, (byte) 'x');
    try {
      out.write(prefix);
      written.addAndGet(prefix.length);
      long left = huge.bytes() - prefix.length;
      while (left > 0) {
        int n = (int) Math.min(block.length, left);
        out.write(block, 0, n);
        written.addAndGet(n);
        left -= n;
      }
      out.flush();
      answersComplete.incrementAndGet();
    } catch (IOException e) {
      answersCut.incrementAndGet();
      throw e;
    }
  }

  private void drip(Socket s, OutputStream out, Drip drip) throws IOException {
    // Announces far more than will ever come, so the answer never ends by itself.
    out.write(head(drip.status(), 1L << 40).getBytes(StandardCharsets.US_ASCII));
    out.flush();
    long every = drip.every().toMillis();
    AtomicReference<Future<?>> task = new AtomicReference<>();
    task.set(
        drips.scheduleAtFixedRate(
            () -> {
              try {
                out.write('.');
                out.flush();
                written.incrementAndGet();
              } catch (IOException e) {
                answersCut.incrementAndGet();
                close(s);
                task.get().cancel(false);
              }
            },
            0,
            every,
            TimeUnit.MILLISECONDS));
  }

  private static String head(int status, long length) {
    return "HTTP/1.1 "
        + status
        + (status == 200 ? " OK" : " Error")
        + "\r\nContent-Type: text/plain\r\nContent-Length: "
        + length
        + "\r\n\r\n";
  }

  /** Reads one request, or null at the end of the connection. */
  private static Request read(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    long at = System.nanoTime();
    String[] lines = head.toString(StandardCharsets.US_ASCII).split("\r\n");
    String path = lines[0].split(" ")[1];
    int length = 0;
    for (String line : lines) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring("content-length:".length()).trim());
      }
    }
    byte[] body = in.readNBytes(length);
    return new Request(path, new String(body, StandardCharsets.UTF_8), at);
  }

  private void close(Socket s) {
    open.remove(s);
    try {
      s.close();
    } catch (IOException e) {
      // Closing is all that is left to do.
    }
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException e) {
      // The listener is going away either way.
    }
    open.forEach(this::close);
    drips.shutdownNow();
    connections.shutdownNow();
  }

  private static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, "test-" + name);
      t.setDaemon(true);
      return t;
    };
  }

  static Duration since(long startNanos) {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }
}
