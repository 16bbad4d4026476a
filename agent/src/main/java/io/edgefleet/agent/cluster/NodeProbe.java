package io.edgefleet.agent.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.edgefleet.agent.runtime.kubernetes.TlsAccess;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Asks a K3s server about its cluster: the API server through the kubeconfig K3s wrote (nodes,
 * readiness; cordon and delete), and the embedded etcd through its JSON gateway with the etcd
 * client certificates (member list and remove). Every call blocks for at most the timeout.
 */
final class NodeProbe {
  static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  /** The largest answer read from the API server or etcd. */
  static final int MAX_ANSWER = 8 << 20;

  private final Path kubeconfig;
  private final Path dataDir;
  private final Duration timeout;

  NodeProbe(Path kubeconfig, Path dataDir, Duration timeout) {
    this.kubeconfig = kubeconfig;
    this.dataDir = dataDir;
    this.timeout = timeout;
  }

  /** A failed question, with a message for a person. */
  static final class ProbeException extends IOException {
    final int status;

    ProbeException(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  // ------------------------------------------------------------------ API server

  private HttpClient api;
  private TlsAccess.Api apiAccess;
  private long kubeconfigModified = -1;

  private synchronized TlsAccess.Api api() throws IOException {
    long modified;
    try {
      modified = Files.getLastModifiedTime(kubeconfig).toMillis();
    } catch (IOException e) {
      throw new ProbeException(0, "K3s has not written its kubeconfig " + kubeconfig + " yet");
    }
    if (api == null || modified != kubeconfigModified) {
      try {
        apiAccess = TlsAccess.kubeconfig(kubeconfig);
      } catch (IllegalArgumentException e) {
        throw new ProbeException(0, e.getMessage());
      }
      api =
          HttpClient.newBuilder()
              .sslContext(apiAccess.ssl())
              .connectTimeout(timeout)
              .version(HttpClient.Version.HTTP_1_1)
              .build();
      kubeconfigModified = modified;
    }
    return apiAccess;
  }

  private JsonNode apiCall(String method, String path, String contentType, String body)
      throws IOException {
    TlsAccess.Api a = api();
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(a.server().toString().replaceAll("/$", "") + path))
            .timeout(timeout)
            .header("Accept", "application/json");
    a.token().ifPresent(t -> b.header("Authorization", "Bearer " + t));
    if (body == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", contentType)
          .method(method, HttpRequest.BodyPublishers.ofString(body));
    }
    HttpClient c;
    synchronized (this) {
      c = api;
    }
    return send(c, b.build(), "the API server");
  }

