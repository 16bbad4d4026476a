package io.edgefleet.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What one hostile alert receiver costs the controller: a real controller process (started from a
 * distribution directory, with the launcher's flags for the controller role) notifies two webhook
 * receivers of the same alert, one hostile and one healthy, both loopback sockets in this process.
 * Run by {@code bench/hostile-receiver.sh}; reports figures, asserts nothing.
 *
 * <p>The hostile receiver answers {@code 500} with either a huge body written as fast as the socket
 * takes it ({@code --hostile huge}, {@code --body-mb}, default 300) or a body that drips one byte a
 * second ({@code --hostile drip}, {@code --drip-seconds} bytes, default 90). It is named so that it
 * sorts first: a controller that calls receivers one after the other calls it first. One agent (in
 * this process) enrolls; then a {@code certificate-expiring} rule with {@code within: 400d} fires
 * for it at the next evaluation (every second, {@code --alert-interval 1s}): device certificates
 * are valid for 365 days.
 *
 * <p>Figures: the controller's resident memory ({@code VmRSS}) before the rule, its largest value
 * sampled every 50 ms afterwards and at the end, and the peak the kernel kept ({@code VmHWM}); the
 * time from creating the rule until each receiver got its notification; how many alert evaluations
 * completed in the window after the rule was created ({@code edgefleet_alert_ticks_total}); how
 * many body bytes the hostile receiver managed to write; the error the controller recorded.
 */
public final class HostileReceiverBench {
  static final List<String> CONTROLLER_OPTS =
      List.of("-XX:+UseG1GC", "-XX:MaxRAMPercentage=50", "-XX:+ExitOnOutOfMemoryError");

  private static final Pattern TICKS =
      Pattern.compile("edgefleet_alert_ticks_total\\{outcome=\"ok\"} ([0-9.eE+]+)");

  public static void main(String[] args) throws Exception {
    Path root = Path.of(".").toAbsolutePath().normalize();
    Path dist = null;
    String mode = "huge";
    int bodyMb = 300;
    int dripSeconds = 90;
    int window = 20;
    String label = "run";
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--root" -> root = Path.of(args[++i]).toAbsolutePath();
        case "--dist" -> dist = Path.of(args[++i]).toAbsolutePath();
        case "--hostile" -> mode = args[++i];
        case "--body-mb" -> bodyMb = Integer.parseInt(args[++i]);
        case "--drip-seconds" -> dripSeconds = Integer.parseInt(args[++i]);
        case "--window" -> window = Integer.parseInt(args[++i]);
        case "--label" -> label = args[++i];
        case "--out" -> out = Path.of(args[++i]).toAbsolutePath();
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (!mode.equals("huge") && !mode.equals("drip")) {
      throw new IllegalArgumentException("--hostile huge|drip, not " + mode);
    }
    if (dist == null) {
      dist = root.resolve("launcher/target/dist");
    }
    if (out == null) {
      out =
          root.resolve(
              "bench/results/hostile-receiver-"
                  + mode
                  + "-"
                  + label
                  + "-"
                  + LocalDate.now(ZoneOffset.UTC).toString().replace("-", "")
                  + ".json");
    }
    Path work = Files.createTempDirectory("edgefleet-hostile-");
    Receiver hostile =
        mode.equals("huge")
            ? Receiver.huge(bodyMb * 1024L * 1024L)
            : Receiver.drip(dripSeconds, Duration.ofSeconds(1));
    Receiver healthy = Receiver.ok();
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("label", label);
    result.put("hostile", mode);
    result.put(
        "hostileAnswer",
        mode.equals("huge")
            ? "500, Content-Length " + bodyMb + " MiB, written as fast as the socket takes it"
            : "500, " + dripSeconds + " bytes dripped one per second");
    result.put("distribution", dist.toString());
    result.put("controllerJvm", String.join(" ", CONTROLLER_OPTS));
    Process controller = null;
    try (hostile;
        healthy;
        TestAgents agents = new TestAgents(work)) {
      int port = freePort();
      Path data = work.resolve("controller");
      controller = startController(dist, data, port, work.resolve("controller.log"));
      long pid = controller.pid();
      String token = Files.readString(data.resolve("admin-token")).trim();
      String ca = Fingerprints.of(Pem.certificateOf(Files.readString(data.resolve("pki/ca.crt"))));
      String url = "https://127.0.0.1:" + port;
      AdminClient admin = new AdminClient(url, token, ca);
      checked(
          admin.post(
              "/api/v1/alerts/receivers",
              Map.of("name", "a-hostile", "format", "generic", "url", hostile.url())));
      checked(
          admin.post(
              "/api/v1/alerts/receivers",
              Map.of("name", "ops", "format", "generic", "url", healthy.url())));
      JsonNode onboarding =
          checked(admin.post("/api/v1/onboarding-tokens", Map.of("name", "hostile-bench")));
      Path bootstrap = agents.bootstrap("a1", url, ca, onboarding.path("token").asText());
      Agent agent = agents.start(agents.options("a1", bootstrap));
      waitFor(Duration.ofSeconds(60), () -> agent.status().state() == Agent.State.CONNECTED);
      // Let startup and enrollment settle before the baseline.
      Thread.sleep(3_000);
      long rssBefore = status(pid, "VmRSS");
      long hwmBefore = status(pid, "VmHWM");
      double ticksBefore = ticks(admin, token);
      result.put("rssBeforeBytes", rssBefore);
      result.put("hwmBeforeBytes", hwmBefore);

      AtomicLong peak = new AtomicLong(rssBefore);
      AtomicBoolean sampling = new AtomicBoolean(true);
      long sampled = pid;
      Thread sampler =
          Thread.ofPlatform()
              .daemon()
              .start(
                  () -> {
                    while (sampling.get()) {
                      peak.accumulateAndGet(status(sampled, "VmRSS"), Math::max);
                      try {
                        Thread.sleep(50);
                      } catch (InterruptedException e) {
                        return;
                      }
                    }
                  });

      long t0 = System.nanoTime();
      checked(
          admin.post(
              "/api/v1/alerts/rules",
              Map.of("name", "certs", "type", "certificate-expiring", "within", "400d")));
      long limit = Math.max(dripSeconds, 60) + 60L;
      boolean delivered = waitFor(Duration.ofSeconds(limit), () -> !healthy.requests.isEmpty());
      Long healthyMs = delivered ? (healthy.requests.getFirst() - t0) / 1_000_000 : null;
      Long hostileMs =
          hostile.requests.isEmpty() ? null : (hostile.requests.getFirst() - t0) / 1_000_000;
      long windowEnd = t0 + Duration.ofSeconds(window).toNanos();
      while (System.nanoTime() < windowEnd) {
        Thread.sleep(100);
      }
      double ticksInWindow = ticks(admin, token) - ticksBefore;
      // The hostile answer ends one way or the other (written out, or cut off by the controller).
      waitFor(Duration.ofSeconds(limit), () -> hostile.ended.get() > 0);
      Thread.sleep(2_000);
      sampling.set(false);
      sampler.join();
      long rssAfter = status(pid, "VmRSS");
      long hwmAfter = status(pid, "VmHWM");

      result.put("healthyFirstNotificationMs", healthyMs);
      result.put("hostileFirstRequestMs", hostileMs);
      result.put("alertTicksInWindow", ticksInWindow);
      result.put("windowSeconds", window);
      result.put("rssPeakSampledBytes", peak.get());
      result.put("rssAfterBytes", rssAfter);
      result.put("hwmAfterBytes", hwmAfter);
      result.put("hostileBodyBytesWritten", hostile.written.get());
      result.put("hostileAnswersComplete", hostile.complete.get());
      result.put("hostileAnswersCut", hostile.cut.get());
      JsonNode alerts = admin.get("/api/v1/alerts").body().path("items");
      String lastError =
          alerts.isEmpty() ? null : alerts.get(0).path("delivery").path("lastError").asText(null);
      result.put("recordedError", lastError);
      admin.close();
      agent.close();
    } finally {
      if (controller != null) {
        controller.destroy();
        controller.waitFor();
      }
    }
    report(result);
    Files.createDirectories(out.getParent());
    Files.writeString(out, Json.pretty(result) + "\n");
    System.out.println("written: " + out);
    deleteTree(work);
    System.exit(0);
  }

  private static void report(Map<String, Object> r) {
    System.out.printf(
        Locale.ROOT,
        "%s, hostile receiver: %s%n"
            + "  controller RSS before the alert:  %s%n"
            + "  controller RSS peak (sampled):    %s   (VmHWM %s -> %s)%n"
            + "  controller RSS at the end:        %s%n"
            + "  healthy receiver notified after:  %s ms (hostile receiver called after %s ms)%n"
            + "  alert evaluations in %s s after:  %.0f%n"
            + "  hostile body bytes written:       %d (complete answers %s, cut off %s)%n"
            + "  error recorded:                   %s%n",
        r.get("label"),
        r.get("hostileAnswer"),
        mib(r.get("rssBeforeBytes")),
        mib(r.get("rssPeakSampledBytes")),
        mib(r.get("hwmBeforeBytes")),
        mib(r.get("hwmAfterBytes")),
        mib(r.get("rssAfterBytes")),
        r.get("healthyFirstNotificationMs"),
        r.get("hostileFirstRequestMs"),
        r.get("windowSeconds"),
        (Double) r.get("alertTicksInWindow"),
        (Long) r.get("hostileBodyBytesWritten"),
        r.get("hostileAnswersComplete"),
        r.get("hostileAnswersCut"),
        r.get("recordedError"));
  }

  private static String mib(Object bytes) {
    return String.format(Locale.ROOT, "%.0f MiB", ((Long) bytes) / 1024.0 / 1024.0);
  }

  private static Process startController(Path dist, Path data, int port, Path log)
      throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.addAll(CONTROLLER_OPTS);
    cmd.add("-cp");
    cmd.add(dist.resolve("lib") + "/*");
    cmd.add("io.edgefleet.launcher.Main");
    cmd.addAll(
        List.of(
            "controller",
            "--data",
            data.toString(),
            "--listen",
            "127.0.0.1:" + port,
            "--alert-interval",
            "1s"));
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    boolean serving =
        waitFor(
            Duration.ofSeconds(120),
            () -> {
              if (!p.isAlive()) {
                throw new IllegalStateException("the controller exited; see " + log);
              }
              return Files.exists(log) && Files.readString(log).contains(" serving https://");
            });
    if (!serving) {
      throw new IllegalStateException("the controller did not start in 120 s; see " + log);
    }
    return p;
  }

  private static double ticks(AdminClient admin, String token) {
    String text = admin.raw("GET", "/metrics", null, token, null).body().asText();
    Matcher m = TICKS.matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  /** A line of {@code /proc/PID/status} in bytes ({@code VmRSS}, {@code VmHWM}); -1 if gone. */
  static long status(long pid, String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException e) {
      // The process is gone.
    }
    return -1;
  }

  interface Check {
    boolean ok() throws Exception;
  }

  private static boolean waitFor(Duration limit, Check check) throws Exception {
    long end = System.nanoTime() + limit.toNanos();
    while (System.nanoTime() < end) {
      if (check.ok()) {
        return true;
      }
      Thread.sleep(20);
    }
    return check.ok();
  }

  private static JsonNode checked(AdminClient.Answer a) {
    if (a.status() / 100 != 2) {
      throw new IllegalStateException("the admin API answered " + a.status() + ": " + a.body());
    }
    return a.body();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  /**
   * A webhook receiver on a loopback socket speaking just enough HTTP/1.1: every request is
   * answered the same way, and the arrival of each request is recorded ({@link System#nanoTime()}).
   */
  static final class Receiver implements AutoCloseable {
    final ServerSocket server;
    final List<Long> requests = new CopyOnWriteArrayList<>();
    final AtomicLong written = new AtomicLong();
    final AtomicLong complete = new AtomicLong();
    final AtomicLong cut = new AtomicLong();
    final AtomicLong ended = new AtomicLong();
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final Answer answer;

    interface Answer {
      /** Answers one request; returns whether the connection can take another. */
      boolean answer(OutputStream out, Receiver r) throws IOException, InterruptedException;
    }

    static Receiver ok() throws IOException {
      return new Receiver(
          (out, r) -> {
            out.write(head(200, 2));
            out.write("ok".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return true;
          });
    }

    static Receiver huge(long bytes) throws IOException {
      return new Receiver(
          (out, r) -> {
            out.write(head(500, bytes));
            byte[] block = new byte[64 * 1024];
            Arrays.fill(block, (byte) 'x');
            byte[] prefix = "internal error: ".getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(prefix, 0, block, 0, prefix.length);
            long left = bytes;
            while (left > 0) {
              int n = (int) Math.min(block.length, left);
              out.write(block, 0, n);
              r.written.addAndGet(n);
              left -= n;
              Arrays.fill(block, 0, prefix.length, (byte) 'x');
            }
            out.flush();
            return false;
          });
    }

    static Receiver drip(int bytes, Duration every) throws IOException {
      return new Receiver(
          (out, r) -> {
            out.write(head(500, bytes));
            out.flush();
            for (int i = 0; i < bytes; i++) {
              // The pace is the hostile receiver's behaviour under measurement.
              Thread.sleep(every.toMillis());
              out.write('.');
              out.flush();
              r.written.incrementAndGet();
            }
            return false;
          });
    }

    private Receiver(Answer answer) throws IOException {
      this.answer = answer;
      this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      threads.execute(this::accept);
    }

    String url() {
      return "http://127.0.0.1:" + server.getLocalPort() + "/hook";
    }

    private void accept() {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
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
        while (read(in)) {
          requests.add(System.nanoTime());
          boolean more;
          try {
            more = answer.answer(out, this);
            complete.incrementAndGet();
          } catch (IOException e) {
            cut.incrementAndGet();
            more = false;
          } finally {
            ended.incrementAndGet();
          }
          if (!more) {
            return;
          }
        }
      } catch (IOException e) {
        // The peer went away between requests.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** Reads one request (head and Content-Length body); false at the end of the connection. */
    private static boolean read(InputStream in) throws IOException {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      int matched = 0;
      while (matched < 4) {
        int b = in.read();
        if (b < 0) {
          return false;
        }
        head.write(b);
        matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
      }
      int length = 0;
      for (String line : head.toString(StandardCharsets.US_ASCII).split("\r\n")) {
        if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
          length = Integer.parseInt(line.substring("content-length:".length()).trim());
        }
      }
      in.readNBytes(length);
      return true;
    }

    private static byte[] head(int status, long length) {
      return ("HTTP/1.1 "
              + status
              + (status == 200 ? " OK" : " Error")
              + "\r\nContent-Type: text/plain\r\nContent-Length: "
              + length
              + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public void close() throws IOException {
      server.close();
      threads.shutdownNow();
    }
  }
}
