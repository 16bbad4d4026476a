package io.edgefleet.controller;

import io.edgefleet.controller.airgap.ExportLimits;
import io.edgefleet.controller.alerts.AlertOptions;
import io.edgefleet.controller.artifacts.Artifacts;
import io.edgefleet.controller.artifacts.s3.S3Options;
import io.edgefleet.controller.audit.AuditOptions;
import io.edgefleet.controller.events.EventLimits;
import io.edgefleet.controller.metrics.FleetGauges;
import io.edgefleet.controller.sso.OidcOptions;
import io.edgefleet.controller.trust.TrustOptions;
import io.edgefleet.protocol.Durations;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code edgefleet controller}: runs the controller until stopped. */
@Command(
    name = "controller",
    description = "Run the controller: REST API, enrollment and the agents' connections.",
    mixinStandardHelpOptions = true)
public final class ControllerCommand implements Callable<Integer> {

  @Option(
      names = "--data",
      paramLabel = "DIR",
      description =
          "Data directory: database, keys, admin token (default: ~/.edgefleet/controller).")
  Path data = defaultDataDir();

  @Option(
      names = "--listen",
      paramLabel = "HOST:PORT",
      description = "Address to listen on (default: 0.0.0.0:7443).")
  String listen = "0.0.0.0:" + ControllerConfig.DEFAULT_PORT;

  @Option(
      names = "--kube-port",
      paramLabel = "PORT",
      description =
          "Port of the TLS listener kubectl reaches devices' clusters through (on the --listen"
              + " host; default: 7444; 0 for any free port, -1 for none).")
  int kubePort = ControllerConfig.DEFAULT_KUBE_PORT;

  @Option(
      names = "--database-url",
      paramLabel = "URL",
      description =
          "JDBC URL, e.g. jdbc:postgresql://db:5432/edgefleet (default: SQLite in the data"
              + " directory). Credentials from EDGEFLEET_DATABASE_USER/EDGEFLEET_DATABASE_PASSWORD.")
  String databaseUrl;

  @Option(
      names = "--advertise-url",
      paramLabel = "URL",
      description = "URL devices use to reach this controller (default: from --listen).")
  String advertiseUrl;

  @Option(
      names = "--also-advertise-url",
      paramLabel = "URL",
      description =
          "Another URL devices may use for this controller, such as a replica behind another"
              + " address (repeatable). Bootstrap files name it besides --advertise-url; agents"
              + " start at a random one and move on when one fails.")
  List<String> alsoAdvertiseUrls = new ArrayList<>();

  @Option(
      names = "--replica-url",
      paramLabel = "URL",
      description =
          "The https URL the other controller replicas reach this one at (such as the pod's own"
              + " address), to send it an operator's session with a device connected here; its"
              + " host is added to the TLS certificate (default: --advertise-url).")
  String replicaUrl;

  @Option(
      names = "--tls-san",
      paramLabel = "NAME",
      description = "Extra DNS name or IP for the TLS certificate (repeatable).")
  List<String> tlsNames = new ArrayList<>();

  @Option(
      names = "--heartbeat",
      paramLabel = "DURATION",
      description =
          "Heartbeat interval told to agents; a device is offline after three missed heartbeats"
              + " (default: 120s).")
  String heartbeat = "120s";

  @Option(
      names = "--rollout-tick",
      paramLabel = "DURATION",
      description = "How often rollouts advance (default: 2s).")
  String rolloutTick = "2s";

  @Option(
      names = "--telemetry-interval",
      paramLabel = "DURATION",
      description =
          "How often agents send metric summaries (min/max/mean/last of 5 s samples)"
              + " (default: 5m).")
  String telemetryInterval = "5m";

  @Option(
      names = "--metrics-tag-keys",
      paramLabel = "KEY[,KEY…]",
      split = ",",
      description =
          "Device tag keys (at most 5) whose values label edgefleet_devices_by_tags in /metrics,"
              + " e.g. region,site (default: none).")
  List<String> metricsTagKeys = new ArrayList<>();

  @Option(
      names = "--alert-interval",
      paramLabel = "DURATION",
      description = "How often alert rules are evaluated and notifications sent (default: 10s).")
  String alertInterval = "10s";

  @Option(
      names = "--enrollments-per-address",
      paramLabel = "N",
      description =
          "New devices one source address may enroll per minute (and at once); more are answered"
              + " 429 and retried by the agents (default: 60). Raise it for sites that enroll"
              + " hundreds of devices behind one NAT address at the same time.")
  int enrollmentsPerAddress = 60;

