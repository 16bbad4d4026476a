package io.edgefleet.controller.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Committed audit entries reach a real local webhook and a real local syslog receiver in sequence
 * order, at least once, across a restart of the receiver and of the controller's sinks.
 */
class AuditSinksTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final Pattern SEQ = Pattern.compile("\\[edgefleet@32473 seq=\"(\\d+)\" hash=\"");

  @TempDir Path dir;
  Database db;
  AuditLog audit;
  AuditSinks sinks;
  int recorded;

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    audit = new AuditLog(db.jdbi(), Clock.systemUTC());
  }

  @AfterEach
  void close() {
    if (sinks != null) {
      sinks.close();
    }
    db.close();
  }

  void record(int n) {
    for (int i = 0; i < n; i++) {
      int k = recorded++;
      db.jdbi().useTransaction(h -> audit.record(h, "admin", "x", "t" + k, Map.of("k", k)));
    }
  }

  AuditSinks sinks(AuditSinks.Sink sink) {
    AuditSinks s =
        new AuditSinks(
            audit, List.of(sink), Clock.systemUTC(), Duration.ofMillis(20), Duration.ofMillis(300));
    s.start();
    return s;
  }

  static List<Long> upTo(long n) {
    return LongStream.rangeClosed(1, n).boxed().toList();
  }

  /** A webhook receiver that can refuse (503) and be stopped and started on the same port. */
  static final class Webhook {
    final List<Long> seqs = Collections.synchronizedList(new ArrayList<>());
    final AtomicBoolean refuse = new AtomicBoolean();
    HttpServer server;
    int port;

    void start() throws IOException {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
      server.createContext(
          "/siem",
          ex -> {
            byte[] body = ex.getRequestBody().readAllBytes();
            if (refuse.get()) {
              ex.sendResponseHeaders(503, -1);
            } else {
              JsonNode entries = Json.mapper().readTree(body).path("entries");
              for (JsonNode e : entries) {
                seqs.add(e.path("seq").asLong());
                assertThat(e.path("hash").asText()).hasSize(64);
                assertThat(e.path("prev").asText()).hasSize(64);
              }
              ex.sendResponseHeaders(204, -1);
            }
            ex.close();
          });
      server.start();
      port = server.getAddress().getPort();
    }

    void stop() {
      server.stop(0);
    }

    List<Long> distinct() {
      synchronized (seqs) {
        return seqs.stream().distinct().toList();
      }
    }
  }

  @Test
  void aWebhookGetsEveryEntryInOrderAcrossRefusalsAndRestarts() throws IOException {
    Webhook hook = new Webhook();
    hook.start();
    URI url = URI.create("http://127.0.0.1:" + hook.port + "/siem");
    record(150);
    sinks = sinks(new AuditSinks.Webhook(url, Duration.ofSeconds(2)));

    await().atMost(WAIT).until(() -> hook.distinct().size() == 150);
    assertThat(hook.distinct()).isEqualTo(upTo(150));

    // The receiver refuses: nothing is skipped, the sink backs off and tries again.
    hook.refuse.set(true);
    record(10);
    await().atMost(WAIT).until(() -> sinks.status().getFirst().failures() > 0);
    assertThat(sinks.status().getFirst().lastError()).contains("HTTP 503");
    hook.refuse.set(false);
    await().atMost(WAIT).until(() -> hook.distinct().size() == 160);

    // The receiver is down, then comes back on the same port.
    hook.stop();
    record(5);
    await().atMost(WAIT).until(() -> sinks.status().getFirst().failures() > 0);
    hook.start();
    await().atMost(WAIT).until(() -> hook.distinct().size() == 165);
    assertThat(sinks.status().getFirst().deliveredSeq()).isEqualTo(165);

    // The controller restarts: delivery resumes from the persisted cursor, nothing is resent.
    sinks.close();
    int sentBefore = hook.seqs.size();
    record(5);
    sinks = sinks(new AuditSinks.Webhook(url, Duration.ofSeconds(2)));
    await().atMost(WAIT).until(() -> hook.distinct().size() == 170);
    assertThat(hook.distinct()).isEqualTo(upTo(170));
    assertThat(hook.seqs.subList(sentBefore, hook.seqs.size()))
        .containsExactly(166L, 167L, 168L, 169L, 170L);
    hook.stop();
  }

  @Test
  void twoControllersSharingTheDatabaseDeliverEveryEntryAndNeverMoveTheCursorBack()
      throws IOException {
    Webhook hook = new Webhook();
    hook.start();
    URI url = URI.create("http://127.0.0.1:" + hook.port + "/siem");
    record(250);
    sinks = sinks(new AuditSinks.Webhook(url, Duration.ofSeconds(2)));
    try (AuditSinks other = sinks(new AuditSinks.Webhook(url, Duration.ofSeconds(2)))) {
      await().atMost(WAIT).until(() -> hook.distinct().size() == 250);
      record(30);
      await().atMost(WAIT).until(() -> hook.distinct().size() == 280);
      await().atMost(WAIT).until(() -> audit.sinkCursor("webhook") == 280);
      assertThat(hook.distinct()).containsExactlyInAnyOrderElementsOf(upTo(280));
    }
    hook.stop();
  }

  /** A syslog receiver over TCP reading octet-counted RFC 5424 frames. */
  static final class SyslogReceiver {
    final List<Long> seqs = Collections.synchronizedList(new ArrayList<>());
    final List<String> messages = Collections.synchronizedList(new ArrayList<>());
    ServerSocket server;
    Thread thread;
    int port;

    void start() throws IOException {
      server = new ServerSocket();
      server.setReuseAddress(true);
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      port = server.getLocalPort();
      ServerSocket s = server;
      thread =
          new Thread(
              () -> {
                while (!s.isClosed()) {
                  try (Socket c = s.accept()) {
                    read(c.getInputStream());
                  } catch (IOException e) {
                    // closed
                  }
                }
              },
              "syslog-receiver");
      thread.start();
    }

    void read(InputStream in) throws IOException {
      while (true) {
        ByteArrayOutputStream len = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1 && b != ' ') {
          len.write(b);
        }
        if (b == -1) {
          return;
        }
        int n = Integer.parseInt(len.toString(StandardCharsets.US_ASCII));
        String msg = new String(in.readNBytes(n), StandardCharsets.UTF_8);
        messages.add(msg);
        Matcher m = SEQ.matcher(msg);
        assertThat(m.find()).as(msg).isTrue();
        seqs.add(Long.parseLong(m.group(1)));
      }
    }

    void stop() throws IOException, InterruptedException {
      server.close();
      thread.join();
    }

    List<Long> distinct() {
      synchronized (seqs) {
        return seqs.stream().distinct().toList();
      }
    }
  }

  @Test
  void aSyslogReceiverGetsRfc5424MessagesInOrderAcrossItsRestart() throws Exception {
    SyslogReceiver syslog = new SyslogReceiver();
    syslog.start();
    record(120);
    sinks =
        sinks(
            new AuditSinks.Syslog(
                new AuditOptions.SyslogTarget("127.0.0.1", syslog.port, false),
                Duration.ofSeconds(2)));

    await().atMost(WAIT).until(() -> syslog.distinct().size() == 120);
    assertThat(syslog.distinct()).isEqualTo(upTo(120));
    String first = syslog.messages.getFirst();
    assertThat(first)
        .matches(
            "<109>1 \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\S+ edgefleet - audit \\[edgefleet@32473 seq=\"1\" hash=\"[0-9a-f]{64}\"\\] \\{.*\\}");
    assertThat(
            Json.mapper()
                .readTree(first.substring(first.indexOf("] ") + 2))
                .path("target")
                .asText())
        .isEqualTo("t0");

    syslog.stop();
    record(7);
    await().atMost(WAIT).until(() -> sinks.status().getFirst().failures() > 0);
    assertThat(syslog.distinct()).hasSize(120);
    syslog.start();
    await().atMost(WAIT).until(() -> syslog.distinct().size() == 127);
    assertThat(syslog.distinct()).isEqualTo(upTo(127));
    syslog.stop();
  }

  @Test
  void aUdpSyslogReceiverGetsOneDatagramPerEntry() throws Exception {
    try (DatagramSocket udp = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
      udp.setSoTimeout(20_000);
      record(3);
      sinks =
          sinks(
              new AuditSinks.Syslog(
                  new AuditOptions.SyslogTarget("127.0.0.1", udp.getLocalPort(), true),
                  Duration.ofSeconds(2)));
      List<Long> seqs = new ArrayList<>();
      byte[] buf = new byte[65_535];
      while (seqs.size() < 3) {
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        udp.receive(p);
        String msg = new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8);
        assertThat(msg).startsWith("<109>1 ");
        Matcher m = SEQ.matcher(msg);
        assertThat(m.find()).as(msg).isTrue();
        seqs.add(Long.parseLong(m.group(1)));
      }
      assertThat(seqs).containsExactly(1L, 2L, 3L);
      await().atMost(WAIT).until(() -> audit.sinkCursor("syslog") == 3);
    }
  }

  @Test
  void syslogTargetsAreParsedAndBadOnesRefusedClearly() {
    assertThat(AuditOptions.SyslogTarget.parse("siem.example:6514"))
        .isEqualTo(new AuditOptions.SyslogTarget("siem.example", 6514, false));
    assertThat(AuditOptions.SyslogTarget.parse("udp://10.0.0.1:514"))
        .isEqualTo(new AuditOptions.SyslogTarget("10.0.0.1", 514, true));
    assertThat(AuditOptions.SyslogTarget.parse("tcp://[::1]:514"))
        .isEqualTo(new AuditOptions.SyslogTarget("::1", 514, false));
    assertThatThrownBy(() -> AuditOptions.SyslogTarget.parse("siem.example"))
        .hasMessageContaining("is not [udp://|tcp://]HOST:PORT");
    assertThatThrownBy(() -> AuditOptions.SyslogTarget.parse("siem:abc"))
        .hasMessageContaining("has no port number");
  }
}
