package io.edgefleet.agent.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.ControllerAccess;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.tls.SealedBox;
import io.edgefleet.protocol.tls.SoftwareKeyAgreement;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/** The feature end to end on one device, with a K3s stand-in script as the artifact. */
class ClusterFeatureTest {
  @TempDir Path tmp;
  private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
  private final List<AgentMessage> sent = new CopyOnWriteArrayList<>();
  private final List<String> events = new CopyOnWriteArrayList<>();
  private final AtomicInteger tokenFetches = new AtomicInteger();
  private final Map<String, byte[]> binaries = new java.util.concurrent.ConcurrentHashMap<>();
  private volatile Runnable onLocalAddress = () -> {};
  private KeyPair device;
  private byte[] k3s;
  private ArtifactRef ref;
  private Path data;
  private Path started;
  private ClusterFeature feature;

  @BeforeEach
  void setUp() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    device = g.generateKeyPair();
    data = tmp.resolve("var/lib/k3s");
    started = tmp.resolve("started");
    k3s =
        ("#!/bin/sh\n"
                + "if [ \"$1\" = --version ]; then echo 'k3s version v1.20.2+k3s1 (abcdef)'; exit 0;"
                + " fi\n"
                + "echo \"$1 $3\" >> "
                + started
                + "\n"
                + "mkdir -p "
                + data
                + "/agent && touch "
                + data
                + "/agent/state\n"
                + "exec sleep 300\n")
            .getBytes(StandardCharsets.UTF_8);
    ref = ArtifactsTest.ref(k3s);
    ControllerAccess controller =
        new ControllerAccess() {
          @Override
          public void download(String digest, Path file, long maxBytes) throws java.io.IOException {
            Files.write(file, binaries.getOrDefault(digest, k3s));
          }

          @Override
          public DeviceSecret token(String cluster, long version) {
            tokenFetches.incrementAndGet();
            String plain =
                "{\"token\":\""
                    + Base64.getEncoder()
                        .encodeToString(("K10tok-" + version).getBytes(StandardCharsets.UTF_8))
                    + "\"}";
            byte[] sealed =
                SealedBox.seal(
                    (ECPublicKey) device.getPublic(),
                    plain.getBytes(StandardCharsets.UTF_8),
                    SealedBox.secretAad("dev-1", "cluster." + cluster, version));
            return new DeviceSecret(
                "cluster." + cluster, version, null, Base64.getEncoder().encodeToString(sealed));
          }

          @Override
          public String localAddress() {
            onLocalAddress.run();
            return "10.9.0.7";
          }
        };
    feature =
        new ClusterFeature(
            new ClusterFeature.Options(
                tmp.resolve("state"),
                data,
                tmp.resolve("k3s.yaml"),
                java.util.Optional.empty(),
                Duration.ofSeconds(30),
                new Supervisor.Policy(
                    Duration.ofMillis(100),
                    Duration.ofSeconds(1),
                    3,
                    Duration.ofSeconds(30),
                    Duration.ofSeconds(5))),
            controller,
            () -> "dev-1",
            () -> new SoftwareKeyAgreement(device.getPrivate()),
            timer,
            Clock.systemUTC(),
            System.out,
            (kind, severity, message) -> events.add(kind + ": " + message));
    feature.connected(
        new AgentFeature.Channel() {
          @Override
          public boolean send(AgentMessage message) {
            return sent.add(message);
          }
        },
        null);
  }

  @AfterEach
  void tearDown() {
    feature.close();
    timer.shutdownNow();
  }

  private DesiredState state(long generation, ClusterSpec spec) {
    return new DesiredState(
        "dev-1", generation, Instant.now(), List.of(), List.of(), List.of(), spec);
  }

  private ClusterSpec agentSpec(long tokenVersion, Map<String, Object> config) {
    return new ClusterSpec(
        "store-1",
        ClusterSpec.ROLE_AGENT,
        false,
        List.of("https://10.9.0.1:6443"),
        tokenVersion,
        "till-4",
        Map.of("zone", "sjc"),
        List.of(),
        "v1.20.2+k3s1",
        ref,
        config,
        List.of());
  }

  private List<AgentMessage.ClusterNode> reports() {
    return sent.stream()
        .filter(m -> m instanceof AgentMessage.ClusterNode)
        .map(m -> (AgentMessage.ClusterNode) m)
        .toList();
  }

  private AgentMessage.ClusterNode lastReport() {
    List<AgentMessage.ClusterNode> r = reports();
    return r.isEmpty() ? null : r.get(r.size() - 1);
  }

  @Test
  void aSectionStartsK3sWithItsConfigurationReportsItAndItsRemovalWipesTheNode() throws Exception {
    feature.want(state(5, agentSpec(1, Map.of("kubelet-arg", List.of("max-pods=50")))));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                lastReport() != null
                    && lastReport().phase().equals(AgentMessage.ClusterNode.PHASE_RUNNING));
    AgentMessage.ClusterNode r = lastReport();
    assertThat(r.cluster()).isEqualTo("store-1");
    assertThat(r.role()).isEqualTo("agent");
    assertThat(r.nodeName()).isEqualTo("till-4");
    assertThat(r.address()).isEqualTo("10.9.0.7");
    assertThat(r.kubernetesVersion()).isEqualTo("v1.20.2+k3s1");
    assertThat(r.generation()).isEqualTo(5);
    assertThat(r.ready()).isNull();
    assertThat(reports()).extracting(AgentMessage.ClusterNode::phase).contains("STARTING");

    Path config = feature.configFile();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(config)))
        .isEqualTo("rw-------");
    Map<String, Object> yaml = new Yaml().load(Files.readString(config));
    assertThat(yaml)
        .containsEntry("token", "K10tok-1")
        .containsEntry("server", "https://10.9.0.1:6443")
        .containsEntry("node-ip", "10.9.0.7")
        .containsEntry("data-dir", data.toString())
        .containsEntry("kubelet-arg", List.of("max-pods=50"));
    assertThat(Files.readAllLines(started)).containsExactly("agent " + config);
    assertThat(data.resolve("agent/state")).exists();

    // The same document again changes nothing; a rotated token restarts K3s with it.
    feature.want(state(6, agentSpec(1, Map.of("kubelet-arg", List.of("max-pods=50")))));
    feature.want(state(7, agentSpec(2, Map.of("kubelet-arg", List.of("max-pods=50")))));
    await().atMost(Duration.ofSeconds(20)).until(() -> Files.readAllLines(started).size() == 2);
    assertThat(new Yaml().<Map<String, Object>>load(Files.readString(config)))
        .containsEntry("token", "K10tok-2");
    assertThat(tokenFetches).hasValue(2);

    // Out of the cluster: K3s stops, its data and the binary go, one STOPPED report.
    feature.want(state(8, null));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                lastReport().phase().equals(AgentMessage.ClusterNode.PHASE_STOPPED)
                    && !Files.exists(data));
    assertThat(lastReport().generation()).isEqualTo(8);
    assertThat(config).doesNotExist();
    assertThat(tmp.resolve("state/artifacts/sha256").toFile().list()).isEmpty();
    assertThat(events).anyMatch(e -> e.startsWith("cluster-node-stopped"));
    assertThat(tmp.getParent()).exists();
  }

  @Test
  void aProfileThatSetsAnAgentOwnedKeyFailsWithoutStartingK3s() {
    feature.want(state(3, agentSpec(1, Map.of("data-dir", "/"))));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                lastReport() != null
                    && lastReport().phase().equals(AgentMessage.ClusterNode.PHASE_FAILED));
    assertThat(lastReport().message()).contains("data-dir").contains("agent writes itself");
    assertThat(started).doesNotExist();
    assertThat(events).anyMatch(e -> e.startsWith("cluster-node-failed"));
  }

  @Test
  void k3sThatKeepsExitingIsReportedFailedWithItsLastWords() throws Exception {
    k3s =
        "#!/bin/sh\necho 'level=fatal msg=\"starting kubernetes: token is invalid\"' >&2\nexit 1\n"
            .getBytes(StandardCharsets.UTF_8);
    ref = ArtifactsTest.ref(k3s);
    feature.want(state(3, agentSpec(1, Map.of())));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                lastReport() != null
                    && lastReport().phase().equals(AgentMessage.ClusterNode.PHASE_FAILED));
    assertThat(lastReport().message())
        .contains("K3s exited")
        .contains("code 1")
        .contains("token is invalid");
  }

  /**
   * What a server sees changes without anything happening on its device (another member joins, its
   * node registers): it must be reported well before the report period, or every membership step
   * the controller takes waits for it.
   */
  @Test
  void aServerReportsWhatItSeesChangeWithoutWaitingForThePeriod() throws Exception {
    ClusterSpec server =
        new ClusterSpec(
            "store-1",
            ClusterSpec.ROLE_SERVER,
            true,
            List.of(),
            1,
            "till-1",
            Map.of(),
            List.of(),
            "v1.20.2+k3s1",
            ref,
            Map.of(),
            List.of());
    feature.want(state(3, server));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                lastReport() != null
                    && lastReport().message() != null
                    && lastReport().message().contains("has not written its kubeconfig"));
    // K3s writes its kubeconfig; its API server does not answer yet.
    Files.writeString(
        tmp.resolve("k3s.yaml"),
        """
        current-context: c
        contexts: [{name: c, context: {cluster: x, user: u}}]
        clusters: [{name: x, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]
        users: [{name: u, user: {token: t}}]
        """);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !lastReport().message().contains("has not written its kubeconfig"));
    assertThat(lastReport().phase()).isEqualTo(AgentMessage.ClusterNode.PHASE_STARTING);
    assertThat(lastReport().message()).contains("API server");
  }

  /**
   * After a server dies the others may all be briefly unready; the controller then lists no running
   * server in the sections. A node that has joined must keep running: failing would keep every
   * member from being listed again, for good.
   */
  @Test
  void aJoinedNodeKeepsRunningWhenItsSectionBrieflyListsNoServer() throws Exception {
    feature.want(state(5, agentSpec(1, Map.of())));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                lastReport() != null
                    && lastReport().phase().equals(AgentMessage.ClusterNode.PHASE_RUNNING));
    ClusterSpec none =
        new ClusterSpec(
            "store-1",
            ClusterSpec.ROLE_AGENT,
            false,
            List.of(),
            1,
            "till-4",
            Map.of("zone", "sjc"),
            List.of(),
            "v1.20.2+k3s1",
            ref,
            Map.of(),
            List.of());
    feature.want(state(6, none));
    await().atMost(Duration.ofSeconds(20)).until(() -> lastReport().generation() == 6);
    assertThat(lastReport().phase()).isEqualTo(AgentMessage.ClusterNode.PHASE_RUNNING);
    assertThat(lastReport().message()).isNull();
    assertThat(Files.readAllLines(started)).hasSize(1);
    assertThat(new Yaml().<Map<String, Object>>load(Files.readString(feature.configFile())))
        .containsEntry("server", "https://10.9.0.1:6443");

    // A node that never joined still waits for a server to join through.
    feature.want(state(7, null));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> lastReport().phase().equals(AgentMessage.ClusterNode.PHASE_STOPPED));
    feature.want(state(8, none));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                lastReport().generation() == 8
                    && lastReport().phase().equals(AgentMessage.ClusterNode.PHASE_FAILED));
    assertThat(lastReport().message()).contains("waits for a running server");
  }

  /**
   * A section asking for another K3s version may arrive while a pass for the previous one is under
   * way. That pass must not report the new version (nor the new generation) as running: the
   * controller takes such a report as the node being back on the new version and restarts the next
   * node while this one has yet to restart, two nodes down at once.
   */
  @Test
  void aNewVersionIsReportedOnlyOnceK3sRestartedWithIt() throws Exception {
    byte[] v2 =
        ("#!/bin/sh\n"
                + "if [ \"$1\" = --version ]; then echo 'k3s version v1.20.3+k3s1 (abcdef)'; exit 0;"
                + " fi\n"
                + "echo \"v2 $1 $3\" >> "
                + started
                + "\n"
                + "exec sleep 300\n")
            .getBytes(StandardCharsets.UTF_8);
    ArtifactRef ref2 = ArtifactsTest.ref(v2);
    binaries.put(ref2.digest(), v2);
    ClusterSpec first = agentSpec(1, Map.of());
    ClusterSpec second =
        new ClusterSpec(
            first.name(),
            first.role(),
            first.init(),
            first.servers(),
            first.tokenVersion(),
            first.nodeName(),
            first.nodeLabels(),
            first.nodeTaints(),
            "v1.20.3+k3s1",
            ref2,
            first.config(),
            first.removals());
    // Every report, with the number of K3s (re)starts the feature had made when it was sent.
    List<Map.Entry<AgentMessage.ClusterNode, Integer>> seen = new CopyOnWriteArrayList<>();
    feature.connected(
        message -> {
          if (message instanceof AgentMessage.ClusterNode n) {
            seen.add(Map.entry(n, startEvents()));
          }
          return sent.add(message);
        },
        null);
    feature.want(state(5, first));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                lastReport() != null
                    && lastReport().phase().equals(AgentMessage.ClusterNode.PHASE_RUNNING));
    assertThat(starts()).isEqualTo(1);

    // The new section arrives in the middle of a pass that acts on the old one.
    AtomicInteger armed = new AtomicInteger(1);
    onLocalAddress =
        () -> {
          if (armed.getAndDecrement() == 1) {
            feature.want(state(6, second));
          }
        };
    feature.request();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                starts() == 2
                    && lastReport().generation() == 6
                    && lastReport().phase().equals(AgentMessage.ClusterNode.PHASE_RUNNING));
    assertThat(armed.get()).isNegative();
    assertThat(Files.readAllLines(started)).last().asString().startsWith("v2 agent");
    assertThat(lastReport().kubernetesVersion()).isEqualTo("v1.20.3+k3s1");
    for (Map.Entry<AgentMessage.ClusterNode, Integer> e : seen) {
      AgentMessage.ClusterNode n = e.getKey();
      if (e.getValue() < 2) {
        assertThat(n.kubernetesVersion())
            .as("sent before the restart: %s", n)
            .isEqualTo("v1.20.2+k3s1");
        assertThat(n.generation() == 6 && n.phase().equals(AgentMessage.ClusterNode.PHASE_RUNNING))
            .as("sent before the restart: %s", n)
            .isFalse();
      }
    }
  }

  private int startEvents() {
    return (int) events.stream().filter(e -> e.startsWith("cluster-node-started")).count();
  }

  private int starts() {
    try {
      return Files.exists(started) ? Files.readAllLines(started).size() : 0;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