  @Option(
      names = "--event-retention",
      paramLabel = "DURATION",
      description =
          "How long device events, app and health changes are kept in the event log"
              + " (default: 30d; at least 1h).")
  String eventRetention = "30d";

  @Option(
      names = "--event-max-rows",
      paramLabel = "N",
      description =
          "The most device events, and the most app and health changes, the event log keeps;"
              + " the oldest go first (default: 5000000; at least 1000).")
  long eventMaxRows = EventLimits.defaults().maxRows();

  @Option(
      names = "--tpm-ca",
      paramLabel = "DIR",
      description =
          "Directory of the TPM manufacturers' endorsement-key root and intermediate certificates"
              + " (PEM or DER files). Devices enroll with their TPM only when it is given; their EK"
              + " certificate must chain to one of these roots.")
  Path tpmCa;

  @Option(
      names = "--attestation-pcrs",
      paramLabel = "LIST",
      split = ",",
      description =
          "The SHA-256 PCRs devices with a TPM quote at enrollment and in every attestation"
              + " (default: 0-9). Give indexes or ranges, e.g. 0-7,9.")
  List<String> attestationPcrs = List.of("0-9");

  @Option(
      names = "--attestation-interval",
      paramLabel = "DURATION",
      description =
          "How often a connected device with a TPM is challenged to quote its boot measurements,"
              + " besides at each connection (default: 4h; at least 10s).")
  String attestationInterval = "4h";

  @Option(
      names = "--max-artifact-bytes",
      paramLabel = "BYTES",
      description =
          "The largest artifact (such as a K3s binary) an operator may push, in bytes (default:"
              + " 536870912, 512 MiB).")
  long maxArtifactBytes = Artifacts.DEFAULT_MAX_BYTES;

  @Option(
      names = "--s3-endpoint",
      paramLabel = "URL",
      description =
          "Keep artifacts in an S3-compatible bucket at this endpoint (such as"
              + " https://minio.example:9000) instead of the data directory; several controller"
              + " replicas share one bucket. Needs --s3-bucket, and the access key in"
              + " EDGEFLEET_S3_ACCESS_KEY_ID and EDGEFLEET_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID,"
              + " AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN).")
  URI s3Endpoint;

  @Option(
      names = "--s3-bucket",
      paramLabel = "NAME",
      description = "The existing bucket that holds the artifacts (with --s3-endpoint).")
  String s3Bucket;

  @Option(
      names = "--s3-prefix",
      paramLabel = "PREFIX",
      description = "The key prefix under which artifacts are kept in the bucket (default: none).")
  String s3Prefix = "";

  @Option(
      names = "--s3-region",
      paramLabel = "REGION",
      description = "The region requests to the bucket are signed for (default: us-east-1).")
  String s3Region = S3Options.DEFAULT_REGION;

  @Option(
      names = "--s3-ca",
      paramLabel = "FILE",
      description =
          "CA certificates (PEM) trusted for the S3 endpoint instead of the JDK's, for a store"
              + " with a certificate from a private CA.")
  Path s3Ca;

  /** The environment the S3 access key is read from (replaced in tests). */
  java.util.Map<String, String> env = System.getenv();

  @Option(
      names = "--export-max-devices",
      paramLabel = "N",
      description = "The most devices one export bundle holds (default: 500).")
  int exportMaxDevices = ExportLimits.DEFAULT_MAX_DEVICES;

  @Option(
      names = "--export-max-bytes",
      paramLabel = "BYTES",
      description =
          "The most bytes of documents, bundles and artifacts one export bundle holds (default:"
              + " 17179869184, 16 GiB).")
  long exportMaxBytes = ExportLimits.DEFAULT_MAX_BYTES;

  @Option(
      names = "--agent-release-key",
      paramLabel = "FILE",
      description =
          "A public key (PEM, as written by edgefleet agent-releases keygen) whose signatures on"
              + " agent releases this controller trusts, besides the keys in <data"
              + " dir>/agent-release-keys/*.pub. Repeatable.")
  List<Path> agentReleaseKeys = new ArrayList<>();

  @Option(
      names = "--audit-webhook",
      paramLabel = "URL",
      description =
          "Also send every audit entry, as it is committed, to this URL (POST of JSON batches; any"
              + " 2xx acknowledges), in order, at least once: deduplicate by seq.")
  String auditWebhook;

  @Option(
      names = "--audit-syslog",
      paramLabel = "[udp://|tcp://]HOST:PORT",
      description =
          "Also send every audit entry to this syslog receiver as RFC 5424 messages (TCP unless"
              + " udp:// is given).")
  String auditSyslog;

