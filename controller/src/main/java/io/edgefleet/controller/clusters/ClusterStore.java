package io.edgefleet.controller.clusters;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.controller.clusters.ClusterModel.Member;
import io.edgefleet.controller.clusters.ClusterModel.State;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jdbi.v3.core.Handle;

/** The {@code clusters} and {@code cluster_members} tables. */
public final class ClusterStore {
  private static final TypeReference<TreeMap<String, String>> LABELS = new TypeReference<>() {};
  private static final TypeReference<TreeMap<String, Object>> CONFIG = new TypeReference<>() {};
  private static final TypeReference<List<String>> REASONS = new TypeReference<>() {};

  /** One cluster as stored. */
  public record Row(
      String name,
      String selector,
      int serversMin,
      int serversMax,
      int agentsMin,
      int agentsMax,
      String kubernetesVersion,
      String profile,
      Map<String, String> labels,
      Map<String, Object> config,
      long graceSeconds,
      String importManifestUrl,
      State state,
      List<String> reasons,
      String applier,
      boolean deactivated,
      String tokenKeyId,
      String tokenSealed,
      long tokenVersion,
      String createdBy,
      Instant createdAt,
      Instant updatedAt,
      String project) {}

  /** A member with its last persisted report. */
  public record MemberRow(
      String cluster, Member member, AgentMessage.ClusterNode report, Instant reportAt) {}

  /**
   * A cluster as other features see it: what it is called and labelled, the profile it names, its
   * applier and the Kubernetes version the applier last reported (else the one it is told, else the
   * cluster's).
   */
  public record Listed(
      String name,
      Map<String, String> labels,
      String profile,
      String applier,
      String kubernetesVersion) {}

  /** Every cluster as other features see it, by name. */
  public List<Listed> listed(Handle h) {
    return h.createQuery(
            "SELECT c.name, c.labels, c.profile, c.applier, c.kubernetes_version, m.kubernetes_version"
                + " AS member_version, m.last_report FROM clusters c LEFT JOIN cluster_members m ON"
                + " m.device_id = c.applier AND m.cluster = c.name ORDER BY c.name")
        .map(
            (rs, ctx) -> {
              String version = rs.getString("kubernetes_version");
              String told = rs.getString("member_version");
              String report = rs.getString("last_report");
              String reported =
                  report == null
                      ? null
                      : read(report, AgentMessage.ClusterNode.class).kubernetesVersion();
              return new Listed(
                  rs.getString("name"),
                  read(rs.getString("labels"), LABELS),
                  rs.getString("profile"),
                  rs.getString("applier"),
                  reported != null ? reported : told != null ? told : version);
            })
        .list();
  }

  public List<Row> all(Handle h) {
    return h.createQuery("SELECT * FROM clusters ORDER BY name").map((rs, ctx) -> row(rs)).list();
  }

  /** The clusters that name an import manifest URL. */
  public List<Row> withImport(Handle h) {
    return h.createQuery(
            "SELECT * FROM clusters WHERE import_manifest_url IS NOT NULL ORDER BY name")
        .map((rs, ctx) -> row(rs))
        .list();
  }

  /** The clusters the last plan found DEGRADED, except deactivated ones. */
  public List<Row> degraded(Handle h) {
    return h.createQuery(
            "SELECT * FROM clusters WHERE state = 'DEGRADED' AND deactivated = 0 ORDER BY name")
        .map((rs, ctx) -> row(rs))
        .list();
  }

  public Optional<Row> byName(Handle h, String name) {
    return h.createQuery("SELECT * FROM clusters WHERE name = :n")
        .bind("n", name)
        .map((rs, ctx) -> row(rs))
        .findOne();
  }

