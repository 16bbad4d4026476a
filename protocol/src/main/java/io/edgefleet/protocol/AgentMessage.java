package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/** Messages an agent sends over its WebSocket. Property {@code t} names the type. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
@JsonSubTypes({
  @JsonSubTypes.Type(value = AgentMessage.Hello.class, name = "hello"),
  @JsonSubTypes.Type(value = AgentMessage.Heartbeat.class, name = "hb"),
  @JsonSubTypes.Type(value = AgentMessage.AppReport.class, name = "apps"),
  @JsonSubTypes.Type(value = AgentMessage.Event.class, name = "event"),
  @JsonSubTypes.Type(value = AgentMessage.TelemetryBatch.class, name = "tel"),
  @JsonSubTypes.Type(value = AgentMessage.LogLines.class, name = "log"),
  @JsonSubTypes.Type(value = AgentMessage.Cluster.class, name = "cluster"),
  @JsonSubTypes.Type(value = AgentMessage.AttestationAnswer.class, name = "quote"),
  @JsonSubTypes.Type(value = AgentMessage.ClusterNode.class, name = "cluster-node"),
  @JsonSubTypes.Type(value = AgentMessage.AgentSlots.class, name = "agent-slots"),
  @JsonSubTypes.Type(value = AgentMessage.ArtifactReport.class, name = "artifacts")
})
public sealed interface AgentMessage {

  /**
   * First message on every connection.
   *
   * @param generation the desired-state generation the agent holds, so the controller can send a
   *     newer document over this socket at once; null from older agents
   * @param allows the remote-access stream kinds the device's own configuration allows ({@link
   *     DeviceFacts#ALLOW_SHELL}, {@link DeviceFacts#ALLOW_FILE}); empty when none
   * @param runtimes the kinds of workload the node runs now ({@link DeviceFacts#runtimes}): a node
   *     may gain or lose one after enrollment (podman installed, K3s removed); empty from older
   *     agents, which keep what they said at enrollment
   */
  record Hello(
      String agentVersion,
      long bootId,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
          Long generation,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_EMPTY)
          java.util.List<String> allows,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_EMPTY)
          java.util.List<String> runtimes)
      implements AgentMessage {
    public Hello {
      allows = allows == null ? java.util.List.of() : java.util.List.copyOf(allows);
      runtimes = runtimes == null ? java.util.List.of() : java.util.List.copyOf(runtimes);
    }

    public Hello(String agentVersion, long bootId, Long generation, java.util.List<String> allows) {
      this(agentVersion, bootId, generation, allows, java.util.List.of());
    }

    public Hello(String agentVersion, long bootId, Long generation) {
      this(agentVersion, bootId, generation, java.util.List.of());
    }

    public Hello(String agentVersion, long bootId) {
      this(agentVersion, bootId, null);
    }
  }

  /**
   * What the device's Kubernetes cluster is now: sent after each (re)connect once the agent has
   * reached its cluster, and whenever it sees the version or the served group versions change. The
   * controller renders charts for this version. Agents without a Kubernetes runtime send nothing.
   *
   * @param kubernetesVersion the API server's {@code gitVersion} ({@code v1.28.3}), see {@link
   *     DeviceFacts#KUBERNETES_VERSION}
   * @param apiVersions the group versions it serves ({@code v1}, {@code apps/v1}, ...), sorted, at
   *     most {@link DeviceFacts#MAX_API_VERSIONS}
   */
  record Cluster(String kubernetesVersion, java.util.List<String> apiVersions)
      implements AgentMessage {
    public Cluster {
      apiVersions = apiVersions == null ? java.util.List.of() : java.util.List.copyOf(apiVersions);
    }
  }

  /** Liveness; deliberately tiny because it is the most frequent exchange. */
  record Heartbeat(long seq) implements AgentMessage {}

  /**
   * The state of every application the device should run, for the generation it holds. Sent when
   * something changed, after each new document and after each (re)connect.
   *
   * @param signingKeys ids of the desired-state signing keys the device trusts now; the controller
   *     signs the device's documents with one of them. Empty from agents that know one key only.
   */
  record AppReport(
      long generation,
      java.util.List<AppState> apps,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_EMPTY)
          java.util.List<String> signingKeys)
      implements AgentMessage {
    public AppReport {
      apps = apps == null ? java.util.List.of() : java.util.List.copyOf(apps);
      signingKeys = signingKeys == null ? java.util.List.of() : java.util.List.copyOf(signingKeys);
    }

    public AppReport(long generation, java.util.List<AppState> apps) {
      this(generation, apps, java.util.List.of());
    }
  }

  /** Something that happened on the device, e.g. a refused desired-state document. */
  record Event(String kind, String message, java.time.Instant at) implements AgentMessage {
    /**
     * The kind of the event a device sends once it connects after it imported an export bundle
     * ({@link ExportManifest}); the controller audits it.
     */
    public static final String IMPORT = "import";
  }

  /** Records from the agent's outbox, oldest first within each kind (events before metrics). */
  record TelemetryBatch(java.util.List<Telemetry> records) implements AgentMessage {
    public TelemetryBatch {
      records = records == null ? java.util.List.of() : java.util.List.copyOf(records);
    }
  }

  /**
   * Workload log lines answering {@link ControllerMessage.LogsRequest} {@code id}; {@code done}
   * ends the stream, {@code error} says why it ended early (null otherwise).
   */
  record LogLines(String id, java.util.List<LogLine> lines, boolean done, String error)
      implements AgentMessage {
    public LogLines {
      lines = lines == null ? java.util.List.of() : java.util.List.copyOf(lines);
    }
  }

  /** One log line of a workload: when the container wrote it, from which pod and container. */
  record LogLine(java.time.Instant at, String pod, String container, String line) {}

  /**
   * Answer to {@link ControllerMessage.AttestationChallenge} {@code id}: the quote, or why the TPM
   * could not give one ({@code error}, and {@code quote} null).
   */
  record AttestationAnswer(
      String id,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
          TpmQuote quote,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
          String error)
      implements AgentMessage {}

  /**
   * The K3s node this device is, as the agent sees it: sent after each (re)connect while the
   * desired state has a {@link ClusterSpec}, whenever something below changes, and at least every
   * 30 seconds while it runs; once with phase {@link #PHASE_STOPPED} after the section went away.
   *
   * @param cluster the cluster's name
   * @param role the role K3s runs in
   * @param phase one of the {@code PHASE_} constants
   * @param nodeName the node's name
   * @param address the address the node advertises (its {@code node-ip}); servers are joined
   *     through {@code https://ADDRESS:6443}
   * @param ready the node's Ready condition as its API server says; null when this node cannot ask
   *     (a K3s agent has no admin credentials)
   * @param kubernetesVersion the version this node runs (the K3s binary's version)
   * @param etcd servers only: the etcd member list as this member reads it (empty when etcd does
   *     not answer), at most {@link #MAX_ETCD_MEMBERS}
   * @param nodes servers only: every node of the cluster as the API server lists it, at most {@link
   *     #MAX_NODES}
   * @param message why the phase is what it is (a failure's cause, what it waits for); null when
   *     running well
   * @param generation the desired-state generation whose section this reflects
   */
  record ClusterNode(
      String cluster,
      String role,
      String phase,
      String nodeName,
      String address,
      Boolean ready,
      String kubernetesVersion,
      java.util.List<EtcdMember> etcd,
      java.util.List<KubeNode> nodes,
      String message,
      long generation)
      implements AgentMessage {
    /** The K3s binary of the wanted version is being fetched. */
    public static final String PHASE_DOWNLOADING = "DOWNLOADING";

    /** K3s was started and has not become ready yet. */
    public static final String PHASE_STARTING = "STARTING";

    /** K3s runs. */
    public static final String PHASE_RUNNING = "RUNNING";

    /** K3s could not be started, or exits again and again; {@code message} says why. */
    public static final String PHASE_FAILED = "FAILED";

    /** K3s was stopped and its data removed: the device is no member any more. */
    public static final String PHASE_STOPPED = "STOPPED";

    public static final int MAX_ETCD_MEMBERS = 15;
    public static final int MAX_NODES = 500;

    public ClusterNode {
      etcd = etcd == null ? java.util.List.of() : java.util.List.copyOf(etcd);
      nodes = nodes == null ? java.util.List.of() : java.util.List.copyOf(nodes);
    }
  }

  /**
   * One etcd member: its id (decimal), name (K3s names members after the node), peer URLs, and
   * whether it is a learner not yet promoted to voting.
   */
  record EtcdMember(String id, String name, java.util.List<String> peerUrls, boolean learner) {
    public EtcdMember {
      peerUrls = peerUrls == null ? java.util.List.of() : java.util.List.copyOf(peerUrls);
    }
  }

  /**
   * One node as the API server lists it: name, Ready condition, kubelet version, whether it is a
   * control-plane (server) node, whether it is cordoned.
   */
  record KubeNode(
      String name,
      boolean ready,
      String kubeletVersion,
      boolean controlPlane,
      boolean unschedulable) {}

  /**
   * The agent's own installation: which of its two slots runs, what each holds and how the last
   * update went. Sent after each connect and whenever it changes (at most every few seconds while a
   * release downloads). Agents that do not run from slots (started from a build or the simulator)
   * send {@code active} null.
   *
   * @param active {@code "a"} or {@code "b"}, or null when the agent does not run from slots
   * @param slotA the version in slot a, null when empty
   * @param slotB the version in slot b, null when empty
   * @param update the last or current update, null when there was none
   */
  record AgentSlots(String active, String slotA, String slotB, AgentUpdate update)
      implements AgentMessage {}

  /**
   * One update of the agent: its target version and how far it got.
   *
   * @param version the release's version
   * @param phase {@link #DOWNLOADING}, {@link #STAGED}, {@link #TRIAL}, {@link #CONFIRMED}, {@link
   *     #ROLLED_BACK} or {@link #REFUSED}
   * @param reason why it was refused or rolled back (a sentence a person can act on); null
   *     otherwise
   * @param bytes bytes of the release on the device so far
   * @param total the release's size
   * @param at when it reached this phase
   */
  record AgentUpdate(
      String version,
      String phase,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
          String reason,
      long bytes,
      long total,
      java.time.Instant at) {
    public static final String DOWNLOADING = "downloading";
    public static final String STAGED = "staged";
    public static final String TRIAL = "trial";
    public static final String CONFIRMED = "confirmed";
    public static final String ROLLED_BACK = "rolled-back";
    public static final String REFUSED = "refused";
  }

  /**
   * The artifacts the device holds and is fetching, sent when that changes (at most every few
   * seconds while a download runs) and after each (re)connect. Rollouts release a device once every
   * artifact it was told to stage is in {@code held}.
   *
   * @param held digests ({@code sha256:<hex>}) of the verified artifacts on the device that its
   *     desired state names (apps and {@code stage}), sorted
   * @param fetching the downloads under way or waiting, in the order they run
   * @param waiting why downloads are not running now (outside the download windows, the day's byte
   *     budget is spent, the link is down); null when they run or there is nothing to fetch
   * @param siteCache the {@code https://host:port} URL at which this device serves blobs to the
   *     other devices of its site, while its desired state makes it its site's cache ({@link
   *     DesiredState.SiteCache#serve()}); null (and absent from the JSON) otherwise
   */
  record ArtifactReport(
      java.util.List<String> held,
      java.util.List<ArtifactProgress> fetching,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
          String waiting,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
          String siteCache)
      implements AgentMessage {
    public ArtifactReport {
      held = held == null ? java.util.List.of() : java.util.List.copyOf(held);
      fetching = fetching == null ? java.util.List.of() : java.util.List.copyOf(fetching);
    }

    /** A report of a device that serves no site cache. */
    public ArtifactReport(
        java.util.List<String> held, java.util.List<ArtifactProgress> fetching, String waiting) {
      this(held, fetching, waiting, null);
    }
  }

  /** One artifact download: {@code bytes} of {@code size} verified so far. */
  record ArtifactProgress(String digest, long size, long bytes) {}
}
