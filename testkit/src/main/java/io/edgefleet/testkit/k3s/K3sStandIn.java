package io.edgefleet.testkit.k3s;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A {@code k3s} executable for tests, built on real parts: a server runs a real etcd member ({@code
 * /usr/bin/etcd}, TLS, joined with a real {@code member add}) and a real kube-apiserver (from
 * {@code testkit/k8s/kube-build.sh}); every node registers its Node and posts Ready heartbeats.
 * Implements the subset of K3s the edgefleet agent uses; see {@code
 * docs/decisions/0033-k3s-stand-in.md}. Started through the launcher of {@link K3sBinaries}, one
 * node per network namespace ({@link NodeNetwork}): the ports are K3s' fixed ones.
 *
 * <p>Children (etcd, kube-apiserver) are started through {@code setpriv --pdeathsig KILL} from the
 * main thread, which lives as long as the stand-in: when the stand-in is killed, even with {@code
 * kill -9}, the kernel kills them too. On SIGTERM the stand-in stops them (SIGTERM, then SIGKILL
 * after 4 s) and exits.
 */
public final class K3sStandIn {
  static final int API_PORT = 6443;
  static final int SUPERVISOR_PORT = 6444;
  static final int ETCD_CLIENT_PORT = 2379;
  static final int ETCD_PEER_PORT = 2380;
  static final String JOIN_PATH = "/v1-edgefleet/join";
  private static final int MAX_BODY = 64 * 1024;
  private static final Pattern NODE_NAME = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?");
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** A fatal error: its message goes to stderr and the stand-in exits 1. */
  static final class Fatal extends RuntimeException {
    Fatal(String message) {
      super(message);
    }

