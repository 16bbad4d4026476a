package io.edgefleet.controller.clusters;

import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ClusterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** The values the clusters feature reasons about: definitions, candidates, members and reports. */
public final class ClusterModel {
  private ClusterModel() {}

  /** A cluster's lifecycle state. */
  public enum State {
    PENDING,
    FORMING,
    READY,
    UPDATING,
    DEGRADED,
    DEACTIVATED
  }

  /** A cluster name: a DNS label. */
  public static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  /** Default offline grace before a member is replaced. */
  public static final Duration DEFAULT_GRACE = Duration.ofMinutes(5);

  /** How long the applier may be offline before another server takes over. */
  public static final Duration APPLIER_FAILOVER = Duration.ofSeconds(60);

  /**
   * What an operator asked for.
   *
   * @param kubernetesVersion the wanted K3s version, already resolved from the profile if it has a
   *     Kubernetes layer
   * @param config K3s configuration keys for every member (profile layer merged over the cluster's)
   */
  public record Definition(
      String name,
      Selector selector,
      int serversMin,
      int serversMax,
      int agentsMin,
      int agentsMax,
      String kubernetesVersion,
      Map<String, String> labels,
      Map<String, Object> config,
      Duration grace,
      boolean deactivated,
      long tokenVersion) {
    public Definition {
      labels = labels == null ? Map.of() : Map.copyOf(labels);
      config = config == null ? Map.of() : Map.copyOf(config);
      grace = grace == null ? DEFAULT_GRACE : grace;
    }
  }

  /**
   * A device as the planner sees it.
   *
   * @param active enrolled and not decommissioned
   * @param quarantined device trust says it may not take part
   * @param online connected now
   * @param lastSeen last time the controller heard from it (null: never)
   * @param otherCluster the cluster it is a member of when that is another one, else null
   */
  public record Candidate(
      String deviceId,
      String name,
      Map<String, String> tags,
      boolean active,
      boolean quarantined,
      boolean online,
      Instant lastSeen,
      Instant enrolledAt,
      String arch,
      String otherCluster) {
    public Candidate {
      tags = tags == null ? Map.of() : Map.copyOf(tags);
    }
  }

  /**
   * A member of a cluster as recorded.
   *
   * @param init this server initialised the cluster
   * @param kubernetesVersion the version the member is asked to run
   * @param removingSince when the member's removal started (null: a member in good standing); a
   *     member being removed has no section and the operator server removes its node (and etcd
   *     member)
   */
  public record Member(
      String deviceId,
      String nodeName,
      String role,
      boolean init,
      Instant joinedAt,
      String kubernetesVersion,
      Instant removingSince) {
    public boolean removing() {
      return removingSince != null;
    }

    public boolean server() {
      return ClusterSpec.ROLE_SERVER.equals(role);
    }

    public Member withRole(String r, boolean i) {
      return new Member(deviceId, nodeName, r, i, joinedAt, kubernetesVersion, removingSince);
    }

    public Member withVersion(String v) {
      return new Member(deviceId, nodeName, role, init, joinedAt, v, removingSince);
    }

    public Member removingAt(Instant at) {
      return new Member(deviceId, nodeName, role, init, joinedAt, kubernetesVersion, at);
    }
  }

  /** The latest report of a member and when it arrived. */
  public record Report(AgentMessage.ClusterNode node, Instant at) {}

  /**
   * The cluster's etcd as the members' reports show it.
   *
   * @param voters voting members
   * @param quorum voters needed for etcd to accept writes
   * @param healthyVoters voters whose node runs
   * @param quorumAtRisk fewer healthy voters than a quorum, or one more failure would be too many
   * @param names the names of the etcd members
   */
  public record EtcdHealth(
      int voters, int quorum, int healthyVoters, boolean quorumAtRisk, Set<String> names) {}

  /** Whether {@code n} is odd and at least one. */
  public static boolean validServerCount(int n) {
    return n >= 1 && n % 2 == 1;
  }

  /** Largest odd number not above {@code n}, 0 when n is below 1. */
  public static int largestOdd(int n) {
    if (n < 1) {
      return 0;
    }
    return n % 2 == 1 ? n : n - 1;
  }
}
