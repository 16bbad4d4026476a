package io.edgefleet.testkit.kube;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientTimeoutException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The Kubernetes cluster that integration tests run against: a real {@code kube-apiserver} backed
 * by a real {@code etcd}, with a real {@code kube-controller-manager}.
 *
 * <p>If the environment variable {@value #KUBECONFIG_ENV} names a kubeconfig file, that cluster is
 * used as it is (nothing is started, no {@link KubeletStandIn}). Otherwise the first call to {@link
 * #shared()} builds the control-plane binaries if they are missing ({@code
 * testkit/k8s/kube-build.sh}, a few minutes once per machine), starts them on free loopback ports
 * with {@code testkit/k8s/kube-up.sh} in a temporary directory, starts a {@link KubeletStandIn} in
 * place of the scheduler and kubelet, and stops everything when the JVM exits.
 */
public final class KubeCluster {
  /** Environment variable naming the kubeconfig of an existing cluster to run the tests against. */
  public static final String KUBECONFIG_ENV = "EDGEFLEET_IT_KUBECONFIG";

  /** Label put on every namespace made by {@link #newNamespace(String)}. */
  public static final String TEST_NAMESPACE_LABEL = "edgefleet.io/test-namespace";

  private static final System.Logger LOG = System.getLogger(KubeCluster.class.getName());
  private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(40);
  private static final Duration UP_TIMEOUT = Duration.ofMinutes(3);
  private static final Duration NAMESPACE_TIMEOUT = Duration.ofSeconds(60);
  private static final SecureRandom RANDOM = new SecureRandom();

  private static KubeCluster shared;

  private final Path kubeconfig;
  private final boolean local;
  private final Path stateDir;
  private final Path scripts;
  private final KubernetesClient client;
  private final List<String> namespaces = new CopyOnWriteArrayList<>();
  private volatile KubeletStandIn standIn;

  private KubeCluster(Path kubeconfig, boolean local, Path stateDir, Path scripts) {
    this.kubeconfig = kubeconfig;
    this.local = local;
    this.stateDir = stateDir;
    this.scripts = scripts;
    this.client = newClient(kubeconfig);
  }

  /**
   * The cluster for this JVM: the one named by {@value #KUBECONFIG_ENV}, or else a local control
   * plane started on first use (and stopped by a shutdown hook).
   */
  public static synchronized KubeCluster shared() {
    if (shared == null) {
      String external = System.getenv(KUBECONFIG_ENV);
      KubeCluster cluster;
      if (external != null && !external.isBlank()) {
        Path path = Path.of(external).toAbsolutePath();
        if (!Files.isReadable(path)) {
          throw new IllegalStateException(
              KUBECONFIG_ENV + "=" + external + " is not a readable file");
        }
        cluster = new KubeCluster(path, false, null, null);
        LOG.log(System.Logger.Level.INFO, "Kubernetes tests run against the cluster of " + path);
      } else {
        cluster = startLocal();
      }
      Runtime.getRuntime().addShutdownHook(new Thread(cluster::shutdown, "kube-cluster-shutdown"));
      shared = cluster;
    }
    return shared;
  }

  /** The kubeconfig file of this cluster (admin credentials for a local one). */
  public Path kubeconfig() {
    return kubeconfig;
  }

  /**
   * True when this JVM started the cluster (and its {@link KubeletStandIn}); false for a real one.
   */
  public boolean local() {
    return local;
  }

  /** A client for this cluster, shared by all callers; do not close it. */
  public KubernetesClient client() {
    return client;
  }

  /** The stand-in for scheduler and kubelet when {@link #local()}, else null. */
  public KubeletStandIn standIn() {
    return standIn;
  }

