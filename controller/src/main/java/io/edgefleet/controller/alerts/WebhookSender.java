package io.edgefleet.controller.alerts;

import io.edgefleet.controller.common.ControllerVersion;
import io.edgefleet.protocol.Durations;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** Delivers one notification body to one receiver. */
interface WebhookSender {

  /**
   * The outcome of one delivery.
   *
   * @param retryable whether the same body may succeed later (timeouts, 5xx, 429)
   * @param detail what happened, for the operator ({@code HTTP 500: …}, {@code connection refused})
   */
  record Result(boolean delivered, boolean retryable, String detail) {
    static Result ok(int status) {
      return new Result(true, false, "HTTP " + status);
    }

    static Result failed(boolean retryable, String detail) {
      return new Result(false, retryable, detail);
    }
  }

  Result send(AlertReceivers.Target target, byte[] body);

  /** Releases connections. */
  default void close() {}

  /**
   * POSTs JSON with the JDK HTTP client: no redirects, HTTPS verified against the JDK's trust store
   * plus the receiver's own CA if it has one.
   *
   * <p>A delivery ends by its deadline, whatever the receiver does: connecting, TLS, sending the
   * body, waiting for the status and reading the answer all count against it. Of the answer's body
   * at most {@link #MAX_ANSWER_BYTES} are read (enough for an error message); the rest is not read,
   * and the connection is closed. A receiver that answered {@code 2xx} has the notification even if
   * its body drips past the deadline.
   */
  final class Http implements WebhookSender {
    /** Bytes of an answer's body read at most; the excerpt in the result is shorter still. */
    static final int MAX_ANSWER_BYTES = 4096;

    private static final int MAX_EXCERPT_CHARS = 200;

    private final Duration deadline;
    private final Map<String, HttpClient> clients = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /**
     * @param deadline the longest one delivery may take, from connecting to the last byte read
     */
    Http(Duration deadline) {
      this.deadline = deadline;
    }

    @Override
    public Result send(AlertReceivers.Target target, byte[] body) {
      long start = System.nanoTime();
      HttpClient client =
          clients.computeIfAbsent(
              target.caPem() == null ? "" : target.caPem(), ca -> client(ca, deadline));
      if (closed) {
        // close() may have gone over the clients before this one was added.
        client.shutdownNow();
        return Result.failed(true, "not sent: the controller is stopping");
      }
      HttpRequest request =
          HttpRequest.newBuilder(target.url())
              .timeout(deadline)
              .header("Content-Type", "application/json")
              .header("User-Agent", "edgefleet-controller/" + ControllerVersion.CURRENT)
              .POST(HttpRequest.BodyPublishers.ofByteArray(body))
              .build();
      Excerpt answer = new Excerpt(MAX_ANSWER_BYTES);
      CompletableFuture<HttpResponse<byte[]>> call =
          client.sendAsync(request, info -> answer.of(info.statusCode()));
      try {
        long left = deadline.toNanos() - (System.nanoTime() - start);
        HttpResponse<byte[]> r = call.get(Math.max(left, 0), TimeUnit.NANOSECONDS);
        return answered(r.statusCode(), r.body(), null, target.url());
      } catch (TimeoutException e) {
        abort(call, answer);
        int status = answer.status();
        if (status == 0) {
          return Result.failed(true, "no answer within " + human(deadline) + at(target.url()));
        }
        return answered(
            status,
            answer.read(),
            "the answer did not end within " + human(deadline),
            target.url());
      } catch (ExecutionException e) {
        Throwable cause = e.getCause() == null ? e : e.getCause();
        String why =
            switch (cause) {
              case HttpConnectTimeoutException t -> "no connection within " + human(deadline);
              case HttpTimeoutException t -> "no answer within " + human(deadline);
              default -> reason(cause);
            };
        return Result.failed(true, why + at(target.url()));
      } catch (InterruptedException e) {
        abort(call, answer);
        Thread.currentThread().interrupt();
        return Result.failed(true, "interrupted");
      }
    }

    /** Stops the exchange: the client closes its connection, nothing more is read. */
    private static void abort(CompletableFuture<?> call, Excerpt answer) {
      answer.cancel();
      call.cancel(true);
    }

    /** What an answer means, from its status and the start of its body. */
    private static Result answered(int status, byte[] body, String unfinished, URI url) {
      if (status / 100 == 2) {
        return Result.ok(status);
      }
      String excerpt = excerpt(body);
      boolean retryable = status >= 500 || status == 408 || status == 425 || status == 429;
      return Result.failed(
          retryable,
          "HTTP "
              + status
              + (excerpt.isEmpty() ? "" : ": " + excerpt)
              + (unfinished == null ? "" : " (" + unfinished + ")")
              + at(url));
    }