    Fatal(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private final String version;
  private final boolean server;
  private final Map<String, Object> config;
  private final String token;
  private final String nodeName;
  private final String nodeIp;
  private final Path dataDir;
  private final Path tls;
  private final Path etcdTls;
  private final List<Process> children = new ArrayList<>();
  private final CountDownLatch stop = new CountDownLatch(1);
  private volatile String fatal;
  private boolean stopped;
  private HttpsServer supervisor;
  private NodeRegistrar registrar;
  private KubernetesClient kube;

  private K3sStandIn(String version, boolean server, Map<String, Object> config) {
    this.version = version;
    this.server = server;
    this.config = config;
    this.token = required("token");
    this.nodeName = required("node-name");
    if (!NODE_NAME.matcher(nodeName).matches()) {
      throw new Fatal("node-name " + nodeName + " is not a valid DNS name (lower case, digits, -)");
    }
    this.nodeIp = required("node-ip");
    if (!IPV4.matcher(nodeIp).matches()) {
      throw new Fatal("node-ip " + nodeIp + " is not an IPv4 address");
    }
    Object dd = config.getOrDefault("data-dir", "/var/lib/rancher/k3s");
    this.dataDir = Path.of(dd.toString()).toAbsolutePath();
    this.tls = dataDir.resolve("server/tls");
    this.etcdTls = tls.resolve("etcd");
    if (!server && config.get("server") == null) {
      throw new Fatal("agent needs `server` (https://SERVER:6443) in its configuration");
    }
    if (server
        && config.get("server") == null
        && !Boolean.TRUE.equals(config.get("cluster-init"))) {
      throw new Fatal("server needs either `cluster-init: true` or `server: https://SERVER:6443`");
    }
  }

  public static void main(String[] args) {
    int code;
    try {
      code = run(args);
    } catch (Fatal e) {
      System.err.println("level=fatal msg=\"" + e.getMessage() + "\"");
      code = 1;
    } catch (RuntimeException e) {
      System.err.println("level=fatal msg=\"" + e + "\"");
      e.printStackTrace();
      code = 1;
    }
    System.exit(code);
  }

  private static int run(String[] args) {
    List<String> rest = new ArrayList<>(List.of(args));
    String version = K3sBinaries.DEFAULT_VERSION;
    if (rest.size() >= 2 && rest.get(0).equals("--launcher")) {
      version = versionOf(Path.of(rest.get(1)));
      rest = rest.subList(2, rest.size());
    }
    if (rest.isEmpty() || rest.get(0).equals("--help") || rest.get(0).equals("-h")) {
      System.out.println(
          "usage: k3s --version | k3s server --config FILE | k3s agent --config FILE");
      return rest.isEmpty() ? 1 : 0;
    }
    String cmd = rest.get(0);
    if (cmd.equals("--version") || cmd.equals("-v") || cmd.equals("version")) {
      System.out.println("k3s version " + version + " (edgefleet-stand-in)");
      System.out.println("go version go1.15.5 (stand-in: etcd 3.4 and kube-apiserver 1.20.2)");
      return 0;
    }
    if (!cmd.equals("server") && !cmd.equals("agent")) {
      throw new Fatal("unknown command " + cmd + ": use server, agent or --version");
    }
    Path configFile = null;
    for (int i = 1; i < rest.size(); i++) {
      String a = rest.get(i);
      if ((a.equals("--config") || a.equals("-c")) && i + 1 < rest.size()) {
        configFile = Path.of(rest.get(++i));
      } else if (a.startsWith("--config=")) {
        configFile = Path.of(a.substring("--config=".length()));
      } else {
        throw new Fatal("the stand-in takes its settings from --config FILE only, not " + a);
      }
    }
    if (configFile == null) {
      throw new Fatal(cmd + " needs --config FILE");
    }
    Map<String, Object> config = readConfig(configFile);
    K3sStandIn node = new K3sStandIn(version, cmd.equals("server"), config);
    return node.runNode();
  }

  static String versionOf(Path launcher) {
    try {
      for (String line : Files.readAllLines(launcher)) {
        if (line.startsWith(K3sBinaries.VERSION_PREFIX)) {
          return line.substring(K3sBinaries.VERSION_PREFIX.length()).replace("'", "").strip();
        }
      }
    } catch (IOException e) {
      throw new Fatal("cannot read the launcher " + launcher + ": " + e.getMessage(), e);
    }
    throw new Fatal("launcher " + launcher + " has no " + K3sBinaries.VERSION_PREFIX + " line");
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> readConfig(Path file) {
    try {
      Object parsed = new YAMLMapper().readValue(file.toFile(), Object.class);
      if (parsed == null) {
        return new LinkedHashMap<>();
      }
      if (!(parsed instanceof Map)) {
        throw new Fatal("configuration " + file + " must be a YAML mapping of keys to values");
      }
      return new LinkedHashMap<>((Map<String, Object>) parsed);
    } catch (IOException e) {
      throw new Fatal("cannot read configuration " + file + ": " + e.getMessage(), e);
    }
  }

  private String required(String key) {
    Object v = config.get(key);
    if (v == null || v.toString().isBlank()) {
      throw new Fatal("configuration key `" + key + "` is required");
    }
    return v.toString();
  }

  private List<String> list(String key) {
    Object v = config.get(key);
    if (v == null) {
      return List.of();
    }
    if (v instanceof List<?> l) {
      return l.stream().map(Object::toString).toList();
    }
    return List.of(v.toString());
  }

  // ---- node life ----

  private int runNode() {
    Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "k3s-shutdown"));
    // SIGTERM: the main thread stops the children and the stand-in exits 0, as K3s does.
    sun.misc.Signal.handle(new sun.misc.Signal("TERM"), sig -> stop.countDown());
    mkdirs(dataDir);
    writeEffectiveConfig();
    try {
      if (server) {
        startServer();
      } else {
        startAgent();
      }
      log("info", (server ? "server" : "agent") + " " + nodeName + " is running (" + version + ")");
      stop.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (fatal != null) {
      throw new Fatal(fatal);
    }
    log("info", "stopping on SIGTERM");
    shutdown();
    return 0;
  }

  private void writeEffectiveConfig() {
    ObjectNode out = JSON.createObjectNode();
    out.put("role", server ? "server" : "agent");
    out.put("version", version);
    Map<String, Object> effective = new LinkedHashMap<>(config);
    effective.put("token", "********");
    effective.putIfAbsent("data-dir", dataDir.toString());
    out.set("config", JSON.valueToTree(effective));
    try {
      Files.writeString(dataDir.resolve("effective-config.json"), JSON.writeValueAsString(out));
    } catch (IOException e) {
      throw new Fatal("cannot write " + dataDir.resolve("effective-config.json") + ": " + e, e);
    }
  }

  private void startServer() {
    Path etcdData = dataDir.resolve("server/db/etcd");
    boolean restart = Files.isDirectory(etcdData.resolve("member"));
    String etcdName;
    String initialCluster;
    String state;
    if (restart) {
      etcdName = read(dataDir.resolve("server/db/etcd-name")).strip();
      initialCluster = etcdName + "=https://" + nodeIp + ":" + ETCD_PEER_PORT;
      state = "existing";
      checkToken();
    } else {
      etcdName = nodeName + "-" + HexFormat.of().toHexDigits(new SecureRandom().nextInt());
      if (config.get("server") == null) {
        Pki.ca(tls, "server-ca", "k3s-server-ca@" + Instant.now().getEpochSecond());
        Pki.serviceKey(tls);
        initialCluster = etcdName + "=https://" + nodeIp + ":" + ETCD_PEER_PORT;
        state = "new";
      } else {
        JsonNode answer = join("server", etcdName);
        writeFile(tls.resolve("server-ca.crt"), answer.path("caCrt").asText(), false);
        writeFile(tls.resolve("server-ca.key"), answer.path("caKey").asText(), true);
        writeFile(tls.resolve("service.key"), answer.path("serviceKey").asText(), true);
        writeFile(tls.resolve("service.pub"), answer.path("servicePub").asText(), false);
        initialCluster = answer.path("initialCluster").asText();
        state = "existing";
      }
      writeFile(tls.resolve("token"), token, true);
      issueServerCerts();
      writeFile(dataDir.resolve("server/db/etcd-name"), etcdName, false);
    }
    startEtcd(etcdName, etcdData, initialCluster, state);
    startApiServer();
    writeKubeconfigs();
    startSupervisor();
    kube = client(dataDir.resolve("server/cred/admin.kubeconfig"), "https://127.0.0.1:" + API_PORT);
    Map<String, String> labels = labels();
    labels.put("node-role.kubernetes.io/master", "true");
    labels.put("node-role.kubernetes.io/control-plane", "true");
    registrar = new NodeRegistrar(kube, nodeName, nodeIp, version, labels, list("node-taint"));
    registrar.start();
  }

  private void checkToken() {
    String stored = read(tls.resolve("token")).strip();
    if (!MessageDigest.isEqual(
        stored.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8))) {
      throw new Fatal(
          "the token in the configuration differs from the one this server's data in "
              + dataDir
              + " was created with: use the cluster's token or wipe "
              + dataDir);
    }
  }