  @Option(
      names = "--audit-checkpoint-every",
      paramLabel = "N",
      description =
          "Sign a checkpoint of the audit chain at least every N entries (default: 1000).")
  int auditCheckpointEvery = AuditOptions.DEFAULT_CHECKPOINT_EVERY;

  @Option(
      names = "--audit-checkpoint-interval",
      paramLabel = "DURATION",
      description =
          "And at least this often while entries are added (default: 10m; 1s to 24h). Entries"
              + " after the newest checkpoint are the ones an attacker who rewrites the database"
              + " could remove unseen.")
  String auditCheckpointInterval = "10m";

  @Option(
      names = "--audit-retention",
      paramLabel = "DURATION",
      description =
          "Delete audit entries older than this (at least 1d; default: keep every entry). Entries"
              + " go only up to a signed checkpoint and once every sink (--audit-webhook,"
              + " --audit-syslog) has taken them; the checkpoint keeps the rest verifiable.")
  String auditRetention;

  @Option(
      names = "--oidc-issuer",
      paramLabel = "URL",
      description =
          "Single sign-on: the OpenID Connect provider's issuer URL, exactly as its tokens name it"
              + " (https://; http:// only on this machine). Needs --oidc-client-id.")
  String oidcIssuer;

  @Option(
      names = "--oidc-client-id",
      paramLabel = "ID",
      description = "Single sign-on: this controller's client id at the provider.")
  String oidcClientId;

  @Option(
      names = "--oidc-client-secret-file",
      paramLabel = "FILE",
      description =
          "Single sign-on: a file holding the client secret of a confidential client. Without it"
              + " the client is public and proves the code exchange with PKCE.")
  Path oidcClientSecretFile;

  @Option(
      names = "--oidc-groups-claim",
      paramLabel = "CLAIM",
      description =
          "Single sign-on: the ID token claim listing the person's groups (default: groups).")
  String oidcGroupsClaim = OidcOptions.DEFAULT_GROUPS_CLAIM;

  @Option(
      names = "--oidc-group-role",
      paramLabel = "GROUP=ROLE[@PROJECT]",
      description =
          "Single sign-on: members of GROUP get ROLE, over the fleet or within PROJECT;"
              + " repeatable. A person none of whose groups is mapped is refused.")
  List<String> oidcGroupRoles = new ArrayList<>();

  @Option(
      names = "--oidc-token-lifetime",
      paramLabel = "DURATION",
      description =
          "Single sign-on: how long the token given at a sign-in lives (default: 12h; 1m to 30d).")
  String oidcTokenLifetime = "12h";

  /** Runs only the controller role, e.g. as a child process in tests. */
  public static void main(String[] args) {
    System.exit(new picocli.CommandLine(new ControllerCommand()).execute(args));
  }

  public static Path defaultDataDir() {
    return Path.of(System.getProperty("user.home"), ".edgefleet", "controller");
  }

