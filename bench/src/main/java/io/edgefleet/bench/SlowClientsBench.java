package io.edgefleet.bench;

import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * How a controller answers {@code /healthz} while hostile clients send request bodies one byte at a
 * time. Starts a controller process from the distribution in {@code --root}, measures the latency
 * of {@code GET /healthz} on fresh TLS connections (one probe every 200 ms, 10 s timeout) first
 * with no load, then while {@code --clients} connections each send {@code POST
 * /device/v1/enrollments} headers announcing 60,000 bytes and then one byte every 5 s. Prints and
 * writes JSON with p50, p99, max and the number of probes that failed or timed out.
 *
 * <pre>
 *   bench/slow-clients.sh [--clients 500] [--seconds 30] [--root DIR]
 * </pre>
 */
public final class SlowClientsBench {
  private final Path root;
  private final int clients;
  private final Duration window;
  private final Path work;
  private Process controller;
  private int port;
  private SSLContext tls;

  private SlowClientsBench(Path root, int clients, Duration window) throws IOException {
    this.root = root;
    this.clients = clients;
    this.window = window;
    this.work = Files.createTempDirectory("edgefleet-slow-clients-");
  }

  public static void main(String[] args) throws Exception {
    Path root = Path.of(".");
    int clients = 500;
    int seconds = 30;
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--root" -> root = Path.of(args[++i]);
        case "--clients" -> clients = Integer.parseInt(args[++i]);
        case "--seconds" -> seconds = Integer.parseInt(args[++i]);
        case "--out" -> out = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    SlowClientsBench bench = new SlowClientsBench(root, clients, Duration.ofSeconds(seconds));
    Map<String, Object> result;
    try {
      result = bench.run();
    } finally {
      bench.stop();
    }
    String json = Json.pretty(result);
    System.out.println(json);
    if (out != null) {
      Files.createDirectories(out.toAbsolutePath().getParent());
      Files.writeString(out, json + "\n");
    }
  }