    /**
     * The start of a body as one line: control characters (a receiver's newlines could forge log
     * lines) become spaces, and at most {@link #MAX_EXCERPT_CHARS} characters are kept.
     */
    static String excerpt(byte[] body) {
      if (body == null || body.length == 0) {
        return "";
      }
      String text = new String(body, StandardCharsets.UTF_8).replaceAll("\\p{Cntrl}", " ").strip();
      return text.length() > MAX_EXCERPT_CHARS ? text.substring(0, MAX_EXCERPT_CHARS) + "…" : text;
    }

    private static String human(Duration d) {
      return d.toMillis() % 1000 == 0 ? Durations.human(d) : d.toMillis() + "ms";
    }

    /** Aborts exchanges still under way and releases connections, without waiting for them. */
    @Override
    public void close() {
      closed = true;
      clients.values().forEach(HttpClient::shutdownNow);
      clients.clear();
    }

    private static String at(URI url) {
      return " (" + AlertReceivers.hint(url) + ")";
    }

    private static String reason(Throwable e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t.getMessage() != null && !t.getMessage().isBlank()) {
          return e.getClass().getSimpleName() + ": " + t.getMessage();
        }
      }
      return e.getClass().getSimpleName();
    }

    private static HttpClient client(String caPem, Duration deadline) {
      HttpClient.Builder b =
          HttpClient.newBuilder()
              .connectTimeout(deadline)
              .followRedirects(HttpClient.Redirect.NEVER);
      if (!caPem.isEmpty()) {
        b.sslContext(sslContext(caPem));
      }
      return b.build();
    }

    /** The JDK's trust anchors plus the receiver's CA. */
    static SSLContext sslContext(String caPem) {
      try {
        TrustManagerFactory jdk =
            TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        jdk.init((KeyStore) null);
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        int i = 0;
        for (var tm : jdk.getTrustManagers()) {
          if (tm instanceof X509TrustManager x) {
            for (X509Certificate c : x.getAcceptedIssuers()) {
              trust.setCertificateEntry("jdk-" + i++, c);
            }
          }
        }
        for (X509Certificate c : AlertReceivers.certificates(caPem)) {
          trust.setCertificateEntry("receiver-" + i++, c);
        }
        TrustManagerFactory tmf =
            TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
      } catch (java.security.GeneralSecurityException | IOException e) {
        throw new IllegalStateException("cannot build the receiver's trust store", e);
      }
    }

    /**
     * The body of an answer, of which at most {@code limit} bytes are read: once they are in, the
     * subscription is cancelled, which makes the client close the connection instead of reading (or
     * buffering) the rest. Also keeps the status, for an answer cut off by the deadline.
     */
    static final class Excerpt implements HttpResponse.BodySubscriber<byte[]> {
      private final int limit;
      private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      private final CompletableFuture<byte[]> result = new CompletableFuture<>();
      private volatile Flow.Subscription subscription;
      private volatile int status;
      private volatile boolean cancelled;

      Excerpt(int limit) {
        this.limit = limit;
      }

      Excerpt of(int status) {
        this.status = status;
        return this;
      }

      /** The status of the answer, 0 before its headers came. */
      int status() {
        return status;
      }

      /** What was read so far. */
      synchronized byte[] read() {
        return bytes.toByteArray();
      }

      void cancel() {
        cancelled = true;
        Flow.Subscription s = subscription;
        if (s != null) {
          s.cancel();
        }
      }

      @Override
      public void onSubscribe(Flow.Subscription s) {
        subscription = s;
        if (cancelled) {
          s.cancel();
        } else {
          s.request(1);
        }
      }

      @Override
      public void onNext(List<ByteBuffer> items) {
        boolean full;
        synchronized (this) {
          for (ByteBuffer b : items) {
            int n = Math.min(b.remaining(), limit - bytes.size());
            byte[] chunk = new byte[n];
            b.get(chunk);
            bytes.writeBytes(chunk);
          }
          full = bytes.size() >= limit;
        }
        if (full) {
          cancel();
          result.complete(read());
        } else {
          subscription.request(1);
        }
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onComplete() {
        result.complete(read());
      }

      @Override
      public CompletionStage<byte[]> getBody() {
        return result;
      }
    }
  }
}
