package io.edgefleet.agent;

import io.edgefleet.device.Timeouts;
import io.edgefleet.protocol.SecureFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * HTTP exchanges with the controller that never wait on the network without a deadline. The JDK
 * client's request timeout covers connecting and the answer's headers only; here the body is
 * watched too: a transfer must deliver at least {@link Limits#minBytes} in every {@link
 * Limits#progressWindow} or it is abandoned with {@link Stalled} (a link that dies in the middle of
 * a body, or a far end that forgets the connection, otherwise holds the exchange as long as TCP
 * does). Bodies are bounded in size.
 *
 * <p>Downloads go to a partial file and resume from the byte they reached ({@code Range} with
 * {@code If-Range} on the entity tag), so a cut costs only what was in flight.
 *
 * <p>Every method returns at once; results complete on the HTTP client's threads. Thread-safe.
 */
final class Transfers {

  /**
   * How a transfer is watched.
   *
   * @param headers connecting and receiving the answer's headers
   * @param progressWindow the window in which at least {@code minBytes} must arrive
   * @param minBytes bytes per window below which a transfer counts as stalled
   */
  record Limits(Duration headers, Duration progressWindow, int minBytes) {
    static Limits defaults() {
      return new Limits(Timeouts.HEADERS, Timeouts.STALL, Timeouts.STALL_BYTES);
    }
  }

  /** A transfer abandoned because its body stopped arriving. */
  static final class Stalled extends IOException {
    Stalled(String message) {
      super(message);
    }
  }