  private void startAgent() {
    Path agentDir = dataDir.resolve("agent");
    Path kubeconfig = agentDir.resolve("kubelet.kubeconfig");
    String serverUrl = required("server");
    if (!Files.exists(kubeconfig)) {
      JsonNode answer = join("agent", null);
      mkdirs(agentDir);
      String yaml =
          kubeconfigYaml(
              serverUrl,
              answer.path("caCrt").asText(),
              answer.path("clientCrt").asText(),
              answer.path("clientKey").asText(),
              "system:node:" + nodeName);
      writeFile(kubeconfig, yaml, true);
    }
    kube = client(kubeconfig, serverUrl);
    registrar = new NodeRegistrar(kube, nodeName, nodeIp, version, labels(), list("node-taint"));
    registrar.start();
  }

  private Map<String, String> labels() {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("kubernetes.io/hostname", nodeName);
    labels.put("kubernetes.io/os", "linux");
    labels.put("kubernetes.io/arch", "amd64");
    labels.put("beta.kubernetes.io/os", "linux");
    labels.put("beta.kubernetes.io/arch", "amd64");
    labels.put("node.kubernetes.io/instance-type", "k3s");
    for (String l : list("node-label")) {
      int eq = l.indexOf('=');
      if (eq <= 0) {
        throw new Fatal("node-label " + l + " must be key=value");
      }
      labels.put(l.substring(0, eq), l.substring(eq + 1));
    }
    return labels;
  }

  // ---- certificates ----

