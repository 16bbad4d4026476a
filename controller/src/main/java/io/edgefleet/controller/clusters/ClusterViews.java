package io.edgefleet.controller.clusters;

import io.edgefleet.controller.clusters.ClusterModel.EtcdHealth;
import io.edgefleet.controller.clusters.ClusterModel.Member;
import io.edgefleet.controller.clusters.ClusterModel.Report;
import io.edgefleet.controller.clusters.ClusterPlanner.Plan;
import io.edgefleet.protocol.AgentMessage;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/** What the API shows of clusters: their definition, state, members, etcd and versions. */
public final class ClusterViews {
  private final ClusterEngine engine;
  private final ClusterImports imports;
  private final Clock clock;

  ClusterViews(ClusterEngine engine, ClusterImports imports, Clock clock) {
    this.engine = engine;
    this.imports = imports;
    this.clock = clock;
  }

  /** One line of the cluster list. */
  public record Summary(
      String name,
      String selector,
      String state,
      int servers,
      int agents,
      String serversWanted,
      String agentsWanted,
      String kubernetesVersion,
      String profile,
      String reason,
      String project) {}

  /** A member as the cluster view shows it. */
  public record MemberView(
      String deviceId,
      String nodeName,
      String role,
      boolean init,
      boolean removing,
      String phase,
      Boolean ready,
      String kubernetesVersion,
      String kubernetesVersionWanted,
      Boolean etcdMember,
      String address,
      Long lastReportSeconds,
      String message) {}

  /** The cluster's etcd as its members report it. */
  public record EtcdView(
      int voters, int quorum, int healthyVoters, boolean quorumAtRisk, List<String> members) {}

  /** The wanted and the running version of something. */
  public record Versions(String wanted, List<String> running) {}

  /** A cluster in full. */
  public record View(
      String name,
      String selector,
      Clusters.Range servers,
      Clusters.Range agents,
      String kubernetesVersion,
      String profile,
      Map<String, String> labels,
      Map<String, Object> config,
      long graceSeconds,
      String importManifestUrl,
      ClusterImports.Status importStatus,
      boolean deactivated,
      String state,
      List<String> reasons,
      List<MemberView> members,
      EtcdView etcd,
      Versions kubernetes,
      Versions profileVersions,
      long tokenVersion,
      String applier,
      String createdBy,
      Instant createdAt,
      Instant updatedAt,
      String project) {}

  Summary summary(ClusterStore.Row r) {
    Optional<Plan> plan = engine.plan(r.name());
    List<Member> members = plan.map(Plan::members).orElse(List.of());
    int servers = (int) members.stream().filter(m -> !m.removing() && m.server()).count();
    int agents = (int) members.stream().filter(m -> !m.removing() && !m.server()).count();
    return new Summary(
        r.name(),
        r.selector(),
        r.state().name(),
        servers,
        agents,
        r.serversMin() + ".." + r.serversMax(),
        r.agentsMin() + ".." + r.agentsMax(),
        r.kubernetesVersion(),
        engine.profile(r.name()).orElse(r.profile()),
        r.reasons().isEmpty() ? null : r.reasons().getFirst(),
        r.project());
  }

  /**
   * The profile revision the cluster should run (else the profile it follows, or names) and the one
   * its applier runs.
   */
  private Versions profileVersions(ClusterStore.Row r) {
    ProfileSource.Revisions revisions = engine.profileRevisions(r.name(), r.applier());
    String wanted =
        revisions.wanted() != null
            ? revisions.wanted()
            : engine.profile(r.name()).orElse(r.profile());
    return new Versions(
        wanted, revisions.running() == null ? List.of() : List.of(revisions.running()));
  }

  View view(ClusterStore.Row r) {
    Optional<Plan> plan = engine.plan(r.name());
    Instant now = clock.instant();
    List<MemberView> members = new ArrayList<>();
    EtcdHealth etcd =
        plan.map(Plan::etcd).orElse(new EtcdHealth(0, 0, 0, false, java.util.Set.of()));
    TreeSet<String> running = new TreeSet<>();
    for (Member m : plan.map(Plan::members).orElse(List.of())) {
      Optional<Report> report = engine.report(m.deviceId());
      AgentMessage.ClusterNode n = report.map(Report::node).orElse(null);
      if (n != null && n.kubernetesVersion() != null) {
        running.add(n.kubernetesVersion());
      }
      Boolean inEtcd =
          m.server()
              ? etcd.names().stream().anyMatch(e -> ClusterPlanner.etcdNameOf(e, m.nodeName()))
              : null;
      members.add(
          new MemberView(
              m.deviceId(),
              m.nodeName(),
              m.role(),
              m.init(),
              m.removing(),
              n == null ? null : n.phase(),
              n == null ? null : n.ready(),
              n == null ? null : n.kubernetesVersion(),
              m.kubernetesVersion(),
              inEtcd,
              n == null ? null : n.address(),
              report.map(x -> Math.max(0, Duration.between(x.at(), now).toSeconds())).orElse(null),
              n == null ? null : n.message()));
    }
    String wantedVersion =
        plan.flatMap(
                p ->
                    p.sections().values().stream()
                        .map(s -> s.kubernetesVersion())
                        .filter(v -> v != null)
                        .findFirst())
            .orElse(r.kubernetesVersion());
    return new View(
        r.name(),
        r.selector(),
        new Clusters.Range(r.serversMin(), r.serversMax()),
        new Clusters.Range(r.agentsMin(), r.agentsMax()),
        r.kubernetesVersion(),
        r.profile(),
        r.labels(),
        r.config(),
        r.graceSeconds(),
        r.importManifestUrl(),
        imports.status(r).orElse(null),
        r.deactivated(),
        r.state().name(),
        r.reasons(),
        members,
        new EtcdView(
            etcd.voters(),
            etcd.quorum(),
            etcd.healthyVoters(),
            etcd.quorumAtRisk(),
            List.copyOf(new TreeSet<>(etcd.names()))),
        new Versions(wantedVersion, List.copyOf(running)),
        profileVersions(r),
        r.tokenVersion(),
        r.applier(),
        r.createdBy(),
        r.createdAt(),
        r.updatedAt(),
        r.project());
  }
}