  /** A small answer: status, headers and the (bounded) body. */
  record Answer(int status, HttpHeaders headers, byte[] body) {
    String text() {
      return new String(body, java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  /**
   * A finished download.
   *
   * @param resumedFrom the byte the transfer started at (0 for a fresh one)
   * @param encoding the {@code Content-Encoding} of the stored bytes ("" for none)
   */
  record Download(Path file, long bytes, long resumedFrom, String encoding) {}

  private final HttpClient client;
  private final ScheduledExecutorService timer;
  private final Limits limits;
  private final java.util.concurrent.atomic.AtomicLong stalls =
      new java.util.concurrent.atomic.AtomicLong();

  /**
   * @param timer runs the watchdog's checks (a transfer's deadlines are real time, so the watchdog
   *     reads {@link System#nanoTime()}, not the agent's clock)
   */
  Transfers(HttpClient client, ScheduledExecutorService timer, Limits limits) {
    this.client = client;
    this.timer = timer;
    this.limits = limits;
  }

  HttpClient client() {
    return client;
  }

  /** How many transfers were abandoned for lack of progress. */
  long stalls() {
    return stalls.get();
  }

  /**
   * Sends a request whose answer is small.
   *
   * @param maxBody the largest body accepted; a larger one fails the exchange
   */
  CompletableFuture<Answer> exchange(HttpRequest.Builder request, int maxBody) {
    HttpRequest r = request.timeout(limits.headers()).build();
    Watched<Answer> watched = new Watched<>(r.uri());
    HttpResponse.BodyHandler<Answer> handler =
        info -> watched.subscriber(new Collecting(info.statusCode(), info.headers(), maxBody));
    client
        .sendAsync(r, handler)
        .whenComplete(
            (resp, err) -> {
              if (err != null) {
                watched.fail(unwrap(err));
              } else {
                watched.result.complete(resp.body());
              }
            });
    return watched.result;
  }

  /**
   * Downloads {@code uri} into {@code file}, resuming a partial {@code file + ".part"} left by an
   * earlier attempt when the server still serves the same entity. The partial file survives a
   * failure, so the next call goes on from there; on success it is renamed to {@code file}.
   *
   * @param maxBytes the largest body accepted
   */
  CompletableFuture<Download> download(URI uri, Path file, long maxBytes) {
    Path part = file.resolveSibling(file.getFileName() + ".part");
    Path tag = file.resolveSibling(file.getFileName() + ".etag");
    long have = size(part);
    Optional<String> etag = have > 0 ? read(tag) : Optional.empty();
    HttpRequest.Builder b =
        HttpRequest.newBuilder(uri).timeout(limits.headers()).header("Accept-Encoding", "gzip");
    if (have > 0 && etag.isPresent()) {
      b.header("Range", "bytes=" + have + "-").header("If-Range", etag.get());
    }
    Watched<Download> watched = new Watched<>(uri);
    HttpResponse.BodyHandler<Object> handler =
        info -> {
          int status = info.statusCode();
          if (status == 206 && have > 0 && etag.isPresent() && startsAt(info, have)) {
            return watched.subscriber(new ToFile(part, have, maxBytes, info, tag));
          }
          if (status == 200) {
            return watched.subscriber(new ToFile(part, 0, maxBytes, info, tag));
          }
          return watched.subscriber(new Collecting(status, info.headers(), 4096));
        };
    client
        .sendAsync(b.GET().build(), handler)
        .whenComplete(
            (resp, err) -> {
              if (err != null) {
                watched.fail(unwrap(err));
                return;
              }
              Object body = resp.body();
              if (body instanceof Answer a) {
                watched.fail(new StatusException(a));
                return;
              }
              Download d = (Download) body;
              try {
                Files.move(
                    part,
                    file,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                Files.deleteIfExists(tag);
                watched.result.complete(
                    new Download(file, d.bytes(), d.resumedFrom(), d.encoding()));
              } catch (IOException e) {
                watched.fail(e);
              }
            });
    return watched.result;
  }

  /**
   * Fetches bytes {@code from} to {@code end - 1} of {@code uri} ({@code Range}, no compression)
   * and hands them to {@code receiver} as they arrive, under the watchdog. Nothing is stored here:
   * the receiver keeps what it wants. Completes with the bytes received, or with the receiver's
   * exception when it stopped the transfer, {@link Stalled}, or {@link StatusException} for an
   * answer that is not the range asked for.
   */
  CompletableFuture<Long> range(URI uri, long from, long end, ControllerAccess.Receiver receiver) {
    if (from < 0 || end <= from) {
      throw new IllegalArgumentException("an empty or negative range: " + from + "-" + end);
    }
    HttpRequest.Builder b =
        HttpRequest.newBuilder(uri)
            .timeout(limits.headers())
            .header("Accept-Encoding", "identity")
            .header("Range", "bytes=" + from + "-" + (end - 1));
    Watched<Long> watched = new Watched<>(uri);
    HttpResponse.BodyHandler<Object> handler =
        info -> {
          int status = info.statusCode();
          if ((status == 206 && startsAt(info, from)) || (status == 200 && from == 0)) {
            return watched.subscriber(new ToReceiver(receiver, end - from));
          }
          return watched.subscriber(new Collecting(status, info.headers(), 4096));
        };
    client
        .sendAsync(b.GET().build(), handler)
        .whenComplete(
            (resp, err) -> {
              if (err != null) {
                watched.fail(unwrap(err));
              } else if (resp.body() instanceof Answer a) {
                watched.fail(new StatusException(a));
              } else {
                watched.result.complete((Long) resp.body());
              }
            });
    return watched.result;
  }

  /** An answer that was not the content asked for (404, 500, ...). */
  static final class StatusException extends IOException {
    private final Answer answer;

    StatusException(Answer answer) {
      super("HTTP " + answer.status());
      this.answer = answer;
    }

    Answer answer() {
      return answer;
    }
  }

  private static boolean startsAt(HttpResponse.ResponseInfo info, long offset) {
    // Content-Range: bytes <first>-<last>/<total>
    return info.headers()
        .firstValue("Content-Range")
        .map(v -> v.trim().startsWith("bytes " + offset + "-"))
        .orElse(false);
  }

  private static long size(Path p) {
    try {
      return Files.exists(p) ? Files.size(p) : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  private static Optional<String> read(Path p) {
    try {
      return Files.exists(p) ? Optional.of(Files.readString(p).trim()) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof java.util.concurrent.CompletionException
            || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /** A body subscriber whose progress the watchdog can see and which it can abandon. */
  private abstract static class Body<T> implements HttpResponse.BodySubscriber<T> {
    final CompletableFuture<T> done = new CompletableFuture<>();
    volatile long received;

    /** Why this body was given up, if it was: the client's own error says less. */
    volatile IOException abandoned;

    private volatile Flow.Subscription subscription;

    @Override
    public CompletionStage<T> getBody() {
      return done;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
      try {
        for (ByteBuffer b : items) {
          received += b.remaining();
          take(b);
        }
      } catch (IOException e) {
        abandon(e);
        return;
      }
      Flow.Subscription s = subscription;
      if (s != null && !done.isDone()) {
        s.request(1);
      }
    }

    @Override
    public void onError(Throwable t) {
      finish();
      done.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      try {
        done.complete(result());
      } catch (IOException e) {
        done.completeExceptionally(e);
      }
    }

    /** Stops reading: the connection is closed and the body completes with {@code e}. */
    void abandon(IOException e) {
      abandoned = e;
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
      finish();
      done.completeExceptionally(e);
    }

    abstract void take(ByteBuffer bytes) throws IOException;

    abstract T result() throws IOException;

    void finish() {}
  }

  /** Collects a small body in memory. */
  private static final class Collecting extends Body<Answer> {
    private final int status;
    private final HttpHeaders headers;
    private final int max;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Collecting(int status, HttpHeaders headers, int max) {
      this.status = status;
      this.headers = headers;
      this.max = max;
    }

    @Override
    void take(ByteBuffer bytes) throws IOException {
      if (out.size() + bytes.remaining() > max) {
        throw new IOException("the answer is larger than " + max + " bytes");
      }
      byte[] b = new byte[bytes.remaining()];
      bytes.get(b);
      out.write(b);
    }

    @Override
    Answer result() {
      return new Answer(status, headers, out.toByteArray());
    }
  }

  /** Hands a body to a receiver, at most {@code max} bytes of it. */
  private static final class ToReceiver extends Body<Object> {
    private final ControllerAccess.Receiver receiver;
    private final long max;

    ToReceiver(ControllerAccess.Receiver receiver, long max) {
      this.receiver = receiver;
      this.max = max;
    }

    @Override
    void take(ByteBuffer bytes) throws IOException {
      if (received > max) {
        throw new IOException("the answer holds more than the " + max + " bytes asked for");
      }
      receiver.take(bytes);
    }

    @Override
    Object result() {
      return received;
    }
  }

  /** Appends a body to a partial file, synced when complete. */
  private static final class ToFile extends Body<Object> {
    private final Path part;
    private final long from;
    private final long max;
    private final String encoding;
    private FileChannel channel;

    ToFile(Path part, long from, long max, HttpResponse.ResponseInfo info, Path tag) {
      this.part = part;
      this.from = from;
      this.max = max;
      this.encoding = info.headers().firstValue("Content-Encoding").orElse("").trim();
      try {
        SecureFiles.createPrivateDirectories(part.getParent());
        if (from == 0) {
          Files.deleteIfExists(part);
          Optional<String> etag = info.headers().firstValue("ETag");
          if (etag.isPresent()) {
            SecureFiles.writeSecret(tag, etag.get());
          } else {
            Files.deleteIfExists(tag);
          }
          channel =
              FileChannel.open(
                  part,
                  java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                  SecureFiles.ownerOnlyFile());
        } else {
          channel = FileChannel.open(part, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + part, e);
      }
    }

    @Override
    void take(ByteBuffer bytes) throws IOException {
      if (from + received > max) {
        throw new IOException("the download is larger than " + max + " bytes");
      }
      while (bytes.hasRemaining()) {
        channel.write(bytes);
      }
    }

    @Override
    Object result() throws IOException {
      channel.force(false);
      channel.close();
      return new Download(part, from + received, from, encoding);
    }

    @Override
    void finish() {
      try {
        if (channel != null && channel.isOpen()) {
          channel.close();
        }
      } catch (IOException e) {
        // The partial file keeps what was written; the next attempt checks its length.
      }
    }
  }

  /**
   * One exchange under the watchdog: every second it checks that the body made progress, and
   * abandons it when fewer than {@code minBytes} arrived in a whole window.
   */
  private final class Watched<T> {
    final CompletableFuture<T> result = new CompletableFuture<>();
    private final URI uri;
    private final AtomicBoolean started = new AtomicBoolean();
    private volatile Body<?> body;
    private ScheduledFuture<?> check;
    private long windowStart;
    private long windowBytes;

    Watched(URI uri) {
      this.uri = uri;
    }

    @SuppressWarnings("unchecked")
    <B> HttpResponse.BodySubscriber<B> subscriber(Body<?> b) {
      body = b;
      if (started.compareAndSet(false, true)) {
        windowStart = System.nanoTime();
        check = timer.scheduleWithFixedDelay(this::check, 1, 1, TimeUnit.SECONDS);
        result.whenComplete((x, e) -> check.cancel(false));
      }
      return (HttpResponse.BodySubscriber<B>) b;
    }

    private void check() {
      Body<?> b = body;
      if (b == null || result.isDone()) {
        return;
      }
      long now = System.nanoTime();
      if (now - windowStart < limits.progressWindow().toNanos()) {
        return;
      }
      long got = b.received - windowBytes;
      if (got < limits.minBytes()) {
        stalls.incrementAndGet();
        b.abandon(
            new Stalled(
                "the transfer from "
                    + uri.getHost()
                    + " stalled: "
                    + got
                    + " bytes in the last "
                    + limits.progressWindow().toSeconds()
                    + "s after "
                    + b.received
                    + " bytes"));
      }
      windowStart = now;
      windowBytes = b.received;
    }

    void fail(Throwable t) {
      Body<?> b = body;
      result.completeExceptionally(b != null && b.abandoned != null ? b.abandoned : t);
    }
  }
}