  public void insert(Handle h, Row r) {
    h.createUpdate(
            "INSERT INTO clusters (name, selector, servers_min, servers_max, agents_min,"
                + " agents_max, kubernetes_version, profile, labels, config, grace_seconds,"
                + " import_manifest_url, state, reasons, applier, deactivated, token_key_id,"
                + " token_sealed, token_version, created_by, created_at, updated_at, project)"
                + " VALUES (:name, :selector, :smin, :smax, :amin, :amax, :kv, :profile, :labels,"
                + " :config, :grace, :url, :state, :reasons, :applier, :deactivated, :tk, :ts,"
                + " :tv, :by, :created, :updated, :project)")
        .bind("project", r.project())
        .bind("name", r.name())
        .bind("selector", r.selector())
        .bind("smin", r.serversMin())
        .bind("smax", r.serversMax())
        .bind("amin", r.agentsMin())
        .bind("amax", r.agentsMax())
        .bind("kv", r.kubernetesVersion())
        .bind("profile", r.profile())
        .bind("labels", Json.write(r.labels()))
        .bind("config", Json.write(r.config()))
        .bind("grace", r.graceSeconds())
        .bind("url", r.importManifestUrl())
        .bind("state", r.state().name())
        .bind("reasons", Json.write(r.reasons()))
        .bind("applier", r.applier())
        .bind("deactivated", r.deactivated() ? 1 : 0)
        .bind("tk", r.tokenKeyId())
        .bind("ts", r.tokenSealed())
        .bind("tv", r.tokenVersion())
        .bind("by", r.createdBy())
        .bind("created", r.createdAt().toEpochMilli())
        .bind("updated", r.updatedAt().toEpochMilli())
        .execute();
  }

  /** Writes the definition (what an operator may change). */
  public void updateDefinition(Handle h, Row r) {
    h.createUpdate(
            "UPDATE clusters SET selector = :selector, servers_min = :smin, servers_max = :smax,"
                + " agents_min = :amin, agents_max = :amax, kubernetes_version = :kv, profile ="
                + " :profile, labels = :labels, config = :config, grace_seconds = :grace,"
                + " import_manifest_url = :url, deactivated = :deactivated, updated_at = :updated"
                + " WHERE name = :name")
        .bind("name", r.name())
        .bind("selector", r.selector())
        .bind("smin", r.serversMin())
        .bind("smax", r.serversMax())
        .bind("amin", r.agentsMin())
        .bind("amax", r.agentsMax())
        .bind("kv", r.kubernetesVersion())
        .bind("profile", r.profile())
        .bind("labels", Json.write(r.labels()))
        .bind("config", Json.write(r.config()))
        .bind("grace", r.graceSeconds())
        .bind("url", r.importManifestUrl())
        .bind("deactivated", r.deactivated() ? 1 : 0)
        .bind("updated", r.updatedAt().toEpochMilli())
        .execute();
  }

  public void setToken(Handle h, String name, String keyId, String sealed, long version, long now) {
    h.createUpdate(
            "UPDATE clusters SET token_key_id = :k, token_sealed = :s, token_version = :v,"
                + " updated_at = :now WHERE name = :n")
        .bind("k", keyId)
        .bind("s", sealed)
        .bind("v", version)
        .bind("now", now)
        .bind("n", name)
        .execute();
  }

  public void setOutcome(Handle h, String name, State state, List<String> reasons, String applier) {
    h.createUpdate("UPDATE clusters SET state = :s, reasons = :r, applier = :a WHERE name = :n")
        .bind("s", state.name())
        .bind("r", Json.write(reasons))
        .bind("a", applier)
        .bind("n", name)
        .execute();
  }

  public void delete(Handle h, String name) {
    h.createUpdate("DELETE FROM cluster_members WHERE cluster = :n").bind("n", name).execute();
    h.createUpdate("DELETE FROM clusters WHERE name = :n").bind("n", name).execute();
  }

  /** The master key ids the tokens are sealed under. */
  public List<String> tokenKeyIds(Handle h) {
    return h.createQuery("SELECT DISTINCT token_key_id FROM clusters").mapTo(String.class).list();
  }

  public List<MemberRow> members(Handle h) {
    return h.createQuery("SELECT * FROM cluster_members ORDER BY cluster, joined_at, device_id")
        .map((rs, ctx) -> member(rs))
        .list();
  }