  @Override
  public Integer call() throws Exception {
    ControllerConfig config;
    try {
      config = config();
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      return 2;
    }
    Controller controller;
    try {
      controller = Controller.start(config, Clock.systemUTC());
    } catch (RuntimeException e) {
      System.err.println("error: the controller could not start: " + rootMessage(e));
      return 1;
    }
    Path dataDir = config.dataDir().toAbsolutePath();
    System.out.println(
        "edgefleet controller "
            + Controller.VERSION
            + " serving https://"
            + (config.listenHost().contains(":")
                ? "[" + config.listenHost() + "]"
                : config.listenHost())
            + ":"
            + controller.port());
    System.out.println(
        "  devices use:   "
            + controller.url()
            + (advertiseUrl == null
                ? " (written into bootstrap files; change with --advertise-url)"
                : ""));
    System.out.println("  data:          " + dataDir);
    System.out.println(
        "  database:      "
            + controller.database().kind().name().toLowerCase(java.util.Locale.ROOT));
    System.out.println("  CA fingerprint " + controller.pki().caFingerprint());
    controller
        .newAdminToken()
        .ifPresentOrElse(
            t -> {
              System.out.println(
                  "  admin token (shown once; saved to "
                      + dataDir.resolve("admin-token")
                      + ", mode 0600):");
              System.out.println("    " + t);
            },
            () -> System.out.println("  admin token:   in " + dataDir.resolve("admin-token")));
    System.out.println("next: create an onboarding token and a bootstrap file for your devices:");
    System.out.println(
        "  EDGEFLEET_CONFIG="
            + controller.cliConfig()
            + " edgefleet onboarding create --tag site=lab");
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  controller.close();
                  stopped.countDown();
                },
                "edgefleet-controller-stop"));
    stopped.await();
    return 0;
  }

  ControllerConfig config() {
    int colon = listen.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("--listen must be HOST:PORT, got " + listen);
    }
    String host = listen.substring(0, colon).replaceAll("^\\[|\\]$", "");
    int port;
    try {
      port = Integer.parseInt(listen.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--listen port is not a number: " + listen);
    }
    Duration hb;
    try {
      hb = Durations.parse(heartbeat);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--heartbeat: " + e.getMessage());
    }
    if (hb.toSeconds() < 1) {
      throw new IllegalArgumentException("--heartbeat must be at least 1s");
    }
    Duration tick;
    try {
      tick = Durations.parse(rolloutTick);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--rollout-tick: " + e.getMessage());
    }
    if (tick.toMillis() < 50) {
      throw new IllegalArgumentException("--rollout-tick must be at least 50ms");
    }
    Duration telemetry;
    try {
      telemetry = Durations.parse(telemetryInterval);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--telemetry-interval: " + e.getMessage());
    }
    if (telemetry.toSeconds() < 1) {
      throw new IllegalArgumentException("--telemetry-interval must be at least 1s");
    }
    Duration alerts;
    try {
      alerts = Durations.parse(alertInterval);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--alert-interval: " + e.getMessage());
    }
    if (enrollmentsPerAddress < 1) {
      throw new IllegalArgumentException("--enrollments-per-address must be at least 1");
    }
    if (alerts.toSeconds() < 1) {
      throw new IllegalArgumentException("--alert-interval must be at least 1s");
    }
    EventLimits events;
    try {
      events =
          EventLimits.defaults()
              .withRetention(Durations.parse(eventRetention))
              .withMaxRows(eventMaxRows);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--event-retention/--event-max-rows: " + e.getMessage());
    }
    List<String> tagKeys =
        metricsTagKeys.stream().map(String::trim).filter(k -> !k.isEmpty()).toList();
    try {
      FleetGauges.labelsFor(tagKeys);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--metrics-tag-keys: " + e.getMessage());
    }
    if (advertiseUrl != null && !advertiseUrl.startsWith("https://")) {
      throw new IllegalArgumentException("--advertise-url must start with https://");
    }
    return ControllerConfig.defaults(data)
        .withListen(host, port)
        .withKubePort(kubePort)
        .withDatabase(
            databaseUrl,
            System.getenv("EDGEFLEET_DATABASE_USER"),
            System.getenv("EDGEFLEET_DATABASE_PASSWORD"))
        .withAdvertiseUrl(advertiseUrl)
        .withMoreUrls(alsoAdvertiseUrls)
        .withReplicaUrl(Optional.ofNullable(replicaUrl))
        .withTlsNames(tlsNames)
        .withHeartbeat(hb)
        .withRolloutTick(tick)
        .withTelemetryInterval(telemetry)
        .withMetricsTagKeys(tagKeys)
        .withAlerts(AlertOptions.defaults().withTick(alerts))
        .withEnrollmentsPerAddress(enrollmentsPerAddress)
        .withEvents(events)
        .withTrust(trustOptions())
        .withMaxArtifactBytes(maxArtifactBytes)
        .withExportLimits(new ExportLimits(exportMaxDevices, exportMaxBytes))
        .withAgentReleaseKeys(agentReleaseKeys)
        .withAudit(auditOptions())
        .withOidc(oidcOptions())
        .withS3(s3Options());
  }

  private Optional<S3Options> s3Options() {
    if (s3Endpoint == null) {
      if (s3Bucket != null || s3Ca != null) {
        throw new IllegalArgumentException("--s3-bucket and --s3-ca need --s3-endpoint");
      }
      return Optional.empty();
    }
    if (s3Bucket == null) {
      throw new IllegalArgumentException(
          "--s3-endpoint needs --s3-bucket: the existing bucket that holds the artifacts");
    }
    String id = firstOf("EDGEFLEET_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID");
    String secret = firstOf("EDGEFLEET_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY");
    if (id == null || secret == null) {
      throw new IllegalArgumentException(
          "--s3-endpoint needs an access key: set EDGEFLEET_S3_ACCESS_KEY_ID and"
              + " EDGEFLEET_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
              + " in the controller's environment");
    }
    String token = firstOf("EDGEFLEET_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN");
    try {
      return Optional.of(
          new S3Options(
              s3Endpoint,
              s3Bucket,
              s3Prefix,
              s3Region,
              new S3Options.Credentials(id, secret, Optional.ofNullable(token)),
              Optional.ofNullable(s3Ca)));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--s3-*: " + e.getMessage());
    }
  }

  private String firstOf(String... names) {
    for (String name : names) {
      String value = env.get(name);
      if (value != null && !value.isBlank()) {
        return value.strip();
      }
    }
    return null;
  }

  private Optional<OidcOptions> oidcOptions() {
    if (oidcIssuer == null && oidcClientId == null) {
      if (oidcClientSecretFile != null || !oidcGroupRoles.isEmpty()) {
        throw new IllegalArgumentException(
            "--oidc-client-secret-file and --oidc-group-role need --oidc-issuer and"
                + " --oidc-client-id");
      }
      return Optional.empty();
    }
    if (oidcIssuer == null || oidcClientId == null) {
      throw new IllegalArgumentException(
          "single sign-on needs both --oidc-issuer and --oidc-client-id");
    }
    Optional<String> secret = Optional.empty();
    if (oidcClientSecretFile != null) {
      try {
        String text = Files.readString(oidcClientSecretFile).strip();
        if (text.isEmpty() || text.length() > 1000) {
          throw new IllegalArgumentException("the file must hold the secret: 1 to 1000 characters");
        }
        secret = Optional.of(text);
      } catch (java.io.IOException | IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "--oidc-client-secret-file " + oidcClientSecretFile + ": " + e.getMessage());
      }
    }
    List<OidcOptions.GroupRole> mappings = new ArrayList<>();
    for (String spec : oidcGroupRoles) {
      try {
        mappings.add(OidcOptions.GroupRole.parse(spec));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--oidc-group-role: " + e.getMessage());
      }
    }
    try {
      return Optional.of(
          OidcOptions.of(oidcIssuer, oidcClientId, secret, mappings)
              .withGroupsClaim(oidcGroupsClaim.strip())
              .withTokenLifetime(Durations.parse(oidcTokenLifetime)));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--oidc-*: " + e.getMessage());
    }
  }

  private AuditOptions auditOptions() {
    AuditOptions audit;
    try {
      audit =
          AuditOptions.defaults()
              .withCheckpoints(auditCheckpointEvery, Durations.parse(auditCheckpointInterval));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--audit-checkpoint-every/--audit-checkpoint-interval: " + e.getMessage());
    }
    if (auditWebhook != null) {
      try {
        audit = audit.withWebhook(URI.create(auditWebhook.strip()));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--audit-webhook: " + e.getMessage());
      }
    }
    if (auditSyslog != null) {
      try {
        audit = audit.withSyslog(AuditOptions.SyslogTarget.parse(auditSyslog));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--audit-syslog: " + e.getMessage());
      }
    }
    if (auditRetention != null) {
      try {
        audit = audit.withRetention(Durations.parse(auditRetention));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--audit-retention: " + e.getMessage());
      }
    }
    return audit;
  }

  private TrustOptions trustOptions() {
    TrustOptions trust;
    try {
      trust =
          TrustOptions.defaults()
              .withPcrs(pcrs(attestationPcrs))
              .withInterval(Durations.parse(attestationInterval));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--attestation-pcrs/--attestation-interval: " + e.getMessage());
    }
    if (tpmCa != null) {
      if (!Files.isDirectory(tpmCa)) {
        throw new IllegalArgumentException(
            "--tpm-ca " + tpmCa + " is not a directory of EK root and intermediate certificates");
      }
      trust = trust.withTpmCa(tpmCa);
    }
    return trust;
  }

  /** {@code 0-7,9} → 0..7 and 9. */
  static List<Integer> pcrs(List<String> items) {
    List<Integer> out = new ArrayList<>();
    for (String item : items) {
      String t = item.strip();
      try {
        int dash = t.indexOf('-');
        if (dash > 0) {
          int from = Integer.parseInt(t.substring(0, dash).strip());
          int to = Integer.parseInt(t.substring(dash + 1).strip());
          if (to < from || to - from > 23) {
            throw new IllegalArgumentException("'" + t + "' is not a range of PCRs such as 0-9");
          }
          for (int i = from; i <= to; i++) {
            out.add(i);
          }
        } else if (!t.isEmpty()) {
          out.add(Integer.parseInt(t));
        }
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("'" + t + "' is not a PCR index (0 to 23) or range");
      }
    }
    return out;
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    StringBuilder sb = new StringBuilder(String.valueOf(e.getMessage()));
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
      if (t.getMessage() != null && !sb.toString().contains(t.getMessage())) {
        sb.append(": ").append(t.getMessage());
      }
    }
    return sb.toString();
  }
}
