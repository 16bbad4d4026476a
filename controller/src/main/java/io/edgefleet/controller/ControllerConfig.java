package io.edgefleet.controller;

import io.edgefleet.controller.airgap.ExportLimits;
import io.edgefleet.controller.alerts.AlertOptions;
import io.edgefleet.controller.api.HttpLimits;
import io.edgefleet.controller.artifacts.Artifacts;
import io.edgefleet.controller.artifacts.s3.S3Options;
import io.edgefleet.controller.audit.AuditOptions;
import io.edgefleet.controller.enrollment.EnrollmentService;
import io.edgefleet.controller.events.EventLimits;
import io.edgefleet.controller.sso.OidcOptions;
import io.edgefleet.controller.trust.TrustOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * How a controller runs.
 *
 * @param databaseUrl JDBC URL; empty means SQLite in the data directory
 * @param advertiseUrl the URL devices use; empty means derived from the listen address
 * @param tlsNames extra DNS names or IPs for the server certificate
 * @param heartbeat check-in interval told to agents
 * @param offlineAfter silence after which a device counts as offline
 * @param presenceFlush how often last-seen times are written to the database
 * @param rolloutTick how often rollouts advance
 * @param telemetryInterval how often agents send metric summaries (told in {@code welcome})
 * @param metricsTagKeys device tag keys that label the per-tag fleet gauges of {@code /metrics}
 * @param alerts how the alert engine evaluates rules and delivers notifications
 * @param http what one client may make the HTTPS listener spend (bodies, deadlines, connections)
 * @param enrollmentsPerAddress new devices one source address may enroll per minute
 * @param events what devices may put into the event log and how long it is kept
 * @param trust how devices with a TPM are enrolled and attested
 * @param maxArtifactBytes the largest artifact (a K3s binary) an operator may push
 * @param audit how the audit log is checkpointed and streamed to a SIEM
 * @param kubePort the port of kubectl's TLS listener (on {@code listenHost}); 0 for any free port,
 *     -1 for none
 * @param oidc single sign-on with an OpenID Connect provider; empty when off
 * @param agentReleaseKeys public key files (PEM) of agent release keys trusted besides those in
 *     {@code <data dir>/agent-release-keys/}
 * @param exportLimits how many devices and bytes one export bundle may hold
 * @param s3 an S3-compatible bucket holding the artifacts; empty keeps them in the data directory
 * @param moreUrls other https URLs devices may use for this controller (its replicas behind other
 *     addresses), written into bootstrap files besides the advertised URL
 * @param replicaUrl the https URL the other replicas reach this one at, to forward an operator's
 *     session with a device whose connection this replica holds; empty means the advertised URL
 */
