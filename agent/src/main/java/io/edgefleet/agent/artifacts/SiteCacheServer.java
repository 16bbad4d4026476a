package io.edgefleet.agent.artifacts;

import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * The site cache's LAN server: HTTPS (TLS 1.3, a client certificate of the fleet CA required, see
 * {@link SiteTls}) with two routes, {@code GET /blobs/{digest}} (with {@code Range: bytes=N-M} or
 * {@code bytes=N-}) and {@code GET /blobs/{digest}/chunks} (the {@link ArtifactChunks} of a held
 * blob, computed from its verified file). A blob the device does not hold is fetched through the
 * {@link Puller} (once, however many neighbours ask at the same time); a request waits for it up to
 * {@link Limits#pullWait}, then is answered {@code 503} with {@code Retry-After} and the bytes
 * verified so far in {@code X-Edgefleet-Verified}, so the neighbour asks again.
 *
 * <p>Bounded: at most {@link Limits#connections} connections are served at a time (more are closed
 * at once), one request per connection, a request head of at most 8 KiB that must arrive within
 * {@link Limits#idle}, and a connection that moves no byte for {@link Limits#idle} is closed. The
 * digest is validated before any file is touched, so no path leaves the cache.
 */
public final class SiteCacheServer implements AutoCloseable {

  /** What fetches a blob the cache does not hold, for a neighbour. */
  public interface Puller {
    /** Completes when {@code digest} is held, verified; fails with why it cannot be fetched. */
    CompletableFuture<Void> pull(String digest);

    /** Bytes of {@code digest} verified so far, while it is being fetched. */
    Optional<Long> pulling(String digest);
  }

  /**
   * @param connections the most connections served at once
   * @param idle how long a connection may move no byte (request head, answer) before it is closed
   * @param pullWait how long a request waits for a blob being fetched before it is told to retry
   */
  public record Limits(int connections, Duration idle, Duration pullWait) {
    public Limits {
      if (connections < 1 || idle.isNegative() || idle.isZero() || pullWait.isNegative()) {
        throw new IllegalArgumentException("the site cache's limits must be positive");
      }
    }

    /** 16 connections, 20 s without progress, 10 s waiting for a pull-through. */
    public static Limits defaults() {
      return new Limits(16, Duration.ofSeconds(20), Duration.ofSeconds(10));
    }
  }

  /** Counters since start: requests answered, blob bytes sent, pull-throughs asked for. */
  public record Stats(long requests, long bytes, long pulls, long refused) {}

  /** The header telling how much of a blob being fetched is verified. */
  static final String VERIFIED_HEADER = "X-Edgefleet-Verified";

  private static final Pattern ROUTE = Pattern.compile("/blobs/(sha256:[0-9a-f]{64})(/chunks)?");
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d{1,18})-(\\d{0,18})");
  private static final int MAX_HEAD = 8 * 1024;
  private static final int CHUNK_BYTES = 1 << 20;
  private static final int KEPT_CHUNK_LISTS = 32;

  private final BlobCache cache;
  private final Puller puller;
  private final Limits limits;
  private final PrintStream out;
  private final SSLServerSocket socket;
  private final ExecutorService workers;
  private final Semaphore slots;
  private final Thread acceptor;
  private final java.util.concurrent.ScheduledExecutorService watchdog;
  private final Set<Conn> open = ConcurrentHashMap.newKeySet();
  private final Map<String, ArtifactChunks> chunkLists =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, ArtifactChunks> e) {
          return size() > KEPT_CHUNK_LISTS;
        }
      };
  private final AtomicLong requests = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private final AtomicLong pulls = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private volatile boolean closed;

  private SiteCacheServer(
      SSLServerSocket socket, BlobCache cache, Puller puller, Limits limits, PrintStream out) {
    this.socket = socket;
    this.cache = cache;
    this.puller = puller;
    this.limits = limits;
    this.out = out;
    this.slots = new Semaphore(limits.connections());
    this.workers =
        Executors.newFixedThreadPool(
            limits.connections(),
            r -> {
              Thread t = new Thread(r, "site-cache");
              t.setDaemon(true);
              return t;
            });
    this.watchdog =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "site-cache-watchdog");
              t.setDaemon(true);
              return t;
            });
    long every = Math.max(100, limits.idle().toMillis() / 4);
    watchdog.scheduleWithFixedDelay(this::closeIdle, every, every, TimeUnit.MILLISECONDS);
    this.acceptor = new Thread(this::accept, "site-cache-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /**
   * Listens on {@code address} (port 0: any free port).
   *
   * @throws IOException if the address cannot be bound
   */
  public static SiteCacheServer start(
      InetSocketAddress address,
      SSLContext tls,
      BlobCache cache,
      Puller puller,
      Limits limits,
      PrintStream out)
      throws IOException {
    SSLServerSocket s = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket();
    try {
      s.setReuseAddress(true);
      s.bind(address, limits.connections() * 2);
      s.setNeedClientAuth(true);
      s.setEnabledProtocols(new String[] {"TLSv1.3"});
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
    return new SiteCacheServer(s, cache, puller, limits, out);
  }

  /** The port it listens on. */
  public int port() {
    return socket.getLocalPort();
  }

  public Stats stats() {
    return new Stats(requests.get(), bytes.get(), pulls.get(), refused.get());
  }

  private void accept() {
    while (!closed) {
      Socket s;
      try {
        s = socket.accept();
      } catch (IOException e) {
        if (closed) {
          return;
        }
        continue;
      }
      if (!slots.tryAcquire()) {
        // Beyond the bound the connection is closed before its handshake costs anything.
        refused.incrementAndGet();
        quietly(s);
        continue;
      }
      Conn c = new Conn((SSLSocket) s);
      open.add(c);
      try {
        workers.execute(
            () -> {
              try {
                c.serve();
              } finally {
                open.remove(c);
                quietly(s);
                slots.release();
              }
            });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        open.remove(c);
        quietly(s);
        slots.release();
      }
    }
  }

  private void closeIdle() {
    long now = System.nanoTime();
    for (Conn c : open) {
      if (now - c.progress > limits.idle().toNanos() && !c.waiting) {
        quietly(c.socket);
      }
    }
  }

  /** One connection: one request, one answer. */
  private final class Conn {
    final SSLSocket socket;
    volatile long progress = System.nanoTime();
    // While a request waits for a pull-through it moves no byte, within a bound of its own.
    volatile boolean waiting;

    Conn(SSLSocket socket) {
      this.socket = socket;
    }

    void serve() {
      try {
        socket.setSoTimeout((int) limits.idle().toMillis());
        socket.setTcpNoDelay(true);
        socket.startHandshake();
        progress = System.nanoTime();
        InputStream in = socket.getInputStream();
        OutputStream o = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
        Request r;
        try {
          r = Request.read(in);
        } catch (BadRequest e) {
          answer(o, 400, e.getMessage(), Map.of());
          return;
        }
        requests.incrementAndGet();
        progress = System.nanoTime();
        route(r, o);
        o.flush();
      } catch (IOException e) {
        // The neighbour went away, stalled or failed its handshake; it tries again or elsewhere.
      }
    }

    private void route(Request r, OutputStream o) throws IOException {
      if (!r.method().equals("GET") && !r.method().equals("HEAD")) {
        answer(o, 405, "only GET is served here", Map.of("Allow", "GET, HEAD"));
        return;
      }
      Matcher m = ROUTE.matcher(r.path());
      if (!m.matches()) {
        answer(
            o,
            404,
            "no such route: the site cache serves /blobs/sha256:<64 hex> and its /chunks",
            Map.of());
        return;
      }
      String digest = m.group(1);
      Optional<Path> file = cache.find(digest);
      if (file.isEmpty()) {
        pulls.incrementAndGet();
        CompletableFuture<Void> pull = puller.pull(digest);
        waiting = true;
        try {
          pull.get(limits.pullWait().toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          long verified = puller.pulling(digest).orElse(0L);
          answer(
              o,
              503,
              "the site cache is fetching " + digest + " (" + verified + " bytes so far)",
              Map.of("Retry-After", "1", VERIFIED_HEADER, Long.toString(verified)));
          return;
        } catch (ExecutionException e) {
          String why = e.getCause() == null ? e.toString() : e.getCause().getMessage();
          answer(o, 502, "the site cache cannot fetch " + digest + ": " + why, Map.of());
          return;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        } finally {
          waiting = false;
          progress = System.nanoTime();
        }
        file = cache.find(digest);
        if (file.isEmpty()) {
          answer(
              o, 503, "the site cache lost " + digest + "; ask again", Map.of("Retry-After", "1"));
          return;
        }
      }
      boolean head = r.method().equals("HEAD");
      if (m.group(2) != null) {
        byte[] body = JsonCodec.writeBytes(chunks(digest, file.get()));
        head(o, 200, "application/json", body.length, Map.of());
        if (!head) {
          o.write(body);
        }
        return;
      }
      blob(r, digest, file.get(), o, head);
    }

    private void blob(Request r, String digest, Path file, OutputStream o, boolean head)
        throws IOException {
      long length = Files.size(file);
      long first = 0;
      long last = length - 1;
      int status = 200;
      Map<String, String> extra = new LinkedHashMap<>();
      extra.put("ETag", "\"" + digest + "\"");
      extra.put("Accept-Ranges", "bytes");
      String range = r.headers().get("range");
      if (range != null) {
        Matcher rm = RANGE.matcher(range.trim());
        if (!rm.matches()) {
          answer(o, 400, "only one range bytes=N-M or bytes=N- is served", Map.of());
          return;
        }
        first = Long.parseLong(rm.group(1));
        if (!rm.group(2).isEmpty()) {
          last = Math.min(last, Long.parseLong(rm.group(2)));
        }
        if (first >= length || last < first) {
          extra.put("Content-Range", "bytes */" + length);
          head(o, 416, "text/plain", 0, extra);
          return;
        }
        status = 206;
        extra.put("Content-Range", "bytes " + first + "-" + last + "/" + length);
      }
      long count = length == 0 ? 0 : last - first + 1;
      head(o, status, "application/octet-stream", count, extra);
      if (head) {
        return;
      }
      try (InputStream in = Files.newInputStream(file)) {
        in.skipNBytes(first);
        byte[] buffer = new byte[64 * 1024];
        long left = count;
        while (left > 0) {
          int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
          if (n < 0) {
            throw new IOException(file + " is shorter than it was");
          }
          o.write(buffer, 0, n);
          bytes.addAndGet(n);
          left -= n;
          progress = System.nanoTime();
        }
      }
    }

    private void answer(OutputStream o, int status, String message, Map<String, String> extra)
        throws IOException {
      byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
      head(o, status, "text/plain; charset=utf-8", body.length, extra);
      o.write(body);
      o.flush();
    }

    private void head(
        OutputStream o, int status, String type, long length, Map<String, String> extra)
        throws IOException {
      StringBuilder b = new StringBuilder();
      b.append("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n");
      b.append("Content-Type: ").append(type).append("\r\n");
      b.append("Content-Length: ").append(length).append("\r\n");
      b.append("Connection: close\r\n");
      extra.forEach((k, v) -> b.append(k).append(": ").append(v).append("\r\n"));
      b.append("\r\n");
      o.write(b.toString().getBytes(StandardCharsets.US_ASCII));
    }
  }

  /**
   * The chunk list of a held blob, computed from its file once and kept for a few blobs: the same
   * chunking the controller uses, so a neighbour can check each chunk as it arrives.
   */
  ArtifactChunks chunks(String digest, Path file) throws IOException {
    synchronized (chunkLists) {
      ArtifactChunks kept = chunkLists.get(digest);
      if (kept != null) {
        return kept;
      }
    }
    List<String> list = new ArrayList<>();
    long size = 0;
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[64 * 1024];
      MessageDigest chunk = sha256();
      long inChunk = 0;
      int n;
      while ((n = in.read(buffer)) > 0) {
        int at = 0;
        while (at < n) {
          int take = (int) Math.min(n - at, CHUNK_BYTES - inChunk);
          chunk.update(buffer, at, take);
          at += take;
          inChunk += take;
          size += take;
          if (inChunk == CHUNK_BYTES) {
            list.add("sha256:" + HexFormat.of().formatHex(chunk.digest()));
            inChunk = 0;
          }
        }
      }
      if (inChunk > 0) {
        list.add("sha256:" + HexFormat.of().formatHex(chunk.digest()));
      }
    }
    ArtifactChunks c = new ArtifactChunks(digest, size, CHUNK_BYTES, list);
    synchronized (chunkLists) {
      chunkLists.put(digest, c);
    }
    return c;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String reason(int status) {
    return switch (status) {
      case 200 -> "OK";
      case 206 -> "Partial Content";
      case 400 -> "Bad Request";
      case 404 -> "Not Found";
      case 405 -> "Method Not Allowed";
      case 416 -> "Range Not Satisfiable";
      case 502 -> "Bad Gateway";
      case 503 -> "Service Unavailable";
      default -> "Status";
    };
  }

  /** A request the server does not understand. */
  private static final class BadRequest extends IOException {
    BadRequest(String message) {
      super(message);
    }
  }

  /** A request head: method, path (without query), headers with lower-case names. */
  private record Request(String method, String path, Map<String, String> headers) {
    static Request read(InputStream in) throws IOException {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      int last = 0;
      while (last != 0x0D0A0D0A) {
        int b = in.read();
        if (b < 0) {
          throw new SocketException("the neighbour closed the connection");
        }
        if (head.size() >= MAX_HEAD) {
          throw new BadRequest("the request head is larger than " + MAX_HEAD + " bytes");
        }
        head.write(b);
        last = (last << 8) | b;
      }
      String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
      String[] first = lines[0].split(" ");
      if (first.length != 3 || !first[2].startsWith("HTTP/1.")) {
        throw new BadRequest("not an HTTP/1.1 request line");
      }
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        if (colon > 0) {
          headers.put(
              lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
              lines[i].substring(colon + 1).trim());
        }
      }
      String path = first[1];
      int q = path.indexOf('?');
      return new Request(first[0], q < 0 ? path : path.substring(0, q), headers);
    }
  }

  private static void quietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // Closing.
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      socket.close();
    } catch (IOException e) {
      // Closing.
    }
    for (Conn c : open) {
      quietly(c.socket);
    }
    workers.shutdownNow();
    watchdog.shutdownNow();
    try {
      acceptor.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    out.println("site cache: stopped serving on port " + socket.getLocalPort());
  }
}
