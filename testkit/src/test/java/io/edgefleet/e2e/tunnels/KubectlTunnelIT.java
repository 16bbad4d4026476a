package io.edgefleet.e2e.tunnels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.cli.CliCommands;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.AdminClient.Answer;
import io.edgefleet.testkit.LinkProxy;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * kubectl and port-forward through the agent's own connection, end to end with real parts: the
 * controller's kubectl listener, a real agent with the Kubernetes runtime, the real kube-apiserver
 * of the testkit (RBAC on) or the cluster named by {@code EDGEFLEET_IT_KUBECONFIG}, and the real
 * {@code /usr/bin/kubectl} with the kubeconfig {@code edgefleet kubeconfig} wrote.
 */
class KubectlTunnelIT {
  static final KubeCluster KUBE = KubeCluster.shared();
  private static final Duration WAIT = Duration.ofSeconds(60);

  /** The kubectl under test: Debian's (or any) at /usr/bin, or the one EDGEFLEET_KUBECTL names. */
  private static final String KUBECTL =
      java.util.Optional.ofNullable(System.getenv("EDGEFLEET_KUBECTL"))
          .filter(s -> !s.isBlank())
          .orElse("/usr/bin/kubectl");

  @TempDir Path dir;

  private final KubernetesClient kube = KUBE.client();
  private TestController controller;
  private TestAgents agents;
  private LinkProxy link;
  private Agent agent;
  private String device;
  private String ns;
  private final List<Process> processes = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    controller = TestController.start(dir.resolve("controller"));
    agents = new TestAgents(dir);
    link = LinkProxy.forUrl(controller.url());
    AgentOptions options =
        agents
            .options(
                "kube",
                agents.bootstrap(
                    "kube",
                    link.url(),
                    controller.caFingerprint(),
                    controller.token(Map.of("site", "tunnels"), null, false)))
            .withK3sKubeconfig(KUBE.kubeconfig());
    agent = agents.start(options, Clock.systemUTC(), new KubernetesRuntime(KUBE.kubeconfig()));
    await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
    device = agent.status().deviceId().orElseThrow();
    ns = KUBE.newNamespace("tunnel");
    // The cluster's RBAC decides what edgefleet's roles may do: operators edit, kube-viewers read.
    bind("edgefleet:operator", "edit");
    bind("edgefleet:kube-viewer", "view");
  }

  @AfterEach
  void stop() {
    processes.forEach(Process::destroyForcibly);
    agents.close();
    link.close();
    controller.close();
    KUBE.deleteNamespace(ns);
  }

  private void bind(String group, String clusterRole) {
    kube.rbac()
        .roleBindings()
        .inNamespace(ns)
        .resource(
            new RoleBindingBuilder()
                .withNewMetadata()
                .withName(group.replace(':', '-'))
                .endMetadata()
                .withNewRoleRef()
                .withApiGroup("rbac.authorization.k8s.io")
                .withKind("ClusterRole")
                .withName(clusterRole)
                .endRoleRef()
                .addNewSubject()
                .withApiGroup("rbac.authorization.k8s.io")
                .withKind("Group")
                .withName(group)
                .endSubject()
                .build())
        .create();
  }

  /** A user with these roles (held over the whole fleet, or within a project) and a token. */
  private String user(String name, List<String> roles, String project) {
    AdminClient admin = controller.admin();
    Answer u =
        admin.post(
            "/api/v1/users", Map.of("name", name, "roles", project == null ? roles : List.of()));
    assertThat(u.status()).as(u.body().toString()).isEqualTo(201);
    if (project != null) {
      Answer b =
          admin.put("/api/v1/users/" + name + "/roles", Map.of("roles", roles, "project", project));
      assertThat(b.status()).as(b.body().toString()).isEqualTo(200);
    }
    Answer t = admin.post("/api/v1/tokens", Map.of("name", "t", "user", name));
    assertThat(t.status()).as(t.body().toString()).isEqualTo(201);
    return t.body().path("secret").asText();
  }

  record Run(int exitCode, String out, String err) {}

  @CommandLine.Command(name = "edgefleet")
  static final class Root {}

  private Run cli(String token, String... args) {
    CommandLine root = new CommandLine(new Root());
    CliCommands.commands().forEach(root::addSubcommand);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    root.setOut(new PrintWriter(out, true));
    root.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(
        List.of(
            "--server",
            controller.url(),
            "--token",
            token,
            "--ca-fingerprint",
            controller.caFingerprint()));
    int code = root.execute(all.toArray(String[]::new));
    return new Run(code, out.toString(), err.toString());
  }

  private Run kubectl(Path kubeconfig, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(KUBECTL, "--kubeconfig", kubeconfig.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).start();
    processes.add(p);
    CompletableFuture<String> out = async(() -> read(p.getInputStream()));
    CompletableFuture<String> err = async(() -> read(p.getErrorStream()));
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("kubectl " + String.join(" ", args)).isTrue();
    return new Run(p.exitValue(), out.get(), err.get());
  }

  record Listened(int status, String body) {}

  /**
   * Sends the request kubectl would send with this kubeconfig (its server URL and bearer token) to
   * the controller's kubectl listener, over TLS pinned to the controller's CA.
   */
  private Listened listener(Path kubeconfig, String apiPath) throws Exception {
    String config = Files.readString(kubeconfig);
    String server = field(config, "server:");
    String token = field(config, "token:");
    java.net.http.HttpClient http =
        java.net.http.HttpClient.newBuilder()
            .version(java.net.http.HttpClient.Version.HTTP_1_1)
            .sslContext(
                io.edgefleet.protocol.tls.TlsContexts.pinned(
                    new io.edgefleet.protocol.tls.PinnedCaTrustManager(controller.caFingerprint())))
            .build();
    try (http) {
      var answer =
          http.send(
              java.net.http.HttpRequest.newBuilder(java.net.URI.create(server + apiPath))
                  .header("Authorization", "Bearer " + token)
                  .timeout(Duration.ofSeconds(30))
                  .build(),
              java.net.http.HttpResponse.BodyHandlers.ofString());
      return new Listened(answer.statusCode(), answer.body());
    }
  }

  private static String field(String yaml, String key) {
    return yaml.lines()
        .map(String::strip)
        .filter(l -> l.startsWith(key))
        .map(l -> l.substring(key.length()).strip().replace("\"", ""))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + key + " in the kubeconfig"));
  }

  private static String read(java.io.InputStream in) {
    try {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  /** A kubectl that keeps running; its output lines as they come. */
  private List<String> background(Path kubeconfig, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(KUBECTL, "--kubeconfig", kubeconfig.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    processes.add(p);
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  lines.add(line);
                }
              } catch (IOException e) {
                // the process ended
              }
            });
    return lines;
  }

  private Path kubeconfig(String name, String token) {
    Path file = dir.resolve(name + ".kubeconfig");
    Run r = cli(token, "kubeconfig", device, "-f", file.toString());
    assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
    return file;
  }

  private List<JsonNode> sessions(String query) {
    List<JsonNode> out = new ArrayList<>();
    controller
        .admin()
        .get("/api/v1/sessions?device=" + device + query)
        .body()
        .path("items")
        .forEach(out::add);
    return out;
  }

  private void configMap(String name) {
    kube.configMaps()
        .inNamespace(ns)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .addToData("k", "v")
                .build())
        .create();
  }

  @Test
  void kubectlWorksThroughTheTunnelAsTheOperatorTheClusterSees() throws Exception {
    String olga = user("olga", List.of("operator"), null);
    Path cfg = kubeconfig("olga", olga);
    assertThat(Files.readString(cfg)).contains("/devices/" + device).contains("token: " + olga);

    // get
    configMap("existing");
    Run get = kubectl(cfg, "-n", ns, "get", "configmaps", "-o", "name");
    assertThat(get.exitCode()).as(get.err()).isZero();
    assertThat(get.out()).contains("configmap/existing");

    // server-side apply, as edgefleet:olga (the field manager's object shows who changed it)
    Path manifest = dir.resolve("cm.yaml");
    Files.writeString(
        manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: "
            + ns
            + "\ndata:\n  mode: server-side\n");
    Run apply = kubectl(cfg, "apply", "--server-side", "-f", manifest.toString());
    assertThat(apply.exitCode()).as(apply.err()).isZero();
    assertThat(kube.configMaps().inNamespace(ns).withName("applied").get().getData())
        .containsEntry("mode", "server-side");

    // client-side apply: created, then changed (kubectl reads the object and sends a patch)
    Path clientSide = dir.resolve("client.yaml");
    for (String mode : List.of("first", "second")) {
      Files.writeString(
          clientSide,
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: client-applied\n  namespace: "
              + ns
              + "\ndata:\n  mode: "
              + mode
              + "\n");
      Run applied = kubectl(cfg, "apply", "-f", clientSide.toString());
      assertThat(applied.exitCode()).as(applied.err()).isZero();
      assertThat(kube.configMaps().inNamespace(ns).withName("client-applied").get().getData())
          .containsEntry("mode", mode);
    }

    // The sessions say who reached what, and that each request ended cleanly.
    await()
        .atMost(WAIT)
        .until(
            () ->
                sessions("&kind=kube").stream()
                    .anyMatch(
                        s ->
                            s.path("detail")
                                .asText()
                                .startsWith(
                                    "PATCH /api/v1/namespaces/" + ns + "/configmaps/applied")));
    JsonNode patch =
        sessions("&kind=kube").stream()
            .filter(s -> s.path("detail").asText().startsWith("PATCH "))
            .findFirst()
            .orElseThrow();
    assertThat(patch.path("actor").asText()).isEqualTo("olga");
    await()
        .atMost(WAIT)
        .until(
            () ->
                sessions("&kind=kube").stream()
                    .allMatch(s -> s.path("endReason").asText().equals("closed")));
    assertThat(
            controller
                .admin()
                .get("/api/v1/audit?action=session.start&target=" + device)
                .body()
                .path("items")
                .size())
        .isGreaterThanOrEqualTo(2);
  }

  @Test
  void aClusterKubeconfigReachesAConnectedServerOfTheCluster() throws Exception {
    configMap("in-cluster");
    AdminClient admin = controller.admin();
    // A cluster takes members once the K3s binary of its version is there (the device's runtime
    // here is the test cluster; what matters is that the device is a server of the cluster).
    assertThat(
            admin
                .postBytes(
                    "/api/v1/artifacts?kind=k3s&version=v1.20.2%2Bk3s1",
                    "#!/bin/sh\necho k3s version v1.20.2+k3s1\n".getBytes(StandardCharsets.UTF_8),
                    "application/octet-stream",
                    Map.of())
                .status())
        .isEqualTo(201);
    assertThat(
            admin
                .post(
                    "/api/v1/clusters",
                    Map.of(
                        "name",
                        "tunnel-site",
                        "selector",
                        "site=tunnels",
                        "servers",
                        Map.of("min", 1)))
                .status())
        .isEqualTo(201);
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () ->
                assertThat(admin.get("/api/v1/clusters/tunnel-site").body().toString())
                    .contains(device));
    String olga = user("olga", List.of("operator"), null);
    Path cfg = dir.resolve("cluster.kubeconfig");
    Run written = cli(olga, "kubeconfig", "tunnel-site", "-f", cfg.toString());
    assertThat(written.exitCode()).as(written.err() + written.out()).isZero();
    assertThat(Files.readString(cfg)).contains("/clusters/tunnel-site");

    Run get = kubectl(cfg, "-n", ns, "get", "configmaps", "-o", "name");
    assertThat(get.exitCode()).as(get.err()).isZero();
    assertThat(get.out()).contains("configmap/in-cluster");
    // The request went to the cluster's server, this device.
    assertThat(sessions("&kind=kube")).isNotEmpty();

    Run unknown = cli(olga, "kubeconfig", "no-such-site");
    assertThat(unknown.exitCode()).isNotZero();
    assertThat(unknown.err()).contains("no-such-site");
  }

  @Test
  void theClustersRbacDecidesThroughImpersonation() throws Exception {
    Answer role =
        controller
            .admin()
            .post(
                "/api/v1/roles",
                Map.of(
                    "name",
                    "kube-viewer",
                    "permissions",
                    List.of("devices:read", "tunnels:kubectl")));
    assertThat(role.status()).as(role.body().toString()).isEqualTo(201);
    String vic = user("vic", List.of("kube-viewer"), null);
    Path cfg = kubeconfig("vic", vic);
    configMap("readable");
    Run read = kubectl(cfg, "-n", ns, "get", "configmaps", "readable", "-o", "name");
    assertThat(read.exitCode()).as(read.err()).isZero();
    Run write = kubectl(cfg, "-n", ns, "create", "configmap", "nope", "--from-literal=a=b");
    assertThat(write.exitCode()).isNotZero();
    // The API server refused edgefleet:vic, not the device's own (all-powerful) credentials.
    assertThat(write.err()).contains("forbidden").contains("edgefleet:vic");
    // A client's own impersonation headers are dropped: asking to be the cluster admin changes
    // nothing.
    Run sneaky =
        kubectl(
            cfg,
            "--as",
            "system:admin",
            "--as-group",
            "system:masters",
            "-n",
            ns,
            "create",
            "configmap",
            "nope2",
            "--from-literal=a=b");
    assertThat(sneaky.exitCode()).isNotZero();
    assertThat(sneaky.err()).contains("edgefleet:vic");
    assertThat(kube.configMaps().inNamespace(ns).withName("nope2").get()).isNull();
  }

  @Test
  void usersWithoutThePermissionOrOutsideTheProjectAreRefused() throws Exception {
    String nora = user("nora", List.of("viewer"), null);
    Run refused = cli(nora, "kubeconfig", device, "-f", dir.resolve("nora.kubeconfig").toString());
    assertThat(refused.exitCode()).isNotZero();
    assertThat(refused.err()).contains("tunnels:kubectl").contains("PERMISSION_DENIED");
    // Even with a kubeconfig made by someone else, the listener checks the token of each request.
    String olga = user("olga", List.of("operator"), null);
    Path cfg = kubeconfig("olga", olga);
    Path noras = dir.resolve("nora-borrowed.kubeconfig");
    Files.writeString(noras, Files.readString(cfg).replace("token: " + olga, "token: " + nora));
    assertThat(kubectl(noras, "-n", ns, "get", "pods").exitCode()).isNotZero();
    // The reason, as the listener answers kubectl's request (kubectl 1.20 hides answers to its
    // discovery requests behind "the server doesn't have a resource type"; newer ones print it).
    Listened denied = listener(noras, "/api/v1/namespaces/" + ns + "/pods");
    assertThat(denied.status()).isEqualTo(403);
    assertThat(denied.body()).contains("tunnels:kubectl");
    Path bad = dir.resolve("bad.kubeconfig");
    Files.writeString(bad, Files.readString(cfg).replace("token: " + olga, "token: nonsense"));
    Run unauthorized = kubectl(bad, "-n", ns, "get", "pods");
    assertThat(unauthorized.exitCode()).isNotZero();
    assertThat(unauthorized.err()).contains("You must be logged in to the server");

    // Another project's device is answered as one that does not exist.
    assertThat(
            controller
                .admin()
                .post("/api/v1/projects", Map.of("name", "elsewhere", "selector", "site=elsewhere"))
                .status())
        .isEqualTo(201);
    String pat = user("pat", List.of("operator"), "elsewhere");
    Run hidden = cli(pat, "kubeconfig", device);
    assertThat(hidden.exitCode()).isNotZero();
    assertThat(hidden.err()).contains("no device or cluster named " + device);
    Path pats = dir.resolve("pat.kubeconfig");
    Files.writeString(pats, Files.readString(cfg).replace("token: " + olga, "token: " + pat));
    Run notFoundByKubectl = kubectl(pats, "-n", ns, "get", "pods");
    assertThat(notFoundByKubectl.exitCode()).isNotZero();
    assertThat(notFoundByKubectl.err()).doesNotContain("orbidden");
    Listened notFound = listener(pats, "/api/v1/namespaces/" + ns + "/pods");
    assertThat(notFound.status()).isEqualTo(404);
    assertThat(notFound.body()).contains(device);
    try (AdminClient p = new AdminClient(controller.url(), pat, controller.caFingerprint())) {
      assertThat(p.get("/api/v1/devices/" + device + "/port-forward?port=80").status())
          .isEqualTo(404);
      assertThat(p.get("/api/v1/sessions").body().path("items").size()).isZero();
    }
  }

  @Test
  void logsFollowAndAWatchGoesOnThroughANewStreamAfterALinkCut() throws Exception {
    // The pod's logs come from the testkit's kubelet stand-in; a real cluster cannot pull its
    // image.
    org.junit.jupiter.api.Assumptions.assumeTrue(KUBE.local(), "needs the local test cluster");
    String olga = user("olga", List.of("operator"), null);
    Path cfg = kubeconfig("olga", olga);
    kube.pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("talker")
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("main")
                .withImage("registry.example/talker:1")
                .endContainer()
                .endSpec()
                .build())
        .create();
    await()
        .atMost(WAIT)
        .until(
            () ->
                "Running"
                    .equals(
                        kube.pods()
                            .inNamespace(ns)
                            .withName("talker")
                            .get()
                            .getStatus()
                            .getPhase()));

    // logs -f: lines keep coming through the stream.
    List<String> logs = background(cfg, "-n", ns, "logs", "-f", "talker");
    await().atMost(WAIT).until(() -> logs.size() >= 5);
    assertThat(logs.get(0)).contains("talker/main");

    // A watch, then a cut link: the stream ends with the link, kubectl watches again through a new
    // one.
    List<String> watch = background(cfg, "-n", ns, "get", "configmaps", "-w", "-o", "name");
    configMap("before-cut");
    await().atMost(WAIT).until(() -> watch.contains("configmap/before-cut"));
    link.cut();
    await().atMost(WAIT).until(() -> agent.status().state() != Agent.State.CONNECTED);
    link.restore();
    await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
    // The cut ended every stream, and the sessions say so.
    await()
        .atMost(WAIT)
        .until(
            () ->
                sessions("&kind=kube").stream()
                    .anyMatch(s -> s.path("endReason").asText().startsWith("link lost")));
    List<String> again = background(cfg, "-n", ns, "get", "configmaps", "-w", "-o", "name");
    await().atMost(WAIT).until(() -> again.contains("configmap/before-cut"));
    configMap("after-cut");
    await().atMost(WAIT).until(() -> again.contains("configmap/after-cut"));
  }

  @Test
  void execAndPortForwardUpgradesReachTheApiServer() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(KUBE.local(), "needs the local test cluster");
    String olga = user("olga", List.of("operator"), null);
    Path cfg = kubeconfig("olga", olga);
    kube.pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("shell")
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("main")
                .withImage("registry.example/shell:1")
                .endContainer()
                .endSpec()
                .build())
        .create();
    await()
        .atMost(WAIT)
        .until(
            () ->
                "Running"
                    .equals(
                        kube.pods()
                            .inNamespace(ns)
                            .withName("shell")
                            .get()
                            .getStatus()
                            .getPhase()));
    Run exec = kubectl(cfg, "-n", ns, "exec", "shell", "--", "true");
    // The test cluster's kubelet stand-in runs no containers: the API server's own answer to the
    // upgrade comes back to kubectl (not a refusal of the tunnel).
    assertThat(exec.err()).doesNotContain("tunnels:").doesNotContain("edgefleet");
    await()
        .atMost(WAIT)
        .until(
            () ->
                sessions("&kind=kube").stream()
                    .anyMatch(s -> s.path("detail").asText().contains("/pods/shell/exec")));
    // port-forward: the upgrade request goes through the tunnel to the API server as well.
    background(cfg, "-n", ns, "port-forward", "pod/shell", "0:80");
    await()
        .atMost(WAIT)
        .until(
            () ->
                sessions("&kind=kube").stream()
                    .anyMatch(s -> s.path("detail").asText().contains("/pods/shell/portforward")));
  }

  /** Runs {@code call} on a thread of its own (the common pool may be busy or tiny). */
  private static <T> CompletableFuture<T> async(java.util.function.Supplier<T> call) {
    CompletableFuture<T> f = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try {
                f.complete(call.get());
              } catch (Throwable t) {
                f.completeExceptionally(t);
              }
            });
    return f;
  }
}
