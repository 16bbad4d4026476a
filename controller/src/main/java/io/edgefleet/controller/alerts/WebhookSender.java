package io.edgefleet.controller.alerts;

import io.edgefleet.controller.Controller;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
   * POSTs JSON with the JDK HTTP client: connection and answer within the timeout, no redirects,
   * HTTPS verified against the JDK's trust store plus the receiver's own CA if it has one.
   */
  final class Http implements WebhookSender {
    private final Duration timeout;
    private final Map<String, HttpClient> clients = new ConcurrentHashMap<>();

    Http(Duration timeout) {
      this.timeout = timeout;
    }

    @Override
    public Result send(AlertReceivers.Target target, byte[] body) {
      HttpClient client =
          clients.computeIfAbsent(
              target.caPem() == null ? "" : target.caPem(), ca -> client(ca, timeout));
      HttpRequest request =
          HttpRequest.newBuilder(target.url())
              .timeout(timeout)
              .header("Content-Type", "application/json")
              .header("User-Agent", "edgefleet-controller/" + Controller.VERSION)
              .POST(HttpRequest.BodyPublishers.ofByteArray(body))
              .build();
      try {
        HttpResponse<String> r =
            client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        int s = r.statusCode();
        if (s / 100 == 2) {
          return Result.ok(s);
        }
        String excerpt = r.body() == null ? "" : r.body().strip();
        excerpt = excerpt.length() > 200 ? excerpt.substring(0, 200) + "…" : excerpt;
        boolean retryable = s >= 500 || s == 408 || s == 425 || s == 429;
        return Result.failed(
            retryable, "HTTP " + s + (excerpt.isEmpty() ? "" : ": " + excerpt) + at(target.url()));
      } catch (IOException e) {
        return Result.failed(true, reason(e) + at(target.url()));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Result.failed(true, "interrupted");
      }
    }

    @Override
    public void close() {
      clients.values().forEach(HttpClient::close);
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

    private static HttpClient client(String caPem, Duration timeout) {
      HttpClient.Builder b =
          HttpClient.newBuilder()
              .connectTimeout(timeout)
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
  }
}