  /** The node's Ready condition, or empty if the API server has no such node. */
  Optional<Boolean> ready(String node) throws IOException {
    try {
      JsonNode n = apiCall("GET", "/api/v1/nodes/" + enc(node), null, null);
      return Optional.of(kubeNode(n).ready());
    } catch (ProbeException e) {
      if (e.status == 404) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /** Every node of the cluster, at most {@link AgentMessage.ClusterNode#MAX_NODES}. */
  List<AgentMessage.KubeNode> nodes() throws IOException {
    JsonNode list =
        apiCall("GET", "/api/v1/nodes?limit=" + AgentMessage.ClusterNode.MAX_NODES, null, null);
    List<AgentMessage.KubeNode> out = new ArrayList<>();
    for (JsonNode n : list.path("items")) {
      if (out.size() >= AgentMessage.ClusterNode.MAX_NODES) {
        break;
      }
      out.add(kubeNode(n));
    }
    return out;
  }

  static AgentMessage.KubeNode kubeNode(JsonNode n) {
    boolean ready = false;
    for (JsonNode c : n.path("status").path("conditions")) {
      if ("Ready".equals(c.path("type").asText())) {
        ready = "True".equals(c.path("status").asText());
      }
    }
    JsonNode labels = n.path("metadata").path("labels");
    boolean controlPlane =
        "true".equals(labels.path("node-role.kubernetes.io/control-plane").asText())
            || "true".equals(labels.path("node-role.kubernetes.io/master").asText());
    return new AgentMessage.KubeNode(
        n.path("metadata").path("name").asText(),
        ready,
        n.path("status").path("nodeInfo").path("kubeletVersion").asText(null),
        controlPlane,
        n.path("spec").path("unschedulable").asBoolean(false));
  }

  /** Marks the node unschedulable; false if there is no such node. */
  boolean cordon(String node) throws IOException {
    try {
      apiCall(
          "PATCH",
          "/api/v1/nodes/" + enc(node),
          "application/merge-patch+json",
          "{\"spec\":{\"unschedulable\":true}}");
      return true;
    } catch (ProbeException e) {
      if (e.status == 404) {
        return false;
      }
      throw e;
    }
  }

  /** The most pods one drain evicts; a node holding more is drained over later removals. */
  static final int MAX_EVICTIONS = 500;

  /**
   * Evicts the pods of a node as a drain does, through the Eviction API so that disruption budgets
   * hold: every pod bound to the node except DaemonSet pods (the DaemonSet would put them back),
   * mirror pods (the kubelet owns them) and pods already terminating.
   *
   * @return the pods evicted, {@code namespace/name}
   * @throws ProbeException naming the pods a disruption budget kept, or the first failure
   */
  List<String> evictPods(String node) throws IOException {
    JsonNode pods =
        apiCall(
            "GET",
            "/api/v1/pods?fieldSelector="
                + enc("spec.nodeName=" + node)
                + "&limit="
                + MAX_EVICTIONS,
            null,
            null);
    List<String> evicted = new ArrayList<>();
    List<String> kept = new ArrayList<>();
    for (JsonNode pod : pods.path("items")) {
      if (!evictable(pod)) {
        continue;
      }
      String ns = pod.path("metadata").path("namespace").asText();
      String name = pod.path("metadata").path("name").asText();
      try {
        evict(ns, name);
        evicted.add(ns + "/" + name);
      } catch (ProbeException e) {
        if (e.status == 404) {
          continue;
        }
        if (e.status != 429) {
          throw e;
        }
        kept.add(ns + "/" + name);
      }
    }
    if (!kept.isEmpty()) {
      throw new ProbeException(
          429,
          "a disruption budget keeps "
              + String.join(", ", kept)
              + " on node "
              + node
              + " (evicted "
              + evicted.size()
              + " other pods)");
    }
    return evicted;
  }

  /** Whether a drain evicts this pod: not a DaemonSet's, not a mirror pod, not terminating. */
  static boolean evictable(JsonNode pod) {
    JsonNode meta = pod.path("metadata");
    if (meta.hasNonNull("deletionTimestamp")
        || meta.path("annotations").has("kubernetes.io/config.mirror")) {
      return false;
    }
    for (JsonNode owner : meta.path("ownerReferences")) {
      if ("DaemonSet".equals(owner.path("kind").asText())) {
        return false;
      }
    }
    return true;
  }

  /** One eviction: policy/v1, or policy/v1beta1 on an API server older than 1.22. */
  private void evict(String ns, String name) throws IOException {
    String path = "/api/v1/namespaces/" + enc(ns) + "/pods/" + enc(name) + "/eviction";
    String body =
        "{\"apiVersion\":\"%s\",\"kind\":\"Eviction\",\"metadata\":{\"name\":%s,\"namespace\":%s}}";
    String names = JsonCodec.write(name);
    String namespace = JsonCodec.write(ns);
    try {
      apiCall("POST", path, "application/json", body.formatted("policy/v1", names, namespace));
    } catch (ProbeException e) {
      if (e.status != 400 && e.status != 422) {
        throw e;
      }
      apiCall("POST", path, "application/json", body.formatted("policy/v1beta1", names, namespace));
    }
  }

  /** Deletes the Node object; false if there was none. */
  boolean deleteNode(String node) throws IOException {
    try {
      apiCall("DELETE", "/api/v1/nodes/" + enc(node), null, null);
      return true;
    } catch (ProbeException e) {
      if (e.status == 404) {
        return false;
      }
      throw e;
    }
  }

  // ------------------------------------------------------------------ etcd

  private HttpClient etcd;

  private synchronized HttpClient etcd() throws IOException {
    if (etcd == null) {
      Path tls = dataDir.resolve("server").resolve("tls").resolve("etcd");
      if (!Files.isReadable(tls.resolve("client.key"))) {
        throw new ProbeException(0, "K3s has not written the etcd client certificate yet");
      }
      etcd =
          HttpClient.newBuilder()
              .sslContext(
                  TlsAccess.mutual(
                      tls.resolve("server-ca.crt"),
                      tls.resolve("client.crt"),
                      tls.resolve("client.key")))
              .connectTimeout(timeout)
              .version(HttpClient.Version.HTTP_1_1)
              .build();
    }
    return etcd;
  }

  /** Forgets the clients (after K3s restarted with new certificates). */
  synchronized void reset() {
    api = null;
    etcd = null;
  }

  private JsonNode etcdCall(String path, String body) throws IOException {
    HttpRequest r =
        HttpRequest.newBuilder(URI.create("https://127.0.0.1:2379" + path))
            .timeout(timeout)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
    return send(etcd(), r, "etcd");
  }

  /** The etcd members, at most {@link AgentMessage.ClusterNode#MAX_ETCD_MEMBERS}. */
  List<AgentMessage.EtcdMember> members() throws IOException {
    return members(etcdCall("/v3/cluster/member/list", "{}"));
  }

  static List<AgentMessage.EtcdMember> members(JsonNode answer) {
    List<AgentMessage.EtcdMember> out = new ArrayList<>();
    for (JsonNode m : answer.path("members")) {
      if (out.size() >= AgentMessage.ClusterNode.MAX_ETCD_MEMBERS) {
        break;
      }
      List<String> peers = new ArrayList<>();
      for (JsonNode p : m.path("peerURLs")) {
        if (peers.size() < 8) {
          peers.add(p.asText());
        }
      }
      out.add(
          new AgentMessage.EtcdMember(
              m.path("ID").asText(),
              m.path("name").asText(""),
              peers,
              m.path("isLearner").asBoolean(false)));
    }
    return out;
  }

  /** Removes a member by its decimal id. */
  void removeMember(String id) throws IOException {
    etcdCall("/v3/cluster/member/remove", "{\"ID\":\"" + id + "\"}");
  }

  // ------------------------------------------------------------------ plumbing

  private JsonNode send(HttpClient c, HttpRequest r, String what) throws IOException {
    HttpResponse<InputStream> resp;
    try {
      resp = c.send(r, HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } catch (IOException e) {
      throw new ProbeException(
          0,
          what + " does not answer: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
    }
    byte[] body;
    try (InputStream in = resp.body()) {
      body = in.readNBytes(MAX_ANSWER + 1);
    }
    if (body.length > MAX_ANSWER) {
      throw new ProbeException(0, what + " answered more than " + MAX_ANSWER + " bytes");
    }
    if (resp.statusCode() / 100 != 2) {
      String message = "";
      try {
        message = JsonCodec.readTree(body).path("message").asText("");
      } catch (IOException e) {
        // Not JSON.
      }
      throw new ProbeException(
          resp.statusCode(),
          what
              + " answered HTTP "
              + resp.statusCode()
              + (message.isEmpty()
                  ? ""
                  : ": " + message.substring(0, Math.min(message.length(), 200))));
    }
    return body.length == 0 ? JSON.objectNode() : JsonCodec.readTree(body);
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