  /** Makes the cluster's members exactly {@code members}, keeping the stored reports. */
  public void replaceMembers(Handle h, String cluster, List<Member> members) {
    List<String> ids = members.stream().map(Member::deviceId).toList();
    for (MemberRow existing :
        h.createQuery("SELECT * FROM cluster_members WHERE cluster = :c")
            .bind("c", cluster)
            .map((rs, ctx) -> member(rs))
            .list()) {
      if (!ids.contains(existing.member().deviceId())) {
        h.createUpdate("DELETE FROM cluster_members WHERE device_id = :d")
            .bind("d", existing.member().deviceId())
            .execute();
      }
    }
    for (Member m : members) {
      int n =
          h.createUpdate(
                  "UPDATE cluster_members SET node_name = :node, role = :role, init_server = :init,"
                      + " kubernetes_version = :kv, removing_since = :rm WHERE device_id = :d AND"
                      + " cluster = :c")
              .bind("node", m.nodeName())
              .bind("role", m.role())
              .bind("init", m.init() ? 1 : 0)
              .bind("kv", m.kubernetesVersion())
              .bind("rm", m.removingSince() == null ? null : m.removingSince().toEpochMilli())
              .bind("d", m.deviceId())
              .bind("c", cluster)
              .execute();
      if (n == 0) {
        h.createUpdate(
                "INSERT INTO cluster_members (cluster, device_id, node_name, role, init_server,"
                    + " joined_at, kubernetes_version, removing_since) VALUES (:c, :d, :node,"
                    + " :role, :init, :joined, :kv, :rm)")
            .bind("c", cluster)
            .bind("d", m.deviceId())
            .bind("node", m.nodeName())
            .bind("role", m.role())
            .bind("init", m.init() ? 1 : 0)
            .bind("joined", m.joinedAt().toEpochMilli())
            .bind("kv", m.kubernetesVersion())
            .bind("rm", m.removingSince() == null ? null : m.removingSince().toEpochMilli())
            .execute();
      }
    }
  }

  public void setReport(Handle h, String deviceId, AgentMessage.ClusterNode report, Instant at) {
    h.createUpdate(
            "UPDATE cluster_members SET phase = :p, last_report = :r, last_report_at = :at WHERE"
                + " device_id = :d")
        .bind("p", report.phase())
        .bind("r", Json.write(report))
        .bind("at", at.toEpochMilli())
        .bind("d", deviceId)
        .execute();
  }

  private static MemberRow member(ResultSet rs) throws SQLException {
    long rm = rs.getLong("removing_since");
    Instant removing = rs.wasNull() ? null : Instant.ofEpochMilli(rm);
    String report = rs.getString("last_report");
    long at = rs.getLong("last_report_at");
    Instant reportAt = rs.wasNull() ? null : Instant.ofEpochMilli(at);
    return new MemberRow(
        rs.getString("cluster"),
        new Member(
            rs.getString("device_id"),
            rs.getString("node_name"),
            rs.getString("role"),
            rs.getInt("init_server") == 1,
            Instant.ofEpochMilli(rs.getLong("joined_at")),
            rs.getString("kubernetes_version"),
            removing),
        report == null ? null : read(report, AgentMessage.ClusterNode.class),
        reportAt);
  }

  private static Row row(ResultSet rs) throws SQLException {
    return new Row(
        rs.getString("name"),
        rs.getString("selector"),
        rs.getInt("servers_min"),
        rs.getInt("servers_max"),
        rs.getInt("agents_min"),
        rs.getInt("agents_max"),
        rs.getString("kubernetes_version"),
        rs.getString("profile"),
        read(rs.getString("labels"), LABELS),
        read(rs.getString("config"), CONFIG),
        rs.getLong("grace_seconds"),
        rs.getString("import_manifest_url"),
        State.valueOf(rs.getString("state")),
        read(rs.getString("reasons"), REASONS),
        rs.getString("applier"),
        rs.getInt("deactivated") == 1,
        rs.getString("token_key_id"),
        rs.getString("token_sealed"),
        rs.getLong("token_version"),
        rs.getString("created_by"),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        Instant.ofEpochMilli(rs.getLong("updated_at")),
        rs.getString("project"));
  }

  private static <T> T read(String json, TypeReference<T> type) {
    try {
      return Json.mapper().readValue(json, type);
    } catch (IOException e) {
      throw new UncheckedIOException("unreadable cluster column", e);
    }
  }

  private static <T> T read(String json, Class<T> type) {
    try {
      return Json.mapper().readValue(json, type);
    } catch (IOException e) {
      throw new UncheckedIOException("unreadable cluster report", e);
    }
  }
}
