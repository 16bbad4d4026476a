package io.edgefleet.bench;

import io.edgefleet.device.enrollment.Enrollment;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.ControllerProcess;
import io.edgefleet.testkit.Postgres;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

/**
 * The controller's CPU per enrollment: a controller process (SQLite, or PostgreSQL with {@code
 * --postgres}) answers {@code --warmup} enrollments, then {@code --devices} more are timed. The
 * requests are built beforehand (keys and CSRs) and sent over kept-alive TLS connections by {@code
 * --concurrency} clients, so the figure is the enrollment itself (CSR check, device record,
 * certificate, audit, first desired state), not the TLS handshake, which {@code
 * bench/tls-handshake.sh} measures. CPU is the controller process's user + system time from {@code
 * /proc/PID/stat}.
 *
 * <pre>
 * EnrollmentBench [--devices N] [--warmup N] [--concurrency N] [--postgres] [--out FILE]
 * </pre>
 */
public final class EnrollmentBench {
  private EnrollmentBench() {}

  public static void main(String[] args) throws Exception {
    int devices = 5_000;
    int warmup = 2_000;
    int concurrency = 8;
    boolean postgres = false;
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--devices" -> devices = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--concurrency" -> concurrency = Integer.parseInt(args[++i]);
        case "--postgres" -> postgres = true;
        case "--out" -> out = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Path work = Files.createTempDirectory("enrollment-bench");
    List<String> controllerArgs = new ArrayList<>(List.of("--enrollments-per-address", "1000000"));
    if (postgres) {
      controllerArgs.addAll(List.of("--database-url", Postgres.newDatabase()));
    }
    say("building %d requests", warmup + devices);
    List<EnrollmentRequest> requests = requests(warmup + devices);
    try (ControllerProcess controller =
            new ControllerProcess(work.resolve("data"), controllerArgs).start();
        AdminClient admin = controller.admin()) {
      AdminClient.Answer token =
          admin.post(
              "/api/v1/onboarding-tokens",
              Map.of(
                  "tags",
                  Map.of("bench", "enroll"),
                  "maxUses",
                  warmup + devices,
                  "perMinute",
                  1_000_000));
      if (token.status() != 201) {
        throw new IllegalStateException("no onboarding token: " + token.body());
      }
      String secret = token.body().path("token").asText();
      SSLContext tls = SSLContext.getInstance("TLS");
      tls.init(
          null, new TrustManager[] {new PinnedCaTrustManager(controller.caFingerprint())}, null);
      long pid = controller.handle().pid();
      try (HttpClient http =
              HttpClient.newBuilder()
                  .sslContext(tls)
                  .version(HttpClient.Version.HTTP_1_1)
                  .connectTimeout(Duration.ofSeconds(10))
                  .build();
          ExecutorService clients = Executors.newFixedThreadPool(concurrency)) {
        URI uri = URI.create(controller.url() + DeviceApi.ENROLLMENTS);
        say("warming up: %d enrollments", warmup);
        send(http, clients, concurrency, uri, secret, requests.subList(0, warmup));
        long cpuBefore = ProcStats.cpuTicks(pid);
        long start = System.nanoTime();
        say("measuring: %d enrollments", devices);
        send(http, clients, concurrency, uri, secret, requests.subList(warmup, warmup + devices));
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpu = (ProcStats.cpuTicks(pid) - cpuBefore) / (double) ProcStats.TICKS_PER_SECOND;
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("date", LocalDate.now().toString());
        results.put("database", postgres ? "postgresql" : "sqlite");
        results.put("devices", devices);
        results.put("warmup", warmup);
        results.put("concurrency", concurrency);
        results.put("controllerCpuSeconds", cpu);
        results.put("controllerCpuMillisPerEnrollment", Math.round(cpu * 1e6 / devices) / 1e3);
        results.put("wallSeconds", Math.round(seconds * 10) / 10.0);
        results.put("enrollmentsPerSecond", Math.round(devices / seconds));
        results.put("controllerRssBytes", ProcStats.rss(pid));
        results.put("loadavg", Files.readString(Path.of("/proc/loadavg")).trim());
        String json = Json.pretty(results);
        System.out.println(json);
        if (out != null) {
          Files.createDirectories(out.toAbsolutePath().getParent());
          Files.writeString(out, json + "\n");
        }
      }
    }
  }

  private static void send(
      HttpClient http,
      ExecutorService clients,
      int workers,
      URI uri,
      String token,
      List<EnrollmentRequest> requests)
      throws Exception {
    AtomicInteger next = new AtomicInteger();
    List<Future<?>> running = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      running.add(
          clients.submit(
              () -> {
                for (int i = next.getAndIncrement();
                    i < requests.size();
                    i = next.getAndIncrement()) {
                  EnrollmentRequest r = requests.get(i);
                  EnrollmentRequest withToken =
                      new EnrollmentRequest(
                          token, r.serial(), r.csrPem(), r.facts(), r.name(), r.tpm());
                  HttpResponse<String> answer =
                      http.send(
                          HttpRequest.newBuilder(uri)
                              .header("Content-Type", "application/json")
                              .POST(HttpRequest.BodyPublishers.ofString(Json.write(withToken)))
                              .build(),
                          HttpResponse.BodyHandlers.ofString());
                  if (answer.statusCode() != 200) {
                    throw new IllegalStateException(
                        "enrollment answered " + answer.statusCode() + ": " + answer.body());
                  }
                }
                return null;
              }));
    }
    for (Future<?> f : running) {
      f.get();
    }
  }

  private static List<EnrollmentRequest> requests(int n) {
    return IntStream.range(0, n)
        .parallel()
        .mapToObj(
            i -> {
              try {
                KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
                g.initialize(new ECGenParameterSpec("secp256r1"));
                KeyPair key = g.generateKeyPair();
                String serial = String.format("bench-%06d", i);
                DeviceFacts facts =
                    new DeviceFacts(
                        serial, serial, List.of(), "amd64", 2, 4L << 30, 32L << 30, "linux",
                        "bench", "0.1.0", false, false);
                return Enrollment.request("placeholder", facts, key);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            })
        .toList();
  }

  private static void say(String format, Object... args) {
    System.out.printf("[enrollment] " + format + "%n", args);
  }
}