  private void issueServerCerts() {
    Path caCrt = tls.resolve("server-ca.crt");
    Path caKey = tls.resolve("server-ca.key");
    String sans = "IP:127.0.0.1,IP:" + nodeIp + ",DNS:localhost," + "DNS:" + nodeName;
    // etcd: one CA for serving, peers and clients (real K3s keeps separate etcd CAs).
    copy(caCrt, etcdTls.resolve("server-ca.crt"));
    copy(caCrt, etcdTls.resolve("peer-ca.crt"));
    Pki.issue(
        etcdTls, "server-client", "/CN=etcd-server", sans, "serverAuth,clientAuth", caCrt, caKey);
    Pki.issue(
        etcdTls,
        "peer-server-client",
        "/CN=etcd-peer",
        sans,
        "serverAuth,clientAuth",
        caCrt,
        caKey);
    Pki.issue(etcdTls, "client", "/CN=etcd-client", "", "clientAuth", caCrt, caKey);
    Pki.issue(
        tls,
        "serving-kube-apiserver",
        "/CN=kube-apiserver",
        sans
            + ",IP:10.43.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
            + "DNS:kubernetes.default.svc.cluster.local",
        "serverAuth",
        caCrt,
        caKey);
    Pki.issue(
        tls, "client-admin", "/O=system:masters/CN=system:admin", "", "clientAuth", caCrt, caKey);
    Pki.issue(
        tls,
        "client-kube-apiserver",
        "/O=system:masters/CN=system:kube-apiserver",
        "",
        "clientAuth",
        caCrt,
        caKey);
  }

  // ---- etcd ----

