package io.edgefleet.bench;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.tunnels.Tunnels;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tunnel.TunnelStream;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tunnel numbers: kubectl {@code get pods} round trip through the tunnel, and the heartbeat round
 * trip while a large byte stream flows from the device, for a device connected on loopback and,
 * given {@code --shaped-url}, one connected through a shaped link (bench/tunnel.sh: tc tbf 250
 * kbit/s each way on a veth pair).
 *
 * <pre>
 * TunnelBench [--shaped-url https://ADDR:PORT] [--tls-name ADDR] [--rounds N] [--mb N]
 *             [--shaped-mb N] [--out FILE]
 * </pre>
 */
public final class TunnelBench {
  private TunnelBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    int rounds = Integer.parseInt(a.getOrDefault("rounds", "10"));
    int mb = Integer.parseInt(a.getOrDefault("mb", "10"));
    int shapedMb = Integer.parseInt(a.getOrDefault("shaped-mb", "1"));
    String shaped = a.get("shaped-url");
    Path dir = Files.createTempDirectory("tunnel-bench");
    KubeCluster kube = KubeCluster.shared();
    // The cluster sees the bench's requests as edgefleet:admin in the group edgefleet:admin.
    kube.client()
        .rbac()
        .clusterRoleBindings()
        .resource(
            new io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder()
                .withNewMetadata()
                .withName("edgefleet-bench-admins")
                .endMetadata()
                .withNewRoleRef()
                .withApiGroup("rbac.authorization.k8s.io")
                .withKind("ClusterRole")
                .withName("view")
                .endRoleRef()
                .addNewSubject()
                .withApiGroup("rbac.authorization.k8s.io")
                .withKind("Group")
                .withName("edgefleet:admin")
                .endSubject()
                .build())
        .createOr(io.fabric8.kubernetes.client.dsl.NonDeletingOperation::update);
    ControllerConfig config =
        TestController.config(dir.resolve("controller"))
            .withListen("0.0.0.0", 0)
            .withTlsNames(
                a.containsKey("tls-name")
                    ? List.of("127.0.0.1", a.get("tls-name"))
                    : List.of("127.0.0.1"));
    Map<String, Object> results = new LinkedHashMap<>();
    results.put("date", Instant.now().toString());
    results.put("kubectl", "/usr/bin/kubectl");
    try (TestController controller = TestController.start(config);
        TestAgents agents =
            new TestAgents(dir, new java.io.PrintStream(OutputStream.nullOutputStream()))) {
      String local = "https://127.0.0.1:" + java.net.URI.create(controller.url()).getPort();
      if (a.containsKey("forward-file")) {
        // The shaped link's forwarder reaches the controller at this port.
        Files.writeString(
            Path.of(a.get("forward-file")), "" + java.net.URI.create(local).getPort());
      }
      results.put("loopback", run(controller, agents, kube, "loopback", local, rounds, mb, dir));
      if (shaped != null) {
        results.put(
            "shaped250kbit",
            run(controller, agents, kube, "shaped", shaped, rounds, shapedMb, dir));
      }
    }
    String json = Json.pretty(results);
    System.out.println(json);
    Path out = Path.of(a.getOrDefault("out", "bench/results/tunnel-" + LocalDate.now() + ".json"));
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, json + "\n");
    System.out.println("wrote " + out);
    System.exit(0);
  }

  private static Map<String, Object> run(
      TestController controller,
      TestAgents agents,
      KubeCluster kube,
      String name,
      String url,
      int rounds,
      int mb,
      Path dir)
      throws Exception {
    AgentOptions options =
        agents
            .options(
                name,
                agents.bootstrap(
                    name,
                    url,
                    controller.caFingerprint(),
                    controller.token(Map.of("bench", name), null, false)))
            .withK3sKubeconfig(kube.kubeconfig());
    Agent agent =
        agents.start(options, Clock.systemUTC(), new KubernetesRuntime(kube.kubeconfig()));
    Instant deadline = Instant.now().plusSeconds(300);
    while (agent.status().state() != Agent.State.CONNECTED) {
      if (Instant.now().isAfter(deadline)) {
        throw new IllegalStateException(name + ": the agent did not connect");
      }
      Thread.onSpinWait();
      Thread.sleep(100); // a benchmark's poll, not a test's synchronisation
    }
    String device = agent.status().deviceId().orElseThrow();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("device", device);
    m.put("agentUrl", url);

    // kubectl get pods through the tunnel.
    AdminClient admin = controller.admin();
    Path cfg = dir.resolve(name + ".kubeconfig");
    String yaml =
        new String(
            rawGet(controller, "/api/v1/devices/" + device + "/kubeconfig"),
            StandardCharsets.UTF_8);
    Files.writeString(cfg, yaml.replace("0.0.0.0", "127.0.0.1"));
    List<Double> ms = new ArrayList<>();
    kubectl(cfg); // warm-up: first TLS handshakes, discovery cache
    for (int i = 0; i < rounds; i++) {
      long t0 = System.nanoTime();
      int code = kubectl(cfg);
      long t1 = System.nanoTime();
      if (code != 0) {
        throw new IllegalStateException(name + ": kubectl get pods exited " + code);
      }
      ms.add((t1 - t0) / 1e6);
    }
    m.put("kubectlGetPodsMs", summary(ms));
    admin.close();

    // Heartbeat round trips while a byte stream of MB megabytes flows from the device.
    List<Duration> before = agent.heartbeatRoundTrips();
    com.sun.net.httpserver.HttpServer web =
        com.sun.net.httpserver.HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    byte[] big = new byte[mb * 1024 * 1024];
    new java.util.Random(1).nextBytes(big);
    web.createContext(
        "/",
        ex -> {
          ex.sendResponseHeaders(200, big.length);
          try (OutputStream o = ex.getResponseBody()) {
            o.write(big);
          }
        });
    web.start();
    try {
      Tunnels.Open open =
          controller
              .controller()
              .tunnels()
              .open(
                  device,
                  "tcp",
                  Map.of("host", "127.0.0.1", "port", "" + web.getAddress().getPort()),
                  "bench",
                  Principal.administrator("bench"));
      TunnelStream s = open.stream();
      int seenBefore = agent.heartbeatRoundTrips().size();
      long t0 = System.nanoTime();
      s.output().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      s.closeOutput();
      long n = 0;
      try (InputStream in = s.input()) {
        byte[] buf = new byte[64 * 1024];
        int r;
        while ((r = in.read(buf)) >= 0) {
          n += r;
        }
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      List<Duration> all = agent.heartbeatRoundTrips();
      List<Double> during = new ArrayList<>();
      for (int i = Math.max(0, seenBefore); i < all.size(); i++) {
        during.add(all.get(i).toNanos() / 1e6);
      }
      List<Double> idle = new ArrayList<>();
      for (Duration d : before) {
        idle.add(d.toNanos() / 1e6);
      }
      m.put("streamBytes", n);
      m.put("streamSeconds", Math.round(seconds * 10) / 10.0);
      m.put("streamKbitPerSecond", Math.round(n * 8 / 1000.0 / seconds));
      m.put("heartbeatRoundTripIdleMs", summary(idle));
      m.put("heartbeatRoundTripDuringStreamMs", summary(during));
    } finally {
      web.stop(0);
    }
    agent.close();
    return m;
  }

  private static byte[] rawGet(TestController c, String path) throws Exception {
    java.net.http.HttpClient http =
        java.net.http.HttpClient.newBuilder()
            .sslContext(
                io.edgefleet.protocol.tls.TlsContexts.pinned(
                    new io.edgefleet.protocol.tls.PinnedCaTrustManager(c.caFingerprint())))
            .build();
    var r =
        http.send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(c.url().replace("0.0.0.0", "127.0.0.1") + path))
                .header("Authorization", "Bearer " + c.controller().adminToken().orElseThrow())
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() != 200) {
      throw new IllegalStateException(path + " answered " + r.statusCode());
    }
    return r.body();
  }

  private static int kubectl(Path cfg) throws Exception {
    Process p =
        new ProcessBuilder(
                "/usr/bin/kubectl", "--kubeconfig", cfg.toString(), "get", "pods", "-n", "default")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int code = p.waitFor();
    if (code != 0) {
      System.err.println(out);
    }
    return code;
  }

  private static Map<String, Object> summary(List<Double> ms) {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("n", ms.size());
    if (ms.isEmpty()) {
      return s;
    }
    List<Double> sorted = new ArrayList<>(ms);
    sorted.sort(Double::compare);
    s.put("median", round(sorted.get(sorted.size() / 2)));
    s.put(
        "p99",
        round(sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(sorted.size() * 0.99) - 1))));
    s.put("max", round(sorted.getLast()));
    s.put("min", round(sorted.getFirst()));
    return s;
  }

  private static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }
}