public record ControllerConfig(
    Path dataDir,
    String listenHost,
    int listenPort,
    Optional<String> databaseUrl,
    Optional<String> databaseUser,
    Optional<String> databasePassword,
    Optional<String> advertiseUrl,
    List<String> tlsNames,
    Duration heartbeat,
    Duration offlineAfter,
    Duration presenceFlush,
    Duration rolloutTick,
    Duration telemetryInterval,
    List<String> metricsTagKeys,
    AlertOptions alerts,
    HttpLimits http,
    int enrollmentsPerAddress,
    EventLimits events,
    TrustOptions trust,
    long maxArtifactBytes,
    AuditOptions audit,
    int kubePort,
    Optional<OidcOptions> oidc,
    List<Path> agentReleaseKeys,
    ExportLimits exportLimits,
    Optional<S3Options> s3,
    List<String> moreUrls,
    Optional<String> replicaUrl) {

  public static final int DEFAULT_PORT = 7443;

  /** The default port of kubectl's listener for a controller started from the command line. */
  public static final int DEFAULT_KUBE_PORT = 7444;

  public ControllerConfig {
    if (listenPort < 0 || listenPort > 65535) {
      throw new IllegalArgumentException("listen port must be 0..65535, got " + listenPort);
    }
    if (heartbeat.isNegative() || heartbeat.isZero()) {
      throw new IllegalArgumentException("heartbeat must be positive");
    }
    if (enrollmentsPerAddress < 1) {
      throw new IllegalArgumentException("enrollments per address must be at least 1 a minute");
    }
    if (telemetryInterval.toSeconds() < 1) {
      throw new IllegalArgumentException("telemetry interval must be at least 1s");
    }
    if (maxArtifactBytes < 1) {
      throw new IllegalArgumentException("the largest artifact must be at least 1 byte");
    }
    tlsNames = List.copyOf(tlsNames);
    metricsTagKeys = List.copyOf(metricsTagKeys);
    agentReleaseKeys = agentReleaseKeys == null ? List.of() : List.copyOf(agentReleaseKeys);
    exportLimits = exportLimits == null ? ExportLimits.defaults() : exportLimits;
    s3 = s3 == null ? Optional.empty() : s3;
    moreUrls = moreUrls == null ? List.of() : List.copyOf(moreUrls);
    for (String u : moreUrls) {
      java.net.URI uri = java.net.URI.create(u);
      if (!"https".equals(uri.getScheme()) || uri.getHost() == null) {
        throw new IllegalArgumentException(
            "another URL of the controller must be https://host[:port], got " + u);
      }
    }
    replicaUrl = replicaUrl == null ? Optional.empty() : replicaUrl;
    replicaUrl.ifPresent(
        u -> {
          java.net.URI uri = java.net.URI.create(u);
          if (!"https".equals(uri.getScheme())
              || uri.getHost() == null
              || (uri.getRawPath() != null && !uri.getRawPath().isEmpty())) {
            throw new IllegalArgumentException(
                "the replica URL must be https://host[:port] (no path), got " + u);
          }
        });
  }

  /**
   * Defaults for a data directory: all interfaces, port 7443, SQLite, 120 s heartbeats and 5-minute
   * metric summaries (together under 0.5 MB per device per day on the wire; see decision 0014).
   */
  public static ControllerConfig defaults(Path dataDir) {
    Duration heartbeat = Duration.ofSeconds(120);
    return new ControllerConfig(
        dataDir,
        "0.0.0.0",
        DEFAULT_PORT,
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        List.of(),
        heartbeat,
        heartbeat.multipliedBy(3),
        Duration.ofSeconds(10),
        Duration.ofSeconds(2),
        Duration.ofMinutes(5),
        List.of(),
        AlertOptions.defaults(),
        HttpLimits.defaults(),
        EnrollmentService.DEFAULT_PER_ADDRESS_PER_MINUTE,
        EventLimits.defaults(),
        TrustOptions.defaults(),
        Artifacts.DEFAULT_MAX_BYTES,
        AuditOptions.defaults(),
        0,
        Optional.empty(),
        List.of(),
        ExportLimits.defaults(),
        Optional.empty(),
        List.of(),
        Optional.empty());
  }

  public ControllerConfig withListen(String host, int port) {
    return with(
        b -> {
          b.listenHost = host;
          b.listenPort = port;
        });
  }

  public ControllerConfig withDatabase(String url, String user, String password) {
    return with(
        b -> {
          b.databaseUrl = Optional.ofNullable(url);
          b.databaseUser = Optional.ofNullable(user);
          b.databasePassword = Optional.ofNullable(password);
        });
  }

  public ControllerConfig withAdvertiseUrl(String url) {
    return with(b -> b.advertiseUrl = Optional.ofNullable(url));
  }

  public ControllerConfig withTlsNames(List<String> names) {
    return with(b -> b.tlsNames = names);
  }

  /** Heartbeat cadence; devices count as offline after three missed heartbeats. */
  public ControllerConfig withHeartbeat(Duration heartbeat) {
    return with(
        b -> {
          b.heartbeat = heartbeat;
          b.offlineAfter = heartbeat.multipliedBy(3);
        });
  }

  public ControllerConfig withPresenceFlush(Duration flush) {
    return with(b -> b.presenceFlush = flush);
  }

  public ControllerConfig withRolloutTick(Duration tick) {
    return with(b -> b.rolloutTick = tick);
  }

  /** How often agents send metric summaries (at least 1 s). */
  public ControllerConfig withTelemetryInterval(Duration interval) {
    return with(b -> b.telemetryInterval = interval);
  }

  /**
   * Device tag keys (at most {@value io.edgefleet.controller.metrics.FleetGauges#MAX_TAG_KEYS})
   * whose values label {@code edgefleet_devices_by_tags} in {@code /metrics}.
   */
  public ControllerConfig withMetricsTagKeys(List<String> keys) {
    return with(b -> b.metricsTagKeys = keys);
  }

  /** How often alert rules are evaluated and how failed notifications are retried. */
  public ControllerConfig withAlerts(AlertOptions options) {
    return with(b -> b.alerts = options);
  }

  /** Body, deadline and connection limits of the HTTPS listener. */
  public ControllerConfig withHttpLimits(HttpLimits limits) {
    return with(b -> b.http = limits);
  }

  /** New devices one source address may enroll per minute. */
  public ControllerConfig withEnrollmentsPerAddress(int perMinute) {
    return with(b -> b.enrollmentsPerAddress = perMinute);
  }

  /** What devices may put into the event log and how long it is kept. */
  public ControllerConfig withEvents(EventLimits limits) {
    return with(b -> b.events = limits);
  }

  /** How devices with a TPM are enrolled and attested. */
  public ControllerConfig withTrust(TrustOptions options) {
    return with(b -> b.trust = options);
  }

  /** The largest artifact an operator may push, in bytes. */
  public ControllerConfig withMaxArtifactBytes(long bytes) {
    return with(b -> b.maxArtifactBytes = bytes);
  }

  /** How many devices and bytes one export bundle may hold. */
  public ControllerConfig withExportLimits(ExportLimits limits) {
    return with(b -> b.exportLimits = limits);
  }

  /** How the audit log is checkpointed and streamed. */
  public ControllerConfig withAudit(AuditOptions options) {
    return with(b -> b.audit = options);
  }

  /** kubectl's listener on this port; 0 for any free one, -1 for none. */
  public ControllerConfig withKubePort(int port) {
    if (port < -1 || port > 65535) {
      throw new IllegalArgumentException("the kube port must be -1..65535, got " + port);
    }
    return with(b -> b.kubePort = port);
  }

  /** Single sign-on with this OpenID Connect provider; empty turns it off. */
  public ControllerConfig withOidc(Optional<OidcOptions> options) {
    return with(b -> b.oidc = options);
  }

  /** Agent release keys trusted besides those in {@code <data dir>/agent-release-keys/}. */
  public ControllerConfig withAgentReleaseKeys(List<Path> files) {
    return with(b -> b.agentReleaseKeys = files);
  }

  /** Other URLs devices may use for this controller (its replicas behind other addresses). */
  public ControllerConfig withMoreUrls(List<String> urls) {
    return with(b -> b.moreUrls = urls);
  }

  /** The URL the other replicas reach this one at; empty means the advertised URL. */
  public ControllerConfig withReplicaUrl(Optional<String> url) {
    return with(b -> b.replicaUrl = url);
  }

  /** Artifacts kept in this S3-compatible bucket; empty keeps them in the data directory. */
  public ControllerConfig withS3(Optional<S3Options> options) {
    return with(b -> b.s3 = options);
  }

  /** A copy with some components changed; validated like any new config. */
  private ControllerConfig with(java.util.function.Consumer<Copy> change) {
    Copy b = new Copy(this);
    change.accept(b);
    return b.build();
  }

  /** The components of a config while a copy is being changed. */
  private static final class Copy {
    Path dataDir;
    String listenHost;
    int listenPort;
    Optional<String> databaseUrl;
    Optional<String> databaseUser;
    Optional<String> databasePassword;
    Optional<String> advertiseUrl;
    List<String> tlsNames;
    Duration heartbeat;
    Duration offlineAfter;
    Duration presenceFlush;
    Duration rolloutTick;
    Duration telemetryInterval;
    List<String> metricsTagKeys;
    AlertOptions alerts;
    HttpLimits http;
    int enrollmentsPerAddress;
    EventLimits events;
    TrustOptions trust;
    long maxArtifactBytes;
    AuditOptions audit;
    int kubePort;
    Optional<OidcOptions> oidc;
    List<Path> agentReleaseKeys;
    ExportLimits exportLimits;
    Optional<S3Options> s3;
    List<String> moreUrls;
    Optional<String> replicaUrl;

    Copy(ControllerConfig c) {
      dataDir = c.dataDir;
      listenHost = c.listenHost;
      listenPort = c.listenPort;
      databaseUrl = c.databaseUrl;
      databaseUser = c.databaseUser;
      databasePassword = c.databasePassword;
      advertiseUrl = c.advertiseUrl;
      tlsNames = c.tlsNames;
      heartbeat = c.heartbeat;
      offlineAfter = c.offlineAfter;
      presenceFlush = c.presenceFlush;
      rolloutTick = c.rolloutTick;
      telemetryInterval = c.telemetryInterval;
      metricsTagKeys = c.metricsTagKeys;
      alerts = c.alerts;
      http = c.http;
      enrollmentsPerAddress = c.enrollmentsPerAddress;
      events = c.events;
      trust = c.trust;
      maxArtifactBytes = c.maxArtifactBytes;
      audit = c.audit;
      kubePort = c.kubePort;
      oidc = c.oidc;
      agentReleaseKeys = c.agentReleaseKeys;
      exportLimits = c.exportLimits;
      s3 = c.s3;
      moreUrls = c.moreUrls;
      replicaUrl = c.replicaUrl;
    }

    ControllerConfig build() {
      return new ControllerConfig(
          dataDir,
          listenHost,
          listenPort,
          databaseUrl,
          databaseUser,
          databasePassword,
          advertiseUrl,
          tlsNames,
          heartbeat,
          offlineAfter,
          presenceFlush,
          rolloutTick,
          telemetryInterval,
          metricsTagKeys,
          alerts,
          http,
          enrollmentsPerAddress,
          events,
          trust,
          maxArtifactBytes,
          audit,
          kubePort,
          oidc,
          agentReleaseKeys,
          exportLimits,
          s3,
          moreUrls,
          replicaUrl);
    }
  }
}