  private void startEtcd(String name, Path data, String initialCluster, String state) {
    String peer = "https://" + nodeIp + ":" + ETCD_PEER_PORT;
    List<String> cmd =
        List.of(
            "etcd",
            "--name",
            name,
            "--data-dir",
            data.toString(),
            "--listen-client-urls",
            "https://127.0.0.1:" + ETCD_CLIENT_PORT + ",https://" + nodeIp + ":" + ETCD_CLIENT_PORT,
            "--advertise-client-urls",
            "https://" + nodeIp + ":" + ETCD_CLIENT_PORT,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            initialCluster,
            "--initial-cluster-state",
            state,
            "--initial-cluster-token",
            "k3s-stand-in",
            "--client-cert-auth",
            "--trusted-ca-file",
            etcdTls.resolve("server-ca.crt").toString(),
            "--cert-file",
            etcdTls.resolve("server-client.crt").toString(),
            "--key-file",
            etcdTls.resolve("server-client.key").toString(),
            "--peer-client-cert-auth",
            "--peer-trusted-ca-file",
            etcdTls.resolve("peer-ca.crt").toString(),
            "--peer-cert-file",
            etcdTls.resolve("peer-server-client.crt").toString(),
            "--peer-key-file",
            etcdTls.resolve("peer-server-client.key").toString(),
            "--heartbeat-interval",
            "250",
            "--election-timeout",
            "2500",
            "--snapshot-count",
            "10000",
            "--logger",
            "zap",
            "--log-outputs",
            "stderr");
    log("info", "starting etcd member " + name + " (" + state + " cluster)");
    startChild("etcd", cmd);
    HttpClient http = etcdHttp();
    awaitUp(
        "etcd",
        Duration.ofSeconds(90),
        () -> {
          HttpResponse<String> r =
              http.send(
                  HttpRequest.newBuilder(
                          URI.create("https://127.0.0.1:" + ETCD_CLIENT_PORT + "/health"))
                      .timeout(Duration.ofSeconds(3))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          return r.statusCode() == 200 && r.body().contains("true");
        });
  }

  HttpClient etcdHttp() {
    return HttpClient.newBuilder()
        .sslContext(
            Pki.tls(
                etcdTls.resolve("server-ca.crt"),
                etcdTls.resolve("client.crt"),
                etcdTls.resolve("client.key")))
        .connectTimeout(Duration.ofSeconds(3))
        .build();
  }

  private JsonNode etcdCall(String path, String body) {
    try {
      HttpResponse<String> r =
          etcdHttp()
              .send(
                  HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + ETCD_CLIENT_PORT + path))
                      .timeout(Duration.ofSeconds(10))
                      .POST(HttpRequest.BodyPublishers.ofString(body))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException(
            "etcd " + path + " answered " + r.statusCode() + ": " + r.body());
      }
      return JSON.readTree(r.body());
    } catch (IOException e) {
      throw new IllegalStateException("etcd " + path + " failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Adds a member with the given peer URL; returns the {@code --initial-cluster} for it. */
  private synchronized String memberAdd(String etcdName, String peerUrl) {
    String addBody = "{\"peerURLs\":[\"" + peerUrl + "\"]}";
    JsonNode added;
    try {
      added = etcdCall("/v3/cluster/member/add", addBody);
    } catch (IllegalStateException e) {
      if (!String.valueOf(e.getMessage()).contains("already exists")) {
        throw e;
      }
      // A member with this address exists (a node that lost its data, or a join that did not
      // finish): remove it and add the new one.
      for (JsonNode m : etcdCall("/v3/cluster/member/list", "{}").path("members")) {
        for (JsonNode u : m.path("peerURLs")) {
          if (u.asText().equals(peerUrl)) {
            etcdCall("/v3/cluster/member/remove", "{\"ID\":\"" + m.path("ID").asText() + "\"}");
          }
        }
      }
      added = etcdCall("/v3/cluster/member/add", addBody);
    }
    List<String> parts = new ArrayList<>();
    for (JsonNode m : added.path("members")) {
      String name = m.path("name").asText("");
      String url = m.path("peerURLs").path(0).asText();
      if (url.equals(peerUrl)) {
        name = etcdName;
      }
      if (name.isEmpty()) {
        continue; // another member added but not started yet: it cannot be in our initial cluster
      }
      parts.add(name + "=" + url);
    }
    return String.join(",", parts);
  }

  // ---- kube-apiserver ----

  private void startApiServer() {
    Path bin = kubeBin().resolve("kube-apiserver");
    if (!Files.isExecutable(bin)) {
      throw new Fatal(bin + " missing: run testkit/k8s/kube-build.sh (or set EDGEFLEET_KUBE_HOME)");
    }
    List<String> cmd =
        List.of(
            bin.toString(),
            "--etcd-servers",
            "https://127.0.0.1:" + ETCD_CLIENT_PORT,
            "--etcd-cafile",
            etcdTls.resolve("server-ca.crt").toString(),
            "--etcd-certfile",
            etcdTls.resolve("client.crt").toString(),
            "--etcd-keyfile",
            etcdTls.resolve("client.key").toString(),
            "--bind-address",
            "0.0.0.0",
            "--advertise-address",
            nodeIp,
            "--secure-port",
            Integer.toString(API_PORT),
            "--insecure-port",
            "0",
            "--tls-cert-file",
            tls.resolve("serving-kube-apiserver.crt").toString(),
            "--tls-private-key-file",
            tls.resolve("serving-kube-apiserver.key").toString(),
            "--client-ca-file",
            tls.resolve("server-ca.crt").toString(),
            "--cert-dir",
            tls.resolve("temporary-certs").toString(),
            "--authorization-mode",
            "RBAC",
            "--service-account-key-file",
            tls.resolve("service.pub").toString(),
            "--service-account-signing-key-file",
            tls.resolve("service.key").toString(),
            "--service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range",
            "10.43.0.0/16",
            "--endpoint-reconciler-type",
            "none",
            "--kubelet-preferred-address-types",
            "InternalIP",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1");
    log("info", "starting kube-apiserver on https://" + nodeIp + ":" + API_PORT);
    startChild("kube-apiserver", cmd);
    HttpClient http =
        HttpClient.newBuilder()
            .sslContext(
                Pki.tls(
                    tls.resolve("server-ca.crt"),
                    tls.resolve("client-admin.crt"),
                    tls.resolve("client-admin.key")))
            .connectTimeout(Duration.ofSeconds(3))
            .build();
    awaitUp(
        "kube-apiserver",
        Duration.ofSeconds(120),
        () -> {
          HttpResponse<String> r =
              http.send(
                  HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + API_PORT + "/readyz"))
                      .timeout(Duration.ofSeconds(5))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          return r.statusCode() == 200;
        });
  }

  static Path kubeBin() {
    String home = System.getenv("EDGEFLEET_KUBE_HOME");
    if (home == null || home.isBlank()) {
      home = System.getProperty("user.home") + "/.cache/edgefleet/kubernetes-1.20.2";
    }
    return Path.of(home, "bin");
  }

  private void writeKubeconfigs() {
    String yaml =
        kubeconfigYaml(
            "https://127.0.0.1:" + API_PORT,
            read(tls.resolve("server-ca.crt")),
            read(tls.resolve("client-admin.crt")),
            read(tls.resolve("client-admin.key")),
            "default");
    writeFile(dataDir.resolve("server/cred/admin.kubeconfig"), yaml, true);
    Object target = config.get("write-kubeconfig");
    if (target != null) {
      Path file = Path.of(target.toString());
      writeFile(file, yaml, true);
      String mode = String.valueOf(config.getOrDefault("write-kubeconfig-mode", "0600"));
      try {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(permissions(mode)));
      } catch (IOException e) {
        throw new Fatal("cannot set mode " + mode + " on " + file + ": " + e.getMessage(), e);
      }
    }
  }

  static String permissions(String octal) {
    if (!octal.matches("0?[0-7]{3}")) {
      throw new Fatal("write-kubeconfig-mode " + octal + " must be an octal mode like 0600");
    }
    String digits = octal.length() == 4 ? octal.substring(1) : octal;
    StringBuilder sb = new StringBuilder();
    for (char c : digits.toCharArray()) {
      int d = c - '0';
      sb.append((d & 4) != 0 ? 'r' : '-')
          .append((d & 2) != 0 ? 'w' : '-')
          .append((d & 1) != 0 ? 'x' : '-');
    }
    return sb.toString();
  }

  static String kubeconfigYaml(
      String url, String caPem, String crtPem, String keyPem, String user) {
    Base64.Encoder b64 = Base64.getEncoder();
    return "apiVersion: v1\n"
        + "kind: Config\n"
        + "clusters:\n"
        + "- name: default\n"
        + "  cluster:\n"
        + "    server: "
        + url
        + "\n"
        + "    certificate-authority-data: "
        + b64.encodeToString(caPem.getBytes(StandardCharsets.UTF_8))
        + "\n"
        + "users:\n"
        + "- name: "
        + user
        + "\n"
        + "  user:\n"
        + "    client-certificate-data: "
        + b64.encodeToString(crtPem.getBytes(StandardCharsets.UTF_8))
        + "\n"
        + "    client-key-data: "
        + b64.encodeToString(keyPem.getBytes(StandardCharsets.UTF_8))
        + "\n"
        + "contexts:\n"
        + "- name: default\n"
        + "  context:\n"
        + "    cluster: default\n"
        + "    user: "
        + user
        + "\n"
        + "current-context: default\n";
  }

  private static KubernetesClient client(Path kubeconfig, String url) {
    Config cfg = Config.fromKubeconfig(read(kubeconfig));
    cfg.setMasterUrl(url);
    cfg.setRequestTimeout(10_000);
    cfg.setConnectionTimeout(5_000);
    return new KubernetesClientBuilder().withConfig(cfg).build();
  }

  // ---- supervisor (join endpoint) ----

  private void startSupervisor() {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(
          Pki.keyStore(
              tls.resolve("serving-kube-apiserver.crt"), tls.resolve("serving-kube-apiserver.key")),
          "standin".toCharArray());
      ctx.init(kmf.getKeyManagers(), null, null);
      supervisor = HttpsServer.create(new InetSocketAddress(SUPERVISOR_PORT), 16);
      supervisor.setHttpsConfigurator(new HttpsConfigurator(ctx));
      supervisor.setExecutor(Executors.newFixedThreadPool(2));
      supervisor.createContext(JOIN_PATH, this::handleJoin);
      supervisor.start();
    } catch (IOException | GeneralSecurityException e) {
      throw new Fatal("cannot start the join endpoint on port " + SUPERVISOR_PORT + ": " + e, e);
    }
  }

