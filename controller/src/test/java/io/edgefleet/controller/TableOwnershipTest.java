package io.edgefleet.controller;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Each table is written and read only through the package that owns it (decision 0015, the
 * ownership table in docs/architecture.md): a table named in the SQL of a class outside its owner
 * package fails this test. The Flyway migrations are not Java and are not scanned.
 */
class TableOwnershipTest {
  private static final Path SOURCES = Path.of("src/main/java/io/edgefleet/controller");

  /** Table → owning package, as in the architecture document. */
  static final Map<String, String> OWNERS =
      Map.ofEntries(
          Map.entry("admin_tokens", "api"),
          Map.entry("access_users", "access"),
          Map.entry("access_roles", "access"),
          Map.entry("access_role_bindings", "access"),
          Map.entry("access_tokens", "access"),
          Map.entry("access_projects", "access"),
          Map.entry("sso_identities", "sso"),
          Map.entry("tunnel_sessions", "tunnels"),
          Map.entry("shell_grants", "shell"),
          Map.entry("shell_requests", "shell"),
          Map.entry("shell_recordings", "shell"),
          Map.entry("audit_log", "audit"),
          Map.entry("audit_chain", "audit"),
          Map.entry("audit_checkpoints", "audit"),
          Map.entry("audit_sink_cursors", "audit"),
          Map.entry("devices", "devices"),
          Map.entry("device_presence", "devices"),
          Map.entry("revoked_certificates", "devices"),
          Map.entry("onboarding_tokens", "onboarding"),
          Map.entry("preregistrations", "onboarding"),
          Map.entry("device_events", "events"),
          Map.entry("device_metrics", "telemetry"),
          Map.entry("device_health", "health"),
          Map.entry("controller_liveness", "health"),
          Map.entry("fleet_events", "events"),
          Map.entry("git_sources", "gitops"),
          Map.entry("git_commits", "gitops"),
          Map.entry("git_apps", "gitops"),
          Map.entry("git_app_trees", "gitops"),
          Map.entry("catalog_apps", "catalog"),
          Map.entry("catalog_versions", "catalog"),
          Map.entry("catalog_contents", "catalog"),
          Map.entry("deployments", "rollouts"),
          Map.entry("rollouts", "rollouts"),
          Map.entry("rollout_batches", "rollouts"),
          Map.entry("rollout_devices", "rollouts"),
          Map.entry("rollout_events", "rollouts"),
          Map.entry("device_desired", "desired"),
          Map.entry("device_apps", "desired"),
          Map.entry("bundles", "desired"),
          Map.entry("device_signing_keys", "desired"),
          Map.entry("alert_rules", "alerts"),
          Map.entry("alert_receivers", "alerts"),
          Map.entry("alerts", "alerts"),
          Map.entry("alert_notifications", "alerts"),
          Map.entry("device_trust", "trust"),
          Map.entry("trust_references", "trust"),
          Map.entry("secrets", "secrets"),
          Map.entry("artifacts", "artifacts"),
          Map.entry("agent_releases", "agentreleases"),
          Map.entry("agent_slot_reports", "agentreleases"),
          Map.entry("download_policies", "downloads"),
          Map.entry("device_artifact_reports", "downloads"),
          Map.entry("device_stages", "desired"),
          Map.entry("agent_targets", "agentreleases"),
          Map.entry("clusters", "clusters"),
          Map.entry("cluster_members", "clusters"),
          Map.entry("cluster_imports", "clusters"),
          Map.entry("profiles", "profiles"),
          Map.entry("profile_versions", "profiles"),
          Map.entry("site_cache_urls", "sitecache"),
          Map.entry("controller_replicas", "replicas"));

  private static final Pattern STRING = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"");
  private static final Pattern TABLE =
      Pattern.compile(
          "\\b(?:FROM|JOIN|INTO|UPDATE|TABLE|USING)\\s+([a-z_]+)\\b", Pattern.CASE_INSENSITIVE);

  @Test
  void everyTableIsUsedOnlyByItsOwner() throws IOException {
    List<String> found = new ArrayList<>();
    try (Stream<Path> files = Files.walk(SOURCES)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        Path rel = SOURCES.relativize(file);
        if (rel.getNameCount() < 2) {
          continue; // the composition root runs no SQL
        }
        String pkg = rel.getName(0).toString();
        for (String table : tablesIn(Files.readString(file))) {
          String owner = OWNERS.get(table);
          if (owner != null && !owner.equals(pkg)) {
            found.add(rel.toString().replace('\\', '/') + " " + table);
          }
        }
      }
    }
    assertThat(found).as("tables named in SQL outside their owner package").isEmpty();
  }

  @Test
  void everyMigratedTableHasAnOwner() throws IOException {
    Set<String> created = new TreeSet<>();
    Pattern create =
        Pattern.compile(
            "CREATE TABLE\\s+(?:IF NOT EXISTS\\s+)?([a-z_]+)", Pattern.CASE_INSENSITIVE);
    try (Stream<Path> files = Files.walk(Path.of("src/main/resources/db"))) {
      for (Path f : files.filter(f -> f.toString().endsWith(".sql")).toList()) {
        Matcher m = create.matcher(Files.readString(f));
        while (m.find()) {
          created.add(m.group(1).toLowerCase());
        }
      }
    }
    assertThat(OWNERS.keySet()).containsAll(created);
  }

  /** Tables named after an SQL keyword inside the string literals of one source file. */
  static Set<String> tablesIn(String source) {
    // adjacent literals joined by + form one statement
    StringBuilder sql = new StringBuilder();
    Matcher s = STRING.matcher(source);
    while (s.find()) {
      sql.append(s.group(1)).append(' ');
    }
    Set<String> tables = new TreeSet<>();
    Matcher t = TABLE.matcher(sql);
    while (t.find()) {
      tables.add(t.group(1));
    }
    return tables;
  }
}
