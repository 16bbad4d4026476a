package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.testkit.TestAgents;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A controller that sends a message right behind its welcome: the agent handles the welcome on its
 * own thread, later than the socket delivers the next message, and must still give that message to
 * the features once they know the link.
 */
class EarlyMessagesIT {
  @TempDir Path dir;

  @Test
  void aChallengeRightBehindTheWelcomeIsAnsweredOnceTheWelcomeIsHandled() throws Exception {
    ControllerPki pki =
        ControllerPki.open(
            dir.resolve("pki"), List.of("localhost", "127.0.0.1"), Clock.systemUTC());
    HeldScheduler scheduler = new HeldScheduler();
    ExecutorService http = Executors.newVirtualThreadPerTaskExecutor();
    try (FakeController fake = new FakeController(pki, scheduler);
        TestAgents agents = new TestAgents(dir)) {
      Path bootstrap =
          agents.bootstrap(
              "fake", "https://localhost:" + fake.port(), pki.caFingerprint(), "token-1");
      Agent agent =
          new Agent(
              agents.options("early", bootstrap),
              scheduler,
              http,
              RandomGenerator.getDefault(),
              Clock.systemUTC(),
              System.out,
              new NoRuntime("no workloads in this test"));
      agent.start();
      try {
        // The welcome and the challenge behind it were read by the agent (its answer to the
        // ping that followed them came back) while its handling of the welcome was held.
        assertThat(fake.pinged.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(scheduler.held()).isPositive();
        assertThat(fake.answers).isEmpty();

        scheduler.release();

        await()
            .atMost(Duration.ofSeconds(20))
            .untilAsserted(
                () ->
                    assertThat(fake.answers)
                        .singleElement()
                        .satisfies(
                            a -> {
                              assertThat(a.id()).isEqualTo("early-1");
                              // A software identity answers why it gives no quote.
                              assertThat(a.quote()).isNull();
                              assertThat(a.error()).contains("no TPM");
                            }));
        assertThat(agent.status().state()).isEqualTo(Agent.State.CONNECTED);
      } finally {
        agent.close();
      }
    } finally {
      scheduler.shutdownNow();
      http.shutdownNow();
    }
  }

  /** A scheduler whose immediate tasks wait, once {@link #hold()} was called, until released. */
  static final class HeldScheduler extends ScheduledThreadPoolExecutor {
    private final List<Runnable> held = new ArrayList<>();
    private boolean holding;

    HeldScheduler() {
      super(2);
    }

    synchronized void hold() {
      holding = true;
    }

    synchronized int held() {
      return held.size();
    }

    void release() {
      List<Runnable> now;
      synchronized (this) {
        holding = false;
        now = List.copyOf(held);
        held.clear();
      }
      now.forEach(super::execute);
    }

    @Override
    public void execute(Runnable command) {
      synchronized (this) {
        if (holding) {
          held.add(command);
          return;
        }
      }
      super.execute(command);
    }
  }

  /**
   * Enrolls the device and serves its WebSocket over real TLS: on the hello it holds the agent's
   * scheduler, then sends the welcome, an attestation challenge and a ping.
   */
  static final class FakeController implements AutoCloseable {
    private static final String WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    final List<AgentMessage.AttestationAnswer> answers = new CopyOnWriteArrayList<>();
    final CountDownLatch pinged = new CountDownLatch(1);
    private final ControllerPki pki;
    private final HeldScheduler scheduler;
    private final SSLServerSocket server;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    FakeController(ControllerPki pki, HeldScheduler scheduler) throws Exception {
      this.pki = pki;
      this.scheduler = scheduler;
      this.server =
          (SSLServerSocket)
              context(pki)
                  .getServerSocketFactory()
                  .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
      threads.execute(this::accept);
    }

    int port() {
      return server.getLocalPort();
    }

    private void accept() {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          sockets.add(s);
          threads.execute(() -> serve(s));
        } catch (IOException e) {
          return;
        }
      }
    }