  private void handleJoin(HttpExchange ex) throws IOException {
    try (ex) {
      if (!ex.getRequestMethod().equals("POST")) {
        respond(ex, 405, "{\"message\":\"use POST\"}");
        return;
      }
      String auth = String.valueOf(ex.getRequestHeaders().getFirst("Authorization"));
      String presented = auth.startsWith("Bearer ") ? auth.substring(7) : "";
      if (!MessageDigest.isEqual(
          presented.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8))) {
        respond(ex, 401, "{\"message\":\"the token is not valid for this cluster\"}");
        return;
      }
      byte[] body;
      try (InputStream in = ex.getRequestBody()) {
        body = in.readNBytes(MAX_BODY + 1);
      }
      if (body.length > MAX_BODY) {
        respond(ex, 413, "{\"message\":\"join request larger than 64 KiB\"}");
        return;
      }
      JsonNode req = JSON.readTree(body);
      String role = req.path("role").asText();
      String name = req.path("nodeName").asText();
      String ip = req.path("nodeIp").asText();
      if (!NODE_NAME.matcher(name).matches() || !IPV4.matcher(ip).matches()) {
        respond(
            ex, 400, "{\"message\":\"nodeName must be a DNS name and nodeIp an IPv4 address\"}");
        return;
      }
      ObjectNode out = JSON.createObjectNode();
      out.put("caCrt", read(tls.resolve("server-ca.crt")));
      if (role.equals("server")) {
        String etcdName = req.path("etcdName").asText();
        if (!etcdName.startsWith(name + "-")) {
          respond(ex, 400, "{\"message\":\"etcdName must be <nodeName>-<8 hex>\"}");
          return;
        }
        String initial;
        try {
          initial = memberAdd(etcdName, "https://" + ip + ":" + ETCD_PEER_PORT);
        } catch (RuntimeException e) {
          respond(
              ex,
              503,
              JSON.writeValueAsString(
                  Map.of("message", "etcd member add failed: " + e.getMessage())));
          return;
        }
        log("info", "added etcd member " + etcdName + " at " + ip);
        out.put("caKey", read(tls.resolve("server-ca.key")));
        out.put("serviceKey", read(tls.resolve("service.key")));
        out.put("servicePub", read(tls.resolve("service.pub")));
        out.put("initialCluster", initial);
      } else if (role.equals("agent")) {
        Path dir = Files.createTempDirectory(dataDir, "agent-cert");
        try {
          Pki.issue(
              dir,
              "kubelet",
              "/O=system:masters/CN=system:node:" + name,
              "",
              "clientAuth",
              tls.resolve("server-ca.crt"),
              tls.resolve("server-ca.key"));
          out.put("clientCrt", read(dir.resolve("kubelet.crt")));
          out.put("clientKey", read(dir.resolve("kubelet.key")));
        } finally {
          try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
              Files.deleteIfExists(f);
            }
          }
          Files.deleteIfExists(dir);
        }
      } else {
        respond(ex, 400, "{\"message\":\"role must be server or agent\"}");
        return;
      }
      respond(ex, 200, JSON.writeValueAsString(out));
    } catch (RuntimeException e) {
      respond(ex, 500, JSON.writeValueAsString(Map.of("message", String.valueOf(e.getMessage()))));
    }
  }

  private static void respond(HttpExchange ex, int code, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(code, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Asks the server of {@code server:} to let this node join; retries while it is unreachable. */
  private JsonNode join(String role, String etcdName) {
    String serverUrl = required("server");
    URI api = URI.create(serverUrl);
    if (api.getHost() == null) {
      throw new Fatal("server " + serverUrl + " must be a URL like https://10.0.0.1:6443");
    }
    URI joinUri = URI.create("https://" + api.getHost() + ":" + SUPERVISOR_PORT + JOIN_PATH);
    ObjectNode body = JSON.createObjectNode();
    body.put("role", role);
    body.put("nodeName", nodeName);
    body.put("nodeIp", nodeIp);
    if (etcdName != null) {
      body.put("etcdName", etcdName);
    }
    HttpClient http =
        HttpClient.newBuilder()
            .sslContext(trustAll())
            .connectTimeout(Duration.ofSeconds(3))
            .build();
    Instant deadline = Instant.now().plusSeconds(60);
    String last = "";
    while (Instant.now().isBefore(deadline)) {
      try {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(joinUri)
                    .timeout(Duration.ofSeconds(30))
                    .header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        String message = messageOf(r.body());
        if (r.statusCode() == 200) {
          return JSON.readTree(r.body());
        }
        if (r.statusCode() == 401) {
          throw new Fatal("join refused by " + serverUrl + ": " + message + " (check the token)");
        }
        if (r.statusCode() != 503) {
          throw new Fatal("join refused by " + serverUrl + " (" + r.statusCode() + "): " + message);
        }
        last = message;
      } catch (IOException e) {
        last =
            e instanceof ConnectException ? "connection refused" : String.valueOf(e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new Fatal("interrupted while joining", e);
      }
      if (stop.getCount() == 0) {
        throw new Fatal("stopped while joining " + serverUrl);
      }
      sleepQuietly(Duration.ofSeconds(1));
    }
    throw new Fatal("cannot join through " + serverUrl + " within 60 s: " + last);
  }

  private static String messageOf(String body) {
    try {
      return JSON.readTree(body).path("message").asText(body);
    } catch (IOException e) {
      return body;
    }
  }

  /**
   * The joining side does not know the cluster CA yet (a real K3s token can carry its hash; the
   * plain tokens used here cannot), so it trusts the first answer, as K3s does for such tokens.
   */
  private static SSLContext trustAll() {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(
          null,
          new TrustManager[] {
            new X509TrustManager() {
              @Override
              public void checkClientTrusted(X509Certificate[] chain, String authType) {}

              @Override
              public void checkServerTrusted(X509Certificate[] chain, String authType) {}

              @Override
              public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
              }
            }
          },
          new SecureRandom());
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---- children ----

  /** Starts a child from the main thread so that its parent-death signal fires when we die. */
  private void startChild(String name, List<String> command) {
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--pdeathsig", "KILL", "--"));
    cmd.addAll(command);
    Path logs = dataDir.resolve("logs");
    mkdirs(logs);
    Path log = logs.resolve(name + ".log");
    try {
      Process p =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
              .start();
      synchronized (children) {
        children.add(p);
      }
      p.onExit()
          .thenAccept(
              done -> {
                if (stop.getCount() > 0) {
                  fail(
                      name
                          + " exited with "
                          + done.exitValue()
                          + "; last lines of "
                          + log
                          + ":\n"
                          + tail(log));
                }
              });
    } catch (IOException e) {
      throw new Fatal("cannot start " + name + ": " + e.getMessage(), e);
    }
  }

  interface Check {
    boolean ok() throws Exception;
  }

  private void awaitUp(String what, Duration timeout, Check check) {
    Instant deadline = Instant.now().plus(timeout);
    while (true) {
      if (fatal != null) {
        throw new Fatal(fatal);
      }
      if (stop.getCount() == 0) {
        throw new Fatal("stopped while waiting for " + what);
      }
      try {
        if (check.ok()) {
          return;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new Fatal("interrupted while waiting for " + what, e);
      } catch (Exception e) {
        // not up yet
      }
      if (Instant.now().isAfter(deadline)) {
        throw new Fatal(
            what
                + " not ready after "
                + timeout.toSeconds()
                + " s; last lines of its log:\n"
                + tail(dataDir.resolve("logs/" + what + ".log")));
      }
      sleepQuietly(Duration.ofMillis(250));
    }
  }

  private void fail(String message) {
    if (fatal == null) {
      fatal = message;
    }
    stop.countDown();
  }

  private synchronized void shutdown() {
    stop.countDown();
    if (stopped) {
      return;
    }
    stopped = true;
    if (registrar != null) {
      registrar.close();
    }
    if (supervisor != null) {
      supervisor.stop(0);
    }
    List<Process> all;
    synchronized (children) {
      all = new ArrayList<>(children);
    }
    // kube-apiserver first, then etcd.
    for (int i = all.size() - 1; i >= 0; i--) {
      Process p = all.get(i);
      p.destroy();
      try {
        if (!p.waitFor(4, java.util.concurrent.TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
      }
    }
    if (kube != null) {
      kube.close();
    }
  }

  // ---- small helpers ----

  private static void log(String level, String message) {
    System.err.println(
        "time=\"" + Instant.now() + "\" level=" + level + " msg=\"" + message + "\"");
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  private static void sleepQuietly(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new Fatal("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  private static void writeFile(Path file, String text, boolean secret) {
    try {
      mkdirs(file.getParent());
      Files.writeString(file, text);
      if (secret) {
        Pki.restrict(file);
      }
    } catch (IOException e) {
      throw new Fatal("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  private static void copy(Path from, Path to) {
    writeFile(to, read(from), false);
  }

  private static void mkdirs(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + dir, e);
    }
  }
}