  private Map<String, Object> run() throws Exception {
    startController();
    System.err.printf("controller on port %d; probing /healthz for %ds without load%n", port, 10);
    Stats idle = probe(Duration.ofSeconds(10));
    System.err.printf("idle: %s%n", idle);

    List<Socket> slow = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger refused = new AtomicInteger();
    ExecutorService openers = Executors.newFixedThreadPool(32);
    for (int i = 0; i < clients; i++) {
      openers.submit(
          () -> {
            try {
              SSLSocket s = handshake(Duration.ofSeconds(30));
              s.getOutputStream()
                  .write(
                      ("POST /device/v1/enrollments HTTP/1.1\r\nHost: x\r\n"
                              + "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
                          .getBytes(StandardCharsets.US_ASCII));
              s.getOutputStream().flush();
              slow.add(s);
            } catch (IOException e) {
              refused.incrementAndGet();
            }
          });
    }
    // Probing starts while the slow clients are still connecting, as an attack would.
    ScheduledExecutorService drip = Executors.newSingleThreadScheduledExecutor();
    AtomicInteger dripping = new AtomicInteger();
    drip.scheduleAtFixedRate(
        () -> {
          int alive = 0;
          synchronized (slow) {
            for (Socket s : slow) {
              try {
                OutputStream o = s.getOutputStream();
                o.write(' ');
                o.flush();
                alive++;
              } catch (IOException e) {
                // closed by the controller
              }
            }
          }
          dripping.set(alive);
        },
        5,
        5,
        TimeUnit.SECONDS);
    System.err.printf(
        "%d slow clients, one byte each every 5 s; probing for %ds%n", clients, window.toSeconds());
    Stats loaded = probe(window);
    System.err.printf("loaded: %s%n", loaded);
    openers.shutdownNow();
    drip.shutdownNow();
    int held = dripping.get();
    synchronized (slow) {
      for (Socket s : slow) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing
        }
      }
    }
    return Map.of(
        "clients",
        clients,
        "slowClientsConnected",
        slow.size(),
        "slowClientsRefusedOrFailed",
        refused.get(),
        "slowClientsStillDrippingAtEnd",
        held,
        "idle",
        idle.json(),
        "underSlowClients",
        loaded.json(),
        "root",
        root.toAbsolutePath().normalize().toString());
  }

  record Stats(List<Long> millis, int failed) {
    Map<String, Object> json() {
      List<Long> sorted = new ArrayList<>(millis);
      Collections.sort(sorted);
      return Map.of(
          "probes",
          millis.size() + failed,
          "failed",
          failed,
          "p50Ms",
          pct(sorted, 0.50),
          "p99Ms",
          pct(sorted, 0.99),
          "maxMs",
          sorted.isEmpty() ? -1 : sorted.getLast());
    }

    static long pct(List<Long> sorted, double p) {
      return sorted.isEmpty()
          ? -1
          : sorted.get((int) Math.min(sorted.size() - 1, p * sorted.size()));
    }

    @Override
    public String toString() {
      return json().toString();
    }
  }

  /** Probes {@code /healthz} every 200 ms on a fresh TLS connection, each with 10 s to answer. */
  private Stats probe(Duration during) throws InterruptedException {
    ConcurrentLinkedQueue<Long> ok = new ConcurrentLinkedQueue<>();
    AtomicInteger failed = new AtomicInteger();
    ExecutorService probes = Executors.newVirtualThreadPerTaskExecutor();
    long end = System.nanoTime() + during.toNanos();
    while (System.nanoTime() < end) {
      probes.submit(
          () -> {
            long t0 = System.nanoTime();
            try (SSLSocket s = handshake(Duration.ofSeconds(10))) {
              s.getOutputStream()
                  .write(
                      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                          .getBytes(StandardCharsets.US_ASCII));
              s.getOutputStream().flush();
              InputStream in = s.getInputStream();
              byte[] head = in.readNBytes(12);
              if (new String(head, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200")) {
                ok.add((System.nanoTime() - t0) / 1_000_000);
              } else {
                failed.incrementAndGet();
              }
            } catch (IOException e) {
              failed.incrementAndGet();
            }
          });
      TimeUnit.MILLISECONDS.sleep(200); // the probe cadence, not a synchronisation
    }
    probes.shutdown();
    probes.awaitTermination(15, TimeUnit.SECONDS);
    return new Stats(List.copyOf(ok), failed.get());
  }

  private SSLSocket handshake(Duration timeout) throws IOException {
    Socket plain = new Socket();
    plain.connect(new InetSocketAddress("127.0.0.1", port), (int) timeout.toMillis());
    plain.setSoTimeout((int) timeout.toMillis());
    SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(plain, "127.0.0.1", port, true);
    s.startHandshake();
    return s;
  }

  private void startController() throws Exception {
    try (ServerSocket free = new ServerSocket(0)) {
      port = free.getLocalPort();
    }
    Path data = work.resolve("controller");
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.addAll(ScaleBench.CONTROLLER_OPTS);
    cmd.addAll(
        List.of(
            "-cp",
            root.resolve("launcher/target/dist/lib") + "/*",
            "io.edgefleet.launcher.Main",
            "controller",
            "--data",
            data.toString(),
            "--listen",
            "127.0.0.1:" + port));
    Path log = work.resolve("controller.log");
    controller =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline) {
      if (Files.exists(log) && Files.readString(log).contains("serving https://")) {
        break;
      }
      if (!controller.isAlive()) {
        throw new IllegalStateException("controller exited; see " + log);
      }
      TimeUnit.MILLISECONDS.sleep(200); // polling a process's log for its start line
    }
    String ca = Fingerprints.of(Pem.certificateOf(Files.readString(data.resolve("pki/ca.crt"))));
    tls = TlsContexts.pinned(new PinnedCaTrustManager(ca));
  }

  private void stop() {
    if (controller != null) {
      controller.destroyForcibly();
    }
  }
}