    private void serve(Socket s) {
      try (s) {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        while (true) {
          String requestLine = line(in);
          if (requestLine == null || requestLine.isEmpty()) {
            return;
          }
          Map<String, String> headers = new HashMap<>();
          for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
            int colon = h.indexOf(':');
            headers.put(
                h.substring(0, colon).trim().toLowerCase(Locale.ROOT),
                h.substring(colon + 1).trim());
          }
          String path = requestLine.split(" ")[1];
          byte[] body =
              in.readNBytes(Integer.parseInt(headers.getOrDefault("content-length", "0")));
          if (path.startsWith(DeviceApi.CONNECT) && headers.containsKey("sec-websocket-key")) {
            webSocket(headers.get("sec-websocket-key"), in, out);
            return;
          }
          if (path.startsWith(DeviceApi.ENROLLMENTS)) {
            respond(out, 200, Json.writeBytes(enroll(body)));
          } else {
            respond(out, 503, "{}".getBytes(StandardCharsets.UTF_8));
          }
        }
      } catch (Exception e) {
        // The agent went away.
      }
    }

    private EnrollmentResponse enroll(byte[] body) throws IOException {
      EnrollmentRequest req = Json.mapper().readValue(body, EnrollmentRequest.class);
      X509Certificate cert =
          pki.issueDevice("dev-early", ControllerPki.validateCsr(req.csrPem()).publicKey());
      return new EnrollmentResponse(
          EnrollmentResponse.Status.APPROVED,
          "dev-early",
          null,
          null,
          Pem.certificate(cert),
          Pem.certificate(pki.caCertificate()),
          null,
          null,
          null);
    }

    private void webSocket(String key, InputStream in, OutputStream out) throws Exception {
      String accept =
          Base64.getEncoder()
              .encodeToString(
                  MessageDigest.getInstance("SHA-1")
                      .digest((key + WS_GUID).getBytes(StandardCharsets.US_ASCII)));
      out.write(
          ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  + "Sec-WebSocket-Accept: "
                  + accept
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      DataInputStream data = new DataInputStream(in);
      while (true) {
        int b0 = data.readUnsignedByte();
        int b1 = data.readUnsignedByte();
        long len = b1 & 0x7f;
        if (len == 126) {
          len = data.readUnsignedShort();
        } else if (len == 127) {
          len = data.readLong();
        }
        byte[] mask = new byte[4];
        if ((b1 & 0x80) != 0) {
          data.readFully(mask);
        }
        byte[] payload = new byte[(int) len];
        data.readFully(payload);
        for (int i = 0; i < payload.length; i++) {
          payload[i] ^= mask[i % 4];
        }
        switch (b0 & 0x0f) {
          case 0x1 -> text(new String(payload, StandardCharsets.UTF_8), out);
          case 0xA -> pinged.countDown();
          case 0x8 -> {
            return;
          }
          default -> {}
        }
      }
    }

    private void text(String text, OutputStream out) throws IOException {
      AgentMessage m = Json.mapper().readValue(text, AgentMessage.class);
      if (m instanceof AgentMessage.Hello) {
        // From here the agent's own thread runs nothing until the test releases it: the welcome
        // is read on the socket's thread but handled later.
        scheduler.hold();
        send(out, new ControllerMessage.Welcome("dev-early", 30, 0, 0, true, List.of()));
        send(
            out,
            new ControllerMessage.AttestationChallenge(
                "early-1", Base64.getEncoder().encodeToString(new byte[32]), List.of(0, 7)));
        // Answered only once the agent read the messages before it.
        frame(out, 0x9, new byte[0]);
      } else if (m instanceof AgentMessage.AttestationAnswer a) {
        answers.add(a);
      }
    }

    private static void send(OutputStream out, ControllerMessage m) throws IOException {
      frame(
          out,
          0x1,
          Json.mapper()
              .writerFor(ControllerMessage.class)
              .writeValueAsString(m)
              .getBytes(StandardCharsets.UTF_8));
    }

    private static synchronized void frame(OutputStream out, int opcode, byte[] payload)
        throws IOException {
      ByteArrayOutputStream f = new ByteArrayOutputStream();
      f.write(0x80 | opcode);
      if (payload.length < 126) {
        f.write(payload.length);
      } else {
        f.write(126);
        f.write(payload.length >> 8);
        f.write(payload.length & 0xff);
      }
      f.write(payload);
      out.write(f.toByteArray());
      out.flush();
    }

    private static void respond(OutputStream out, int status, byte[] body) throws IOException {
      out.write(
          ("HTTP/1.1 "
                  + status
                  + " X\r\nContent-Type: application/json\r\nContent-Length: "
                  + body.length
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.write(body);
      out.flush();
    }

    private static String line(InputStream in) throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      int c;
      while ((c = in.read()) != -1) {
        if (c == '\n') {
          return b.toString(StandardCharsets.US_ASCII).stripTrailing();
        }
        b.write(c);
      }
      return b.size() == 0 ? null : b.toString(StandardCharsets.US_ASCII);
    }

    private static SSLContext context(ControllerPki pki) throws Exception {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry(
          "server",
          pki.serverKey(),
          "x".toCharArray(),
          new X509Certificate[] {pki.serverCertificate(), pki.caCertificate()});
      KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
      kmf.init(ks, "x".toCharArray());
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), null, new SecureRandom());
      return ctx;
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : sockets) {
        s.close();
      }
      threads.shutdownNow();
    }
  }
}