  /**
   * Creates a namespace with a unique name starting with {@code prefix} and waits until pods can be
   * created in it (its {@code default} service account exists, with its token secret on clusters
   * that still make one). Namespaces made on a real cluster are deleted when the JVM exits.
   */
  public String newNamespace(String prefix) {
    String base = prefix.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]+", "-");
    base = base.replaceAll("^-+", "").replaceAll("-+$", "");
    if (base.isEmpty()) {
      base = "test";
    }
    if (base.length() > 50) {
      base = base.substring(0, 50).replaceAll("-+$", "");
    }
    String name = base + "-" + randomSuffix(6);
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(name)
                .withLabels(Map.of(TEST_NAMESPACE_LABEL, "true"))
                .endMetadata()
                .build())
        .create();
    namespaces.add(name);
    try {
      client
          .serviceAccounts()
          .inNamespace(name)
          .withName("default")
          .waitUntilCondition(
              this::admitsPods, NAMESPACE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (KubernetesClientTimeoutException e) {
      throw new IllegalStateException(
          "namespace " + name + " has no usable default service account after " + NAMESPACE_TIMEOUT,
          e);
    }
    return name;
  }

  /** Deletes a namespace made by {@link #newNamespace(String)} without waiting for it to go. */
  public void deleteNamespace(String name) {
    namespaces.remove(name);
    client.namespaces().withName(name).delete();
  }

  private boolean admitsPods(ServiceAccount sa) {
    if (sa == null) {
      return false;
    }
    // Kubernetes before 1.24 (like the local 1.20) admits pods only once the token controller has
    // linked a token secret to the service account.
    return !local || (sa.getSecrets() != null && !sa.getSecrets().isEmpty());
  }

  private static KubeCluster startLocal() {
    Path scripts = findScripts();
    // A no-op taking milliseconds when the binaries of the current recipe are cached; otherwise
    // the one-time build (4 to 11 minutes) that .ci/run normally does before the tests.
    run(List.of(scripts.resolve("kube-build.sh").toString()), Map.of(), BUILD_TIMEOUT);
    Path dir;
    try {
      dir = Files.createTempDirectory("edgefleet-kube-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    run(
        List.of(scripts.resolve("kube-up.sh").toString(), dir.toString()),
        Map.of("EDGEFLEET_KUBE_OWNER_PID", Long.toString(ProcessHandle.current().pid())),
        UP_TIMEOUT);
    KubeCluster cluster = new KubeCluster(dir.resolve("kubeconfig"), true, dir, scripts);
    try {
      cluster.standIn = KubeletStandIn.start(cluster.client);
    } catch (RuntimeException e) {
      cluster.shutdown();
      throw e;
    }
    return cluster;
  }

  private void shutdown() {
    if (standIn != null) {
      standIn.close();
    }
    if (!local) {
      for (String ns : namespaces) {
        try {
          client.namespaces().withName(ns).delete();
        } catch (RuntimeException e) {
          LOG.log(System.Logger.Level.WARNING, "cannot delete test namespace " + ns, e);
        }
      }
    }
    client.close();
    if (local) {
      try {
        run(
            List.of(scripts.resolve("kube-down.sh").toString(), stateDir.toString()),
            Map.of(),
            Duration.ofSeconds(60));
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "kube-down.sh failed", e);
      }
    }
  }

  private static KubernetesClient newClient(Path kubeconfig) {
    String content;
    try {
      content = Files.readString(kubeconfig);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + kubeconfig, e);
    }
    // The file path lets relative certificate paths in a real cluster's kubeconfig resolve.
    Config config = Config.fromKubeconfig(null, content, kubeconfig.toString());
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  /**
   * The directory holding kube-build.sh / kube-up.sh / kube-down.sh: the system property {@code
   * edgefleet.k8s.scripts}, else {@code testkit/k8s} in the working directory or one of its
   * parents.
   */
  static Path findScripts() {
    String prop = System.getProperty("edgefleet.k8s.scripts");
    if (prop != null && !prop.isBlank()) {
      return Path.of(prop).toAbsolutePath();
    }
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path candidate = p.resolve("testkit").resolve("k8s");
      if (Files.isRegularFile(candidate.resolve("kube-up.sh"))) {
        return candidate;
      }
    }
    throw new IllegalStateException(
        "cannot find testkit/k8s/kube-up.sh from "
            + Path.of("").toAbsolutePath()
            + "; set -Dedgefleet.k8s.scripts=/path/to/testkit/k8s or "
            + KUBECONFIG_ENV);
  }

  /**
   * Runs a script with bash, echoing its output through System.out (so test runners capture it) and
   * failing with the last lines of that output.
   */
  private static void run(List<String> command, Map<String, String> env, Duration timeout) {
    List<String> cmd = new ArrayList<>();
    cmd.add("bash");
    cmd.addAll(command);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    Deque<String> tail = new ArrayDeque<>();
    Process process;
    try {
      process = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + cmd, e);
    }
    try {
      process.getOutputStream().close();
    } catch (IOException e) {
      // Nothing to send anyway.
    }
    Thread reader =
        Thread.ofPlatform()
            .daemon()
            .name("kube-script-output")
            .start(
                () -> {
                  try (BufferedReader r =
                      new BufferedReader(
                          new InputStreamReader(
                              process.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                      System.out.println(line);
                      synchronized (tail) {
                        tail.addLast(line);
                        if (tail.size() > 40) {
                          tail.removeFirst();
                        }
                      }
                    }
                  } catch (IOException e) {
                    // Process ended.
                  }
                });
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        throw new IllegalStateException(cmd + " did not finish within " + timeout);
      }
      reader.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroy();
      throw new IllegalStateException("interrupted while running " + cmd, e);
    }
    if (process.exitValue() != 0) {
      String last;
      synchronized (tail) {
        last = String.join("\n", tail);
      }
      throw new IllegalStateException(
          cmd + " failed with exit code " + process.exitValue() + ":\n" + last);
    }
  }

  private static String randomSuffix(int n) {
    String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    StringBuilder sb = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      sb.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
    }
    return sb.toString();
  }
}
