package io.edgefleet.controller.audit;

import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams committed audit entries to a SIEM: a webhook and/or a syslog receiver (decision 0034).
 * One background thread delivers each sink's entries in sequence order, a page of at most {@link
 * #BATCH} at a time, from the sink's persisted cursor ({@code audit_sink_cursors}); the cursor
 * moves only after the sink took the page. A failed page is retried with exponential backoff, so
 * delivery is at least once: after a failure or a restart a page may be sent again, and receivers
 * deduplicate by {@code seq}. Only committed entries are read, and entries commit in sequence order
 * (the chain head is held until commit), so no entry is skipped. Memory is bounded by one page per
 * sink. Several controllers sharing one database each run this thread: the cursor only moves
 * forward, from where a controller read it, so a page may reach the receiver twice but none is
 * skipped. Thread-safe.
 */
public final class AuditSinks implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AuditSinks.class);
  static final int BATCH = 100;

  /** Pages one sink may send in one round before the others get their turn. */
  private static final int PAGES_PER_ROUND = 10;

  /** The cursor name of the webhook sink. */
  static final String WEBHOOK = "webhook";

  /** The cursor name of the syslog sink. */
  static final String SYSLOG = "syslog";

  /** A receiver of audit entries. */
  public interface Sink {
    /** A stable name: the key of its cursor. */
    String name();

    /** Delivers a page, in order; returns only once the receiver took all of it. */
    void deliver(List<AuditLog.ChainedEntry> entries) throws IOException;
  }

  /** How a sink is doing. */
  public record Status(String sink, long deliveredSeq, int failures, String lastError) {}

  private final AuditLog log;
  private final List<Sink> sinks;
  private final Clock clock;
  private final Duration poll;
  private final Duration maxBackoff;
  private final Map<String, Integer> failures = new ConcurrentHashMap<>();
  private final Map<String, Long> retryAt = new ConcurrentHashMap<>();
  private final Map<String, String> errors = new ConcurrentHashMap<>();
  private ScheduledExecutorService thread;

  public AuditSinks(
      AuditLog log, List<Sink> sinks, Clock clock, Duration poll, Duration maxBackoff) {
    this.log = log;
    this.sinks = List.copyOf(sinks);
    this.clock = clock;
    this.poll = poll;
    this.maxBackoff = maxBackoff;
  }

  /** The sinks the options configure: a webhook, a syslog receiver, both or none. */
  public static List<Sink> configured(AuditOptions options, Duration timeout) {
    List<Sink> out = new ArrayList<>();
    options.webhook().ifPresent(u -> out.add(new Webhook(u, timeout)));
    options.syslog().ifPresent(t -> out.add(new Syslog(t, timeout)));
    return out;
  }

  /** Starts the delivery thread, when there is a sink. */
  public synchronized void start() {
    if (sinks.isEmpty() || thread != null) {
      return;
    }
    thread =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "edgefleet-audit-sinks");
              t.setDaemon(true);
              return t;
            });
    thread.scheduleWithFixedDelay(
        this::deliverSafely, 0, Math.max(10, poll.toMillis()), TimeUnit.MILLISECONDS);
  }

  private void deliverSafely() {
    try {
      deliver();
    } catch (RuntimeException e) {
      LOG.warn("audit delivery round failed: {}", e.toString());
    }
  }

  /** One round: each sink whose backoff has passed gets its next pages. */
  void deliver() {
    for (Sink s : sinks) {
      if (clock.millis() < retryAt.getOrDefault(s.name(), 0L)) {
        continue;
      }
      for (int page = 0; page < PAGES_PER_ROUND; page++) {
        long cursor = log.sinkCursor(s.name());
        List<AuditLog.ChainedEntry> entries = log.chained(cursor, BATCH);
        if (entries.isEmpty()) {
          break;
        }
        try {
          s.deliver(entries);
        } catch (IOException | RuntimeException e) {
          int n = failures.merge(s.name(), 1, Integer::sum);
          long backoff = Math.min(maxBackoff.toMillis(), 500L << Math.min(n - 1, 16));
          retryAt.put(s.name(), clock.millis() + backoff);
          errors.put(s.name(), e.getMessage() == null ? e.toString() : e.getMessage());
          LOG.warn(
              "audit sink "
                  + s.name()
                  + " failed (attempt "
                  + n
                  + ", retry in "
                  + backoff
                  + " ms): "
                  + errors.get(s.name()));
          break;
        }
        boolean moved = log.advanceSinkCursor(s.name(), cursor, entries.getLast().seq());
        failures.remove(s.name());
        retryAt.remove(s.name());
        errors.remove(s.name());
        if (!moved || entries.size() < BATCH) {
          break; // another controller delivered meanwhile: read its cursor next round
        }
      }
    }
  }

  /** Each sink's cursor and failures. */
  public List<Status> status() {
    return sinks.stream()
        .map(
            s ->
                new Status(
                    s.name(),
                    log.sinkCursor(s.name()),
                    failures.getOrDefault(s.name(), 0),
                    errors.get(s.name())))
        .toList();
  }

  @Override
  public synchronized void close() {
    if (thread != null) {
      thread.shutdownNow();
      try {
        thread.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      thread = null;
    }
  }

  /** POSTs {@code {"entries": [...]}}; any 2xx answer acknowledges the page. */
  public static final class Webhook implements Sink {
    private final URI url;
    private final Duration timeout;
    private final HttpClient client;

    public Webhook(URI url, Duration timeout) {
      this.url = url;
      this.timeout = timeout;
      this.client =
          HttpClient.newBuilder()
              .connectTimeout(timeout)
              .followRedirects(HttpClient.Redirect.NEVER)
              .build();
    }

    @Override
    public String name() {
      return WEBHOOK;
    }

    @Override
    public void deliver(List<AuditLog.ChainedEntry> entries) throws IOException {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("entries", entries.stream().map(AuditJson::entry).toList());
      HttpRequest request =
          HttpRequest.newBuilder(url)
              .timeout(timeout)
              .header("Content-Type", "application/json")
              .header("User-Agent", "edgefleet-controller")
              .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)))
              .build();
      HttpResponse<Void> response;
      try {
        response = client.send(request, HttpResponse.BodyHandlers.discarding());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
      if (response.statusCode() / 100 != 2) {
        throw new IOException(url + " answered HTTP " + response.statusCode());
      }
    }
  }

  /**
   * RFC 5424 messages, facility 13 (log audit), severity 5 (notice), app name {@code edgefleet},
   * msgid {@code audit}, structured data {@code [edgefleet@32473 seq="…" hash="…"]}, the entry as
   * JSON for the message. Over TCP one connection per page with octet-counted framing (RFC 6587);
   * TCP has no acknowledgement above the kernel, so a page accepted just before the receiver died
   * can be lost: use the webhook for acknowledged delivery. Over UDP one datagram per entry,
   * without any delivery guarantee.
   */
  public static final class Syslog implements Sink {
    private static final int PRI = 13 * 8 + 5;
    private final AuditOptions.SyslogTarget target;
    private final Duration timeout;
    private final String hostname;

    public Syslog(AuditOptions.SyslogTarget target, Duration timeout) {
      this.target = target;
      this.timeout = timeout;
      this.hostname = hostname();
    }

    @Override
    public String name() {
      return SYSLOG;
    }

    @Override
    public void deliver(List<AuditLog.ChainedEntry> entries) throws IOException {
      if (target.udp()) {
        try (DatagramSocket socket = new DatagramSocket()) {
          InetSocketAddress to = new InetSocketAddress(target.host(), target.port());
          for (AuditLog.ChainedEntry e : entries) {
            byte[] b = message(e, hostname).getBytes(StandardCharsets.UTF_8);
            socket.send(new DatagramPacket(b, b.length, to));
          }
        }
        return;
      }
      try (Socket socket = new Socket()) {
        socket.connect(
            new InetSocketAddress(target.host(), target.port()), (int) timeout.toMillis());
        socket.setSoTimeout((int) timeout.toMillis());
        OutputStream out = socket.getOutputStream();
        for (AuditLog.ChainedEntry e : entries) {
          byte[] b = message(e, hostname).getBytes(StandardCharsets.UTF_8);
          out.write((b.length + " ").getBytes(StandardCharsets.US_ASCII));
          out.write(b);
        }
        out.flush();
        socket.shutdownOutput();
      }
    }

    /** One RFC 5424 message for an entry. */
    static String message(AuditLog.ChainedEntry e, String hostname) {
      return "<"
          + PRI
          + ">1 "
          + Instant.ofEpochMilli(e.at().toEpochMilli())
          + " "
          + hostname
          + " edgefleet - audit [edgefleet@32473 seq=\""
          + e.seq()
          + "\" hash=\""
          + e.hash()
          + "\"] "
          + Json.write(AuditJson.entry(e));
    }

    private static String hostname() {
      try {
        String h = InetAddress.getLocalHost().getHostName();
        String clean = h == null ? "" : h.replaceAll("[^!-~]", "");
        return clean.isEmpty() ? "-" : clean.substring(0, Math.min(255, clean.length()));
      } catch (UnknownHostException e) {
        return "-";
      }
    }
  }
}
