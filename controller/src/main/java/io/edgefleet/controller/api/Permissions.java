package io.edgefleet.controller.api;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What an operator needs to call a route: one {@code resource:verb} permission from a fixed list.
 *
 * <p>The permission of an operator route is derived from its path, so features declare none: the
 * resource is the segment after {@code /api/v1/} (mapped through {@link #RESOURCES} where the path
 * names it differently) and the verb is {@code read} for GET and HEAD, {@code write} otherwise.
 * {@link #OVERRIDES} names the exceptions by method and template. A route whose derived permission
 * is not {@link #KNOWN} fails a test that walks the whole route table, so a new feature cannot slip
 * in unguarded.
 */
public final class Permissions {
  private Permissions() {}

  /** Every permission a role may hold, in a stable order. */
  public static final Set<String> KNOWN =
      java.util.Collections.unmodifiableSet(
          new LinkedHashSet<>(
              List.of(
                  "devices:read",
                  "devices:write",
                  "apps:read",
                  "apps:write",
                  "deployments:read",
                  "deployments:write",
                  "rollouts:read",
                  "rollouts:write",
                  "sources:read",
                  "sources:write",
                  "alerts:read",
                  "alerts:write",
                  "clusters:read",
                  "clusters:write",
                  "profiles:read",
                  "profiles:write",
                  "artifacts:read",
                  "artifacts:write",
                  "events:read",
                  "metrics:read",
                  "secrets:read",
                  "secrets:write",
                  "onboarding:read",
                  "onboarding:write",
                  "keys:read",
                  "keys:write",
                  "trust:read",
                  "trust:write",
                  "audit:read",
                  "users:read",
                  "users:write",
                  "tunnels:kubectl",
                  "tunnels:shell",
                  "tunnels:port-forward",
                  "tunnels:files",
                  "sessions:read",
                  "info:read",
                  "account:read",
                  "account:write")));

  /**
   * Permissions every authenticated caller holds whatever their roles: reading the controller's
   * description and managing their own account (who am I, my own tokens).
   */
  public static final Set<String> IMPLIED = Set.of("info:read", "account:read", "account:write");

  /** Path segments after {@code /api/v1/} whose resource has another name. */
  static final Map<String, String> RESOURCES =
      Map.ofEntries(
          Map.entry("repos", "sources"),
          Map.entry("hooks", "sources"),
          Map.entry("catalog", "apps"),
          Map.entry("fleet", "devices"),
          Map.entry("stream", "devices"),
          Map.entry("signing-keys", "keys"),
          Map.entry("attestation", "trust"),
          Map.entry("onboarding-tokens", "onboarding"),
          Map.entry("preregistrations", "onboarding"),
          Map.entry("service-accounts", "users"),
          Map.entry("roles", "users"),
          Map.entry("projects", "users"),
          // Shell grants are access policy.
          Map.entry("shell-grants", "users"),
          Map.entry("tokens", "account"),
          Map.entry("whoami", "account"),
          Map.entry("openapi.json", "info"),
          // Agent releases are artifacts devices fetch.
          Map.entry("agent-releases", "artifacts"),
          // Download policies govern how devices fetch artifacts.
          Map.entry("download-policies", "artifacts"),
          // An export bundle carries artifacts (and the documents that use them) to a site.
          Map.entry("exports", "artifacts"));

  /** Routes whose permission is not the derived one, as {@code METHOD template}. */
  static final Map<String, String> OVERRIDES =
      Map.ofEntries(
          Map.entry("GET /metrics", "metrics:read"),
          Map.entry("GET /api/v1/devices/{id}/events", "events:read"),
          Map.entry("GET /api/v1/devices/{id}/metrics", "metrics:read"),
          Map.entry("GET /api/v1/devices/{id}/attestation", "trust:read"),
          Map.entry("POST /api/v1/devices/{id}/attestation/accept", "trust:write"),
          Map.entry("POST /api/v1/devices/{id}/attestation/pin", "trust:write"),
          Map.entry("POST /api/v1/catalog/apps/{name}/versions/{version}/preview", "apps:read"),
          Map.entry("POST /api/v1/secrets/master-key/rotate", "keys:write"),
          Map.entry("GET /api/v1/devices/{id}/kubeconfig", "tunnels:kubectl"),
          Map.entry("GET /api/v1/clusters/{name}/kubeconfig", "tunnels:kubectl"),
          Map.entry("GET /api/v1/devices/{id}/port-forward", "tunnels:port-forward"),
          Map.entry("GET /api/v1/devices/{id}/shell", "tunnels:shell"),
          Map.entry("GET /api/v1/devices/{id}/files", "tunnels:files"),
          // Verifying the audit log reads it; it changes nothing.
          Map.entry("POST /api/v1/audit/verify", "audit:read"),
          // Asking for a shell and approving another's request both need the shell permission.
          Map.entry("GET /api/v1/shell-requests", "tunnels:shell"),
          Map.entry("POST /api/v1/shell-requests", "tunnels:shell"),
          Map.entry("POST /api/v1/shell-requests/{id}/approve", "tunnels:shell"),
          Map.entry("POST /api/v1/shell-requests/{id}/deny", "tunnels:shell"),
          // A recording shows everything a shell printed: auditors read it.
          Map.entry("GET /api/v1/sessions/{id}/recording", "audit:read"),
          // Rolling an agent release out is a rollout.
          Map.entry("POST /api/v1/agent-releases/{version}/rollout", "rollouts:write"));

  /**
   * The permission an operator needs for this route.
   *
   * @return {@code resource:verb}; a path outside {@code /api/v1/} without an override gives {@code
   *     unknown:<verb>}, which is not {@link #KNOWN}
   */
  public static String required(String method, String template) {
    String override = OVERRIDES.get(method + " " + template);
    if (override != null) {
      return override;
    }
    String verb = method.equals("GET") || method.equals("HEAD") ? "read" : "write";
    String prefix = "/api/v1/";
    if (!template.startsWith(prefix)) {
      return "unknown:" + verb;
    }
    String rest = template.substring(prefix.length());
    int slash = rest.indexOf('/');
    String segment = slash < 0 ? rest : rest.substring(0, slash);
    String resource = RESOURCES.getOrDefault(segment, segment);
    if (resource.equals("account") && template.startsWith("/api/v1/whoami")) {
      verb = "read";
    }
    return resource + ":" + verb;
  }

  /** The permissions in this collection that are not {@link #KNOWN}, sorted. */
  public static Set<String> unknown(java.util.Collection<String> permissions) {
    Set<String> out = new TreeSet<>(permissions);
    out.removeAll(KNOWN);
    return out;
  }
}
