package io.edgefleet.controller.clusters;

import io.edgefleet.controller.artifacts.K3sBinaries;
import io.edgefleet.controller.clusters.ClusterModel.Candidate;
import io.edgefleet.controller.clusters.ClusterModel.Definition;
import io.edgefleet.controller.clusters.ClusterModel.EtcdHealth;
import io.edgefleet.controller.clusters.ClusterModel.Member;
import io.edgefleet.controller.clusters.ClusterModel.Report;
import io.edgefleet.controller.clusters.ClusterModel.State;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ClusterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Decides the next shape of one cluster: a pure function of its definition, the devices, the
 * members, their latest reports and the time. It changes at most one member per call (a join, a
 * role change, a version change or the start of a removal), never one that would leave fewer than a
 * quorum of healthy etcd voters, and explains in {@link Plan#reasons} why the cluster is not at its
 * desired shape.
 */
public final class ClusterPlanner {

  /** The K3s binary of a version for an architecture, if it was pushed. */
  @FunctionalInterface
  public interface K3sLookup {
    Optional<ArtifactRef> k3s(String version, String arch);
  }

  /**
   * Everything the planner needs.
   *
   * @param applier the member that applied the cluster's apps so far (null: none)
   * @param previous the state of the last plan (null for a new cluster)
   */
  public record Input(
      Definition definition,
      List<Candidate> devices,
      List<Member> members,
      Map<String, Report> reports,
      String applier,
      State previous,
      K3sLookup k3s,
      Instant now) {
    public Input {
      devices = List.copyOf(devices);
      members = List.copyOf(members);
      reports = Map.copyOf(reports);
    }
  }

  /**
   * The planner's answer.
   *
   * @param members the members from now on, in join order, those being removed included
   * @param sections the section of every member in good standing, by device id
   * @param applier the member that applies the cluster's apps (null: none running)
   * @param operator the server that carries out removals (null: none)
   * @param changes what this plan changed, as sentences (empty when nothing)
   */
  public record Plan(
      List<Member> members,
      Map<String, ClusterSpec> sections,
      State state,
      List<String> reasons,
      String applier,
      String operator,
      EtcdHealth etcd,
      List<String> changes) {}

  private static final Comparator<Candidate> CANDIDATE_ORDER =
      Comparator.comparing(
              Candidate::enrolledAt, Comparator.nullsLast(Comparator.<Instant>naturalOrder()))
          .thenComparing(Candidate::deviceId);

  private static final Comparator<Member> MEMBER_ORDER =
      Comparator.comparing(Member::joinedAt).thenComparing(Member::deviceId);

  /** Plans one step. */
  public Plan plan(Input in) {
    return new Step(in).run();
  }

  private static final class Step {
    private final Input in;
    private final Definition d;
    private final Map<String, Candidate> devices;
    private final List<String> reasons = new ArrayList<>();
    private final List<String> changes = new ArrayList<>();
    private List<Member> members;

    Step(Input in) {
      this.in = in;
      this.d = in.definition();
      this.devices =
          in.devices().stream()
              .collect(
                  Collectors.toMap(
                      Candidate::deviceId, Function.identity(), (a, b) -> a, LinkedHashMap::new));
      this.members = new ArrayList<>(in.members());
      this.members.sort(MEMBER_ORDER);
    }

    Plan run() {
      if (d.deactivated()) {
        if (!members.isEmpty()) {
          changes.add("released " + members.size() + " member(s): the cluster is deactivated");
        }
        return new Plan(
            List.of(),
            Map.of(),
            State.DEACTIVATED,
            List.of("the cluster is deactivated: its members stopped K3s and removed its data"),
            null,
            null,
            new EtcdHealth(0, 0, 0, false, Set.of()),
            changes);
      }
      finishRemovals();
      boolean removalStarted = startRemoval();
      boolean busy = removalStarted || members.stream().anyMatch(Member::removing);
      for (Member m : active()) {
        if (!settled(m) && unfit(m) == null) {
          busy = true;
          reasons.add(waitingFor(m));
        }
      }
      if (!busy) {
        grow();
      } else {
        explainWaiting();
      }
      explainShape();
      String applier = chooseApplier();
      String operator = chooseOperator(null, applier);
      EtcdHealth etcd = etcdHealth();
      Map<String, ClusterSpec> sections = sections(applier, operator);
      State state = state(etcd);
      return new Plan(
          List.copyOf(members),
          sections,
          state,
          distinct(reasons),
          applier,
          operator,
          etcd,
          List.copyOf(changes));
    }

    // ---- membership changes -------------------------------------------------------------

    /** Drops removed members once the operator's report no longer lists them. */
    private void finishRemovals() {
      List<Member> next = new ArrayList<>();
      for (Member m : members) {
        if (!m.removing()) {
          next.add(m);
          continue;
        }
        boolean otherServers =
            members.stream().anyMatch(o -> o != m && o.server() && !o.removing());
        if (!otherServers) {
          changes.add("removed " + m.nodeName() + ": no other server keeps its cluster state");
          continue;
        }
        String operator = chooseOperator(m.deviceId(), in.applier());
        Report r = operator == null ? null : in.reports().get(operator);
        if (r != null && r.at().isAfter(m.removingSince()) && !lists(r.node(), m.nodeName())) {
          changes.add("removed " + m.nodeName() + " from the cluster");
          continue;
        }
        next.add(m);
        reasons.add(
            operator == null
                ? "removing "
                    + m.nodeName()
                    + ": no running server can remove its node; bring a server back online"
                : "removing " + m.nodeName() + ": waiting for " + name(operator) + " to remove it");
      }
      members = next;
    }

    /** Starts the removal of one member that no longer belongs, dead servers first. */
    private boolean startRemoval() {
      if (members.stream().anyMatch(Member::removing)) {
        return false;
      }
      List<Member> unfit =
          new ArrayList<>(active().stream().filter(m -> unfit(m) != null).toList());
      int agentsMax = d.agentsMax();
      List<Member> agents = active().stream().filter(m -> !m.server()).toList();
      if (unfit.isEmpty() && agents.size() > agentsMax) {
        unfit.add(agents.getLast());
      }
      unfit.sort(
          Comparator.comparing((Member m) -> running(m) ? 1 : 0)
              .thenComparing(m -> m.server() ? 0 : 1)
              .thenComparing(MEMBER_ORDER));
      for (Member m : unfit) {
        String why = unfit(m);
        if (why == null) {
          why = "the cluster has more agents than its maximum " + agentsMax;
        }
        if (m.server()) {
          List<Member> servers = active().stream().filter(Member::server).toList();
          int votersAfter = servers.size() - 1;
          long healthyAfter = servers.stream().filter(s -> s != m && running(s)).count();
          if (votersAfter > 0 && healthyAfter < votersAfter / 2 + 1) {
            reasons.add(
                "not removing "
                    + m.nodeName()
                    + " ("
                    + why
                    + "): only "
                    + healthyAfter
                    + " of "
                    + votersAfter
                    + " remaining servers run, fewer than an etcd quorum of "
                    + (votersAfter / 2 + 1)
                    + "; bring a server back online");
            continue;
          }
          if (votersAfter > 0 && chooseOperator(m.deviceId(), in.applier()) == null) {
            reasons.add(
                "not removing "
                    + m.nodeName()
                    + " ("
                    + why
                    + "): no running server can carry out the removal");
            continue;
          }
        }
        replace(m, m.removingAt(in.now()));
        changes.add("removing " + m.nodeName() + ": " + why);
        reasons.add("removing " + m.nodeName() + ": " + why);
        return true;
      }
      return false;
    }

    /** Adds one server, one agent, or moves one member to the wanted version. */
    private void grow() {
      List<Member> servers = active().stream().filter(Member::server).toList();
      List<Member> agents = active().stream().filter(m -> !m.server()).toList();
      List<Candidate> waiting = waiting();
      int eligible = servers.size() + agents.size() + waiting.size();
      int serverTarget = ClusterModel.largestOdd(Math.min(d.serversMax(), eligible));
      if (servers.isEmpty()) {
        if (serverTarget < d.serversMin()) {
          reasons.add(
              "waiting for devices: "
                  + eligible
                  + " healthy device(s) match "
                  + d.selector()
                  + ", "
                  + d.serversMin()
                  + " needed for the first servers; tag more devices");
          return;
        }
        Candidate first = waiting.getFirst();
        if (artifactMissing(first)) {
          return;
        }
        add(first, ClusterSpec.ROLE_SERVER, true);
        changes.add(first.name() + " initialises the cluster as its first server");
        return;
      }
      if (servers.size() < serverTarget) {
        if (!waiting.isEmpty()) {
          Candidate c = waiting.getFirst();
          if (artifactMissing(c)) {
            return;
          }
          add(c, ClusterSpec.ROLE_SERVER, false);
          changes.add(c.name() + " joins as server " + (servers.size() + 1));
          return;
        }
        if (!agents.isEmpty()) {
          Member a = agents.getLast();
          replace(a, a.withRole(ClusterSpec.ROLE_SERVER, false));
          changes.add(a.nodeName() + " is promoted from agent to server");
          return;
        }
      }
      int agentTarget = Math.min(d.agentsMax(), eligible - Math.max(serverTarget, servers.size()));
      if (agents.size() < agentTarget && !waiting.isEmpty()) {
        Candidate c = waiting.getFirst();
        if (artifactMissing(c)) {
          return;
        }
        add(c, ClusterSpec.ROLE_AGENT, false);
        changes.add(c.name() + " joins as an agent");
        return;
      }
      String wanted = d.kubernetesVersion();
      Optional<Member> outdated =
          active().stream()
              .filter(m -> !wanted.equals(m.kubernetesVersion()))
              .min(
                  Comparator.comparing((Member m) -> m.server() ? 0 : 1)
                      .thenComparing(MEMBER_ORDER));
      if (outdated.isPresent()) {
        Member m = outdated.get();
        Candidate c = devices.get(m.deviceId());
        if (k3s(wanted, c).isEmpty()) {
          reasons.add(K3sHint.hint(wanted, arch(c)));
          return;
        }
        replace(m, m.withVersion(wanted));
        changes.add(m.nodeName() + " moves to Kubernetes " + wanted);
        reasons.add("updating " + m.nodeName() + " to Kubernetes " + wanted);
        return;
      }
      if (!waiting.isEmpty()) {
        reasons.add(
            waiting.size()
                + " matching device(s) wait: the cluster is at its maximum of "
                + d.serversMax()
                + " server(s) and "
                + d.agentsMax()
                + " agent(s)");
      }
    }

    private void explainWaiting() {
      List<Candidate> waiting = waiting();
      if (!waiting.isEmpty()) {
        reasons.add(
            waiting.size()
                + " matching device(s) wait until the current membership change completes");
      }
    }

    private void explainShape() {
      List<Member> servers = active().stream().filter(Member::server).toList();
      long agents = active().stream().filter(m -> !m.server()).count();
      int waiting = waiting().size();
      if (!servers.isEmpty() && servers.size() < d.serversMin()) {
        int missing = d.serversMin() - servers.size();
        reasons.add(
            servers.size()
                + " server(s), below the minimum of "
                + d.serversMin()
                + (waiting >= missing
                    ? ": matching devices join one at a time"
                    : ": tag more devices matching " + d.selector()));
      }
      if (servers.size() > 1 && servers.size() % 2 == 0 && waiting == 0) {
        reasons.add(
            servers.size()
                + " servers: an even number of etcd members tolerates no more failures than "
                + (servers.size() - 1)
                + "; tag one more matching device");
      }
      if (!servers.isEmpty() && agents < d.agentsMin()) {
        reasons.add(
            agents
                + " agent(s), below the minimum of "
                + d.agentsMin()
                + ": tag more devices matching "
                + d.selector());
      }
      for (Member m : active()) {
        Report r = in.reports().get(m.deviceId());
        if (r != null && AgentMessage.ClusterNode.PHASE_FAILED.equals(r.node().phase())) {
          reasons.add(
              m.nodeName()
                  + " failed"
                  + (r.node().message() == null ? "" : ": " + r.node().message()));
        }
        Candidate c = devices.get(m.deviceId());
        if (c != null && !c.online() && unfit(m) == null) {
          reasons.add(
              m.nodeName() + " is offline; it is replaced after " + human(d.grace()) + " offline");
        }
      }
    }

    private boolean artifactMissing(Candidate c) {
      if (k3s(d.kubernetesVersion(), c).isPresent()) {
        return false;
      }
      reasons.add(K3sHint.hint(d.kubernetesVersion(), arch(c)));
      return true;
    }

    private void add(Candidate c, String role, boolean init) {
      members.add(
          new Member(c.deviceId(), c.name(), role, init, in.now(), d.kubernetesVersion(), null));
    }

    private void replace(Member old, Member now) {
      members.set(members.indexOf(old), now);
    }

    // ---- health -------------------------------------------------------------------------

    private List<Member> active() {
      return members.stream().filter(m -> !m.removing()).toList();
    }

    private List<Candidate> waiting() {
      Set<String> memberIds = members.stream().map(Member::deviceId).collect(Collectors.toSet());
      return devices.values().stream()
          .filter(c -> !memberIds.contains(c.deviceId()))
          .filter(c -> c.otherCluster() == null)
          .filter(c -> c.online() && unfit(c) == null)
          .sorted(CANDIDATE_ORDER)
          .toList();
    }

    /** Why the member should leave, or null when it belongs. */
    private String unfit(Member m) {
      Candidate c = devices.get(m.deviceId());
      return c == null ? "the device is no longer enrolled" : unfit(c);
    }

    private String unfit(Candidate c) {
      if (!c.active()) {
        return "the device is decommissioned";
      }
      if (c.quarantined()) {
        return "the device is quarantined";
      }
      if (!d.selector().matches(c.tags())) {
        return "the device no longer matches " + d.selector();
      }
      if (!c.online()
          && (c.lastSeen() == null || c.lastSeen().plus(d.grace()).isBefore(in.now()))) {
        return "the device has been offline for more than " + human(d.grace());
      }
      return null;
    }

    private boolean online(String deviceId, Duration tolerance) {
      Candidate c = devices.get(deviceId);
      if (c == null) {
        return false;
      }
      return c.online()
          || (c.lastSeen() != null && !c.lastSeen().plus(tolerance).isBefore(in.now()));
    }

    private boolean running(Member m) {
      Candidate c = devices.get(m.deviceId());
      Report r = in.reports().get(m.deviceId());
      return c != null
          && c.online()
          && r != null
          && AgentMessage.ClusterNode.PHASE_RUNNING.equals(r.node().phase())
          && d.name().equals(r.node().cluster())
          && m.role().equals(r.node().role());
    }

    /** Running at its wanted version, ready, and (a server) a voting etcd member. */
    private boolean settled(Member m) {
      if (!healthy(m)) {
        return false;
      }
      AgentMessage.ClusterNode n = in.reports().get(m.deviceId()).node();
      return m.kubernetesVersion() == null || m.kubernetesVersion().equals(n.kubernetesVersion());
    }

    /** Running, ready, and (a server) a voting etcd member, whatever its version. */
    private boolean healthy(Member m) {
      if (!running(m)) {
        return false;
      }
      AgentMessage.ClusterNode n = in.reports().get(m.deviceId()).node();
      if (Boolean.FALSE.equals(n.ready())) {
        return false;
      }
      if (!m.server()) {
        return true;
      }
      List<Member> others = active().stream().filter(o -> o.server() && o != m).toList();
      if (others.isEmpty()) {
        return true;
      }
      for (Member o : others) {
        Report r = in.reports().get(o.deviceId());
        if (r != null && running(o)) {
          for (AgentMessage.EtcdMember e : r.node().etcd()) {
            if (etcdNameOf(e.name(), m.nodeName()) && !e.learner()) {
              return true;
            }
          }
        }
      }
      return false;
    }

    private String waitingFor(Member m) {
      Report r = in.reports().get(m.deviceId());
      String phase = r == null ? "no report yet" : r.node().phase();
      if (running(m)
          && m.kubernetesVersion() != null
          && !m.kubernetesVersion().equals(r.node().kubernetesVersion())) {
        return "waiting for "
            + m.nodeName()
            + " to run Kubernetes "
            + m.kubernetesVersion()
            + " (runs "
            + r.node().kubernetesVersion()
            + ")";
      }
      if (running(m)) {
        return "waiting for "
            + m.nodeName()
            + " to become ready"
            + (m.server() ? " and a voting etcd member" : "");
      }
      return "waiting for " + m.nodeName() + " (" + m.role() + ") to run K3s: " + phase;
    }

    // ---- roles ------------------------------------------------------------------------------

    private String chooseApplier() {
      Member current = byId(in.applier());
      // The applier moves only when it is removed or offline for longer than the failover
      // time: a report that says STARTING for a moment (a slow API server, a restart for an
      // upgrade) must not move the cluster-scoped apps away and back.
      if (current != null
          && current.server()
          && !current.removing()
          && online(current.deviceId(), ClusterModel.APPLIER_FAILOVER)
          && in.reports().containsKey(current.deviceId())) {
        return current.deviceId();
      }
      List<Member> running =
          active().stream()
              .filter(m -> m.server() && running(m))
              .sorted(
                  Comparator.comparing((Member m) -> m.init() ? 0 : 1).thenComparing(MEMBER_ORDER))
              .toList();
      if (!running.isEmpty()) {
        return running.getFirst().deviceId();
      }
      return current != null && current.server() && !current.removing() ? current.deviceId() : null;
    }

    /** A running server other than {@code excluded}: the applier when it runs, else the oldest. */
    private String chooseOperator(String excluded, String applier) {
      Member a = byId(applier);
      if (a != null
          && !a.deviceId().equals(excluded)
          && a.server()
          && !a.removing()
          && running(a)) {
        return a.deviceId();
      }
      return members.stream()
          .filter(m -> m.server() && !m.removing() && !m.deviceId().equals(excluded) && running(m))
          .map(Member::deviceId)
          .findFirst()
          .orElse(null);
    }

    // ---- output -------------------------------------------------------------------------

    private Map<String, ClusterSpec> sections(String applier, String operator) {
      List<String> urls = new ArrayList<>();
      List<Member> joinable =
          active().stream()
              .filter(m -> m.server() && running(m))
              .sorted(
                  Comparator.comparing((Member m) -> m.deviceId().equals(applier) ? 0 : 1)
                      .thenComparing(MEMBER_ORDER))
              .toList();
      List<ClusterSpec.Removal> removals =
          members.stream()
              .filter(Member::removing)
              .map(m -> new ClusterSpec.Removal(m.nodeName(), m.server()))
              .toList();
      Map<String, ClusterSpec> sections = new LinkedHashMap<>();
      for (Member m : active()) {
        urls.clear();
        if (!m.init()) {
          for (Member s : joinable) {
            if (s != m) {
              urls.add(serverUrl(in.reports().get(s.deviceId()).node().address()));
            }
          }
        }
        Candidate c = devices.get(m.deviceId());
        ArtifactRef k3s = k3s(m.kubernetesVersion(), c).orElse(null);
        if (k3s == null) {
          reasons.add(K3sHint.hint(m.kubernetesVersion(), arch(c)));
        }
        sections.put(
            m.deviceId(),
            new ClusterSpec(
                d.name(),
                m.role(),
                m.init(),
                List.copyOf(urls),
                d.tokenVersion(),
                m.nodeName(),
                d.labels(),
                List.of(),
                m.kubernetesVersion(),
                k3s,
                d.config(),
                m.deviceId().equals(operator) ? removals : List.of()));
      }
      return sections;
    }

    private EtcdHealth etcdHealth() {
      List<Member> servers = active().stream().filter(Member::server).toList();
      Set<String> names = new HashSet<>();
      int voters = 0;
      for (Member s : servers) {
        Report r = in.reports().get(s.deviceId());
        if (r == null || !running(s)) {
          continue;
        }
        List<AgentMessage.EtcdMember> list = r.node().etcd();
        int v = (int) list.stream().filter(e -> !e.learner()).count();
        if (v > voters) {
          voters = v;
          names = list.stream().map(AgentMessage.EtcdMember::name).collect(Collectors.toSet());
        }
      }
      int healthy;
      if (voters == 0) {
        voters = servers.size();
        healthy = (int) servers.stream().filter(this::running).count();
      } else {
        Set<String> etcdNames = names;
        healthy =
            (int)
                servers.stream()
                    .filter(this::running)
                    .filter(s -> etcdNames.stream().anyMatch(n -> etcdNameOf(n, s.nodeName())))
                    .count();
      }
      int quorum = voters / 2 + 1;
      boolean atRisk =
          voters > 0
              && (healthy < quorum || (voters >= 3 && healthy <= quorum && healthy < voters));
      return new EtcdHealth(voters, voters == 0 ? 0 : quorum, healthy, atRisk, Set.copyOf(names));
    }

    private State state(EtcdHealth etcd) {
      List<Member> active = active();
      if (active.isEmpty()) {
        return State.PENDING;
      }
      boolean formed =
          in.previous() == State.READY
              || in.previous() == State.UPDATING
              || in.previous() == State.DEGRADED;
      List<Member> servers = active.stream().filter(Member::server).toList();
      long settledServers = servers.stream().filter(this::healthy).count();
      long settledAgents = active.stream().filter(m -> !m.server() && healthy(m)).count();
      boolean failing =
          active.stream()
              .anyMatch(
                  m -> {
                    Report r = in.reports().get(m.deviceId());
                    Candidate c = devices.get(m.deviceId());
                    return (r != null
                            && AgentMessage.ClusterNode.PHASE_FAILED.equals(r.node().phase()))
                        || c == null
                        || !c.online()
                        || unfit(m) != null;
                  });
      boolean lostMember =
          members.stream().anyMatch(m -> m.removing() && !online(m.deviceId(), Duration.ZERO));
      boolean belowMin = settledServers < d.serversMin() || settledAgents < d.agentsMin();
      // An upgrade restarts one node at a time: while the node it moved restarts and every other
      // member is healthy, the cluster is updating, not degraded (quorum holds on the others).
      if (formed && in.previous() == State.UPDATING && !failing && !lostMember) {
        List<Member> restarting = active.stream().filter(this::restartingForUpgrade).toList();
        if (restarting.size() == 1
            && active.stream().filter(m -> m != restarting.getFirst()).allMatch(this::healthy)) {
          Member m = restarting.getFirst();
          reasons.add(
              m.nodeName()
                  + " restarts for Kubernetes "
                  + m.kubernetesVersion()
                  + "; the other members keep the cluster running");
          return State.UPDATING;
        }
      }
      if (formed && (etcd.quorumAtRisk() || failing || lostMember || belowMin)) {
        if (etcd.quorumAtRisk()) {
          reasons.add(
              "etcd quorum at risk: "
                  + etcd.healthyVoters()
                  + " of "
                  + etcd.voters()
                  + " voting members healthy, "
                  + etcd.quorum()
                  + " needed");
        }
        boolean updating =
            !belowMin
                && !failing
                && !lostMember
                && !etcd.quorumAtRisk()
                && active.stream()
                    .anyMatch(
                        m -> !d.kubernetesVersion().equals(m.kubernetesVersion()) || !settled(m));
        return updating ? State.UPDATING : State.DEGRADED;
      }
      if (!formed && (belowMin || !settledAll(active))) {
        boolean hardFailure =
            active.stream()
                .anyMatch(
                    m -> {
                      Report r = in.reports().get(m.deviceId());
                      return r != null
                          && AgentMessage.ClusterNode.PHASE_FAILED.equals(r.node().phase());
                    });
        return hardFailure ? State.DEGRADED : State.FORMING;
      }
      boolean versionChange =
          active.stream()
              .anyMatch(
                  m ->
                      !d.kubernetesVersion().equals(m.kubernetesVersion())
                          || (m.kubernetesVersion() != null
                              && running(m)
                              && !m.kubernetesVersion()
                                  .equals(
                                      in.reports().get(m.deviceId()).node().kubernetesVersion())));
      return versionChange ? State.UPDATING : State.READY;
    }

    /**
     * Moved to the cluster's Kubernetes version and on its way there: online, not failed, not yet
     * healthy, and downloading or starting, or still reporting another version.
     */
    private boolean restartingForUpgrade(Member m) {
      Candidate c = devices.get(m.deviceId());
      Report r = in.reports().get(m.deviceId());
      if (c == null
          || !c.online()
          || r == null
          || !d.kubernetesVersion().equals(m.kubernetesVersion())
          || healthy(m)) {
        return false;
      }
      String phase = r.node().phase();
      return !AgentMessage.ClusterNode.PHASE_FAILED.equals(phase)
          && (AgentMessage.ClusterNode.PHASE_STARTING.equals(phase)
              || AgentMessage.ClusterNode.PHASE_DOWNLOADING.equals(phase)
              || !m.kubernetesVersion().equals(r.node().kubernetesVersion()));
    }

    private boolean settledAll(List<Member> active) {
      return active.stream().filter(Member::server).allMatch(this::settled);
    }

    // ---- helpers ------------------------------------------------------------------------

    private Member byId(String deviceId) {
      if (deviceId == null) {
        return null;
      }
      return members.stream().filter(m -> m.deviceId().equals(deviceId)).findFirst().orElse(null);
    }

    private Optional<ArtifactRef> k3s(String version, Candidate c) {
      if (version == null) {
        return Optional.empty();
      }
      return in.k3s().k3s(version, arch(c));
    }

    private String name(String deviceId) {
      Member m = byId(deviceId);
      return m == null ? deviceId : m.nodeName();
    }
  }

  /**
   * Whether an etcd member called {@code etcdName} is the node {@code nodeName} (K3s appends -hex).
   */
  static boolean etcdNameOf(String etcdName, String nodeName) {
    return etcdName != null && (etcdName.equals(nodeName) || etcdName.startsWith(nodeName + "-"));
  }

  /** Whether a server's report still shows the node, in Kubernetes or in etcd. */
  static boolean lists(AgentMessage.ClusterNode report, String nodeName) {
    return report.nodes().stream().anyMatch(n -> nodeName.equals(n.name()))
        || report.etcd().stream().anyMatch(e -> etcdNameOf(e.name(), nodeName));
  }

  static String serverUrl(String address) {
    String host = address != null && address.contains(":") ? "[" + address + "]" : address;
    return "https://" + host + ":6443";
  }

  static String arch(Candidate c) {
    if (c == null || c.arch() == null || c.arch().isBlank()) {
      return "amd64";
    }
    return switch (c.arch()) {
      case "x86_64" -> "amd64";
      case "aarch64" -> "arm64";
      default -> c.arch();
    };
  }

  static String human(Duration d) {
    long s = d.toSeconds();
    if (s % 3600 == 0 && s > 0) {
      return (s / 3600) + "h";
    }
    if (s % 60 == 0 && s > 0) {
      return (s / 60) + "m";
    }
    return s + "s";
  }

  private static List<String> distinct(List<String> l) {
    return List.copyOf(new java.util.LinkedHashSet<>(l));
  }

  /** The hint to push a missing K3s binary. */
  static final class K3sHint {
    private K3sHint() {}

    static String hint(String version, String arch) {
      return K3sBinaries.pushHint(version, arch);
    }
  }
}
