package io.edgefleet.controller;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.edgefleet.controller.access.AccessControl;
import io.edgefleet.controller.access.AccessRoutes;
import io.edgefleet.controller.agentreleases.AgentReleaseRoutes;
import io.edgefleet.controller.agentreleases.AgentReleases;
import io.edgefleet.controller.agentreleases.AgentRollouts;
import io.edgefleet.controller.agentreleases.AgentSlotReports;
import io.edgefleet.controller.agentreleases.AgentTargets;
import io.edgefleet.controller.agentreleases.ReleaseKeys;
import io.edgefleet.controller.airgap.ExportRoutes;
import io.edgefleet.controller.airgap.Exports;
import io.edgefleet.controller.alerts.AlertEngine;
import io.edgefleet.controller.alerts.AlertReceivers;
import io.edgefleet.controller.alerts.AlertRoutes;
import io.edgefleet.controller.alerts.AlertRules;
import io.edgefleet.controller.api.AdminTokens;
import io.edgefleet.controller.api.ApiRoutes;
import io.edgefleet.controller.api.ConsoleAssets;
import io.edgefleet.controller.api.HttpApi;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.artifacts.ArtifactRoutes;
import io.edgefleet.controller.artifacts.Artifacts;
import io.edgefleet.controller.artifacts.BlobStore;
import io.edgefleet.controller.artifacts.DirectoryBlobStore;
import io.edgefleet.controller.artifacts.K3sBinaries;
import io.edgefleet.controller.artifacts.s3.S3BlobStore;
import io.edgefleet.controller.artifacts.s3.S3Exception;
import io.edgefleet.controller.artifacts.s3.S3Options;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.audit.AuditRetention;
import io.edgefleet.controller.audit.AuditRoutes;
import io.edgefleet.controller.audit.AuditSinks;
import io.edgefleet.controller.audit.AuditVerifier;
import io.edgefleet.controller.catalog.Catalog;
import io.edgefleet.controller.catalog.CatalogRoutes;
import io.edgefleet.controller.clusters.ClusterEngine;
import io.edgefleet.controller.clusters.ClusterImports;
import io.edgefleet.controller.clusters.ClusterListing;
import io.edgefleet.controller.clusters.ClusterRoutes;
import io.edgefleet.controller.clusters.ClusterSectionTable;
import io.edgefleet.controller.clusters.ClusterStore;
import io.edgefleet.controller.clusters.ClusterTokens;
import io.edgefleet.controller.clusters.Clusters;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.ControllerVersion;
import io.edgefleet.controller.common.Signal;
import io.edgefleet.controller.common.TrustedCas;
import io.edgefleet.controller.desired.AppArtifactUsers;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.desired.BundleStore;
import io.edgefleet.controller.desired.CompositeCatalog;
import io.edgefleet.controller.desired.DesiredRoutes;
import io.edgefleet.controller.desired.DesiredStateEngine;
import io.edgefleet.controller.desired.SigningKeyService;
import io.edgefleet.controller.desired.StageArtifacts;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceRoutes;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatuses;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.DeviceView;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.downloads.ArtifactReports;
import io.edgefleet.controller.downloads.DownloadPolicies;
import io.edgefleet.controller.downloads.DownloadPolicyRoutes;
import io.edgefleet.controller.downloads.StageProgress;
import io.edgefleet.controller.enrollment.EnrollmentRoutes;
import io.edgefleet.controller.enrollment.EnrollmentService;
import io.edgefleet.controller.events.DeviceEvents;
import io.edgefleet.controller.events.EventLog;
import io.edgefleet.controller.events.EventRetention;
import io.edgefleet.controller.events.EventRoutes;
import io.edgefleet.controller.gateway.AgentGateway;
import io.edgefleet.controller.gateway.Connections;
import io.edgefleet.controller.gateway.ReplicaNudges;
import io.edgefleet.controller.gitops.GitCatalog;
import io.edgefleet.controller.gitops.GitOps;
import io.edgefleet.controller.gitops.GitOpsRoutes;
import io.edgefleet.controller.health.ControllerLiveness;
import io.edgefleet.controller.health.FleetRoutes;
import io.edgefleet.controller.health.FleetSummaries;
import io.edgefleet.controller.health.HealthEngine;
import io.edgefleet.controller.health.HealthPolicy;
import io.edgefleet.controller.logs.LogRoutes;
import io.edgefleet.controller.logs.LogSessions;
import io.edgefleet.controller.metrics.ControllerMetrics;
import io.edgefleet.controller.metrics.FleetGauges;
import io.edgefleet.controller.metrics.MetricsRoutes;
import io.edgefleet.controller.onboarding.OnboardingRoutes;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.controller.onboarding.Preregistrations;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.controller.profiles.ClusterDirectory;
import io.edgefleet.controller.profiles.ProfileApps;
import io.edgefleet.controller.profiles.ProfileKubernetes;
import io.edgefleet.controller.profiles.ProfileRoutes;
import io.edgefleet.controller.profiles.Profiles;
import io.edgefleet.controller.registry.ImageMirror;
import io.edgefleet.controller.registry.MirrorRoutes;
import io.edgefleet.controller.registry.RegistryConfig;
import io.edgefleet.controller.replicas.ReplicaDirectory;
import io.edgefleet.controller.replicas.SessionRouting;
import io.edgefleet.controller.rollouts.DeploymentApps;
import io.edgefleet.controller.rollouts.Deployments;
import io.edgefleet.controller.rollouts.RolloutEngine;
import io.edgefleet.controller.rollouts.RolloutEventSource;
import io.edgefleet.controller.rollouts.RolloutGate;
import io.edgefleet.controller.rollouts.RolloutReads;
import io.edgefleet.controller.rollouts.RolloutRoutes;
import io.edgefleet.controller.secrets.MasterKeyRing;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.secrets.SecretDelivery;
import io.edgefleet.controller.secrets.SecretDeliveryPolicy;
import io.edgefleet.controller.secrets.SecretRoutes;
import io.edgefleet.controller.secrets.Secrets;
import io.edgefleet.controller.shell.Recordings;
import io.edgefleet.controller.shell.ShellPolicy;
import io.edgefleet.controller.shell.ShellRoutes;
import io.edgefleet.controller.sitecache.SiteCacheRoutes;
import io.edgefleet.controller.sitecache.SiteCaches;
import io.edgefleet.controller.sso.SingleSignOn;
import io.edgefleet.controller.sso.SsoRoutes;
import io.edgefleet.controller.store.DataDirectory;
import io.edgefleet.controller.store.Database;
import io.edgefleet.controller.store.Leadership;
import io.edgefleet.controller.stream.FleetChanges;
import io.edgefleet.controller.stream.StreamHub;
import io.edgefleet.controller.stream.StreamRoutes;
import io.edgefleet.controller.telemetry.TelemetryIngest;
import io.edgefleet.controller.telemetry.TelemetryRoutes;
import io.edgefleet.controller.trust.Trust;
import io.edgefleet.controller.trust.TrustRoutes;
import io.edgefleet.controller.tunnels.KubeProxy;
import io.edgefleet.controller.tunnels.TunnelRoutes;
import io.edgefleet.controller.tunnels.Tunnels;
import io.edgefleet.controller.workloads.WorkloadCatalog;
import io.edgefleet.controller.workloads.WorkloadResolver;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.ExportManifest;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running controller: database, key material, the HTTPS/WebSocket listener and background work.
 * {@link #start} prepares the data directory on first use and reuses it afterwards.
 */
public final class Controller implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Controller.class);
  public static final String VERSION = ControllerVersion.CURRENT;

  /** How long a tunnel stream may carry nothing before it is reset. */
  static final Duration TUNNEL_IDLE_TIMEOUT = Duration.ofMinutes(30);

  /** kubectl connections served at once. */
  static final int KUBE_CONNECTIONS = 512;

  private final ControllerConfig config;
  private final Database database;
  private final ControllerPki pki;
  private final Presence presence;
  private final DeviceService devices;
  private final Connections connections;
  private final AgentGateway gateway;
  private final Tunnels tunnels;
  private final KubeProxy kube;
  private final LogSessions logs;
  private final OnboardingTokens onboarding;
  private final DesiredStateEngine desired;
  private final ClusterEngine clusterEngine;
  private final ClusterImports clusterImports;

  /** How often every cluster is planned even when nothing reported (offline grace, failover). */
  private static final java.time.Duration CLUSTER_TICK = java.time.Duration.ofSeconds(5);

  private final GitOps gitops;
  private final AppStatusService appStatus;
  private final Catalog catalog;
  private final RolloutEngine rollouts;
  private final StreamHub streams;
  private final Deployments deployments;
  private final Profiles profiles;
  private final ProfileKubernetes profileSource;
  private final TelemetryIngest telemetry;
  private final Trust trust;
  private final DeviceEvents deviceEvents;
  private final AgentSlotReports agentSlots;
  private final ArtifactReports artifactReports;
  private final WorkloadResolver workloads;
  private final SiteCaches siteCaches;
  private final AuditRetention auditRetention;
  private final Leadership leadership;
  private final ReplicaNudges replicaNudges;
  private final ReplicaDirectory replicaDirectory;
  private final SessionRouting sessionRouting;
  private final DownloadPolicies downloadPolicies;
  private final AgentReleases agentReleases;
  private final EventRetention eventRetention;
  private final ScheduledExecutorService eventScheduler;
  private final HealthEngine health;
  private final ControllerMetrics metrics;
  private final AlertEngine alerts;
  private final ScheduledExecutorService alertScheduler;
  private final Clock clock;
  private final HttpApi http;
  private final ScheduledExecutorService scheduler;
  private final AuditLog audit;
  private final AuditSinks auditSinks;
  private final Optional<String> newAdminToken;
  private final String url;

  private Controller(
      ControllerConfig config,
      Clock clock,
      SecretDeliveryPolicy secretPolicy,
      AppCatalog moreApps) {
    this.config = config;
    this.clock = clock;
    Path dataDir = DataDirectory.prepare(config.dataDir());
    this.database =
        Database.open(
            config.databaseUrl().orElse(Database.sqliteUrl(dataDir)),
            config.databaseUser().orElse(null),
            config.databasePassword().orElse(null));
    String replica = ProcessHandle.current().pid() + "@" + hostName();
    Leadership lead = null;
    try {
      Jdbi jdbi = database.jdbi();
      // The object graph is complete when this constructor ends: every collaborator is passed in
      // at construction, in the order below, so reading on shows how a commit, an agent message
      // and a request flow. Nothing is started before everything is built.

      // Shared by every flow: key material, the audit log, secrets.
      this.pki =
          ControllerPki.open(
              DataDirectory.subdirectory(dataDir, "pki"), serverNames(config), clock);
      AuditLog audit = new AuditLog(jdbi, clock, Optional.of(pki.signingKeys()), config.audit());
      this.auditRetention = new AuditRetention(jdbi, clock, audit);
      audit.chainExisting();
      this.audit = audit;
      AuditVerifier auditVerifier = new AuditVerifier(audit);
      this.auditSinks =
          new AuditSinks(
              audit,
              AuditSinks.configured(config.audit(), Duration.ofSeconds(10)),
              clock,
              Duration.ofSeconds(1),
              Duration.ofMinutes(5));
      SecretBox secrets = new SecretBox(dataDir.resolve("secret.key"));
      // The advertised URL is known only once the port is bound, after everything is built: the
      // one value read through a reference set at the end (by alerts, enrollment, the API info).
      AtomicReference<String> advertised = new AtomicReference<>("");

      // Devices as the controller knows them: the inventory, their presence, the status these
      // give, and the live connections of the connected ones (how anything reaches a device).
      DeviceStore store = new DeviceStore();
      this.presence =
          new Presence(
              jdbi,
              clock,
              replica,
              database.kind() == Database.Kind.POSTGRESQL,
              config.presenceFlush());
      presence.load();
      DeviceStatuses statuses = new DeviceStatuses(clock, presence, config.offlineAfter());
      this.connections = new Connections();
      this.replicaNudges = new ReplicaNudges(database, connections);
      this.logs = LogSessions.over(connections, LogSessions.Options.defaults());
      // Device trust: TPM identities and attestation. A quarantined device is told so over its
      // connection and gets nothing new; one released from quarantine is nudged to fetch what it
      // was held back from.
      this.trust =
          new Trust(
              jdbi, clock, config.trust(), store, connections, audit, this::quarantineChanged);

      // What devices tell: their events, their telemetry, and the health model over both, which
      // refines the status of each device; the app status each device reports.
      this.deviceEvents = new DeviceEvents(jdbi, clock, config.events());
      this.eventRetention = new EventRetention(jdbi, clock, config.events());
      eventRetention.repair();
      this.telemetry = new TelemetryIngest(jdbi, clock, deviceEvents);
      telemetry.load();
      this.health =
          new HealthEngine(
              jdbi,
              clock,
              HealthPolicy.defaults(),
              telemetry::latest,
              statuses,
              deviceEvents::admit);
      health.load();
      // What devices report of the artifacts they hold and fetch (staging progress).
      this.artifactReports = new ArtifactReports(jdbi, clock, List.of());
      this.appStatus =
          new AppStatusService(
              jdbi,
              clock,
              statuses::presenceStatus,
              (id, required) -> StageProgress.of(required, artifactReports.of(id)).describe());

      // What devices should run: the apps of git sources and of catalog deployments, released
      // by rollouts (through the gate both engines share), turned by the desired-state engine
      // into a signed document per device.
      // A commit flows: the git sources apply it and announce it on the commits signal; the
      // engine recomputes every device and sends each changed document to its device as a nudge
      // over its connection (and tells the health model). The signal is there because the engine
      // reads the git sources' apps: it is subscribed to right after the engine is built and
      // sealed before anything runs.
      Signal<String> commits = new Signal<>("git sources");
      this.gitops =
          new GitOps(
              jdbi,
              clock,
              audit,
              DataDirectory.subdirectory(dataDir, "gitops"),
              secrets,
              GitOps.Settings.defaults(),
              commits,
              appStatus::byCommit);
      this.catalog = new Catalog(jdbi, clock, audit, gitops.rendering());
      // Profiles: one phased app per profile, for the applier of each cluster following it. They
      // read the clusters (names, labels, appliers) from the clusters' tables; a profile created or
      // published, and a rollout's release, are announced on their signals, which re-plan the
      // clusters (the engine is built below: it needs the devices).
      ClusterStore clusterStore = new ClusterStore();
      ClusterListing clusterListing = new ClusterListing(jdbi, clusterStore, store);
      ClusterDirectory clusterDirectory =
          () ->
              clusterListing.clusters().stream()
                  .map(
                      c ->
                          new ClusterDirectory.ClusterInfo(
                              c.name(),
                              c.labels(),
                              c.profile(),
                              c.applier(),
                              c.applierTags(),
                              c.kubernetesVersion()))
                  .toList();
      Signal<String> profileChanges = new Signal<>("profiles");
      Signal<String> releases = new Signal<>("rollout releases");
      ProfileApps profileApps = new ProfileApps(jdbi, catalog, clusterDirectory);
      // Cluster imports: the manifest of a third-party cluster manager, fetched from the cluster's
      // import URL once it is up, is one more app for the cluster's applier.
      Signal<String> importChanges = new Signal<>("cluster imports");
      this.clusterImports =
          new ClusterImports(
              jdbi,
              clock,
              clusterStore,
              ClusterImports.Fetcher.http(java.time.Duration.ofSeconds(30)),
              importChanges);
      RolloutGate gate = new RolloutGate();
      this.profileSource = new ProfileKubernetes(jdbi, gate);
      BundleStore bundles = new BundleStore(jdbi, clock);
      // Secrets for devices: encrypted at rest under the master key file's keys; a change is
      // announced on its signal, which recomputes every device (whose documents reference the
      // secrets targeting it).
      // The cluster section of each member's desired state, published by the clusters' engine
      // (built below, once the devices are); it also keeps a K3s binary in use from deletion.
      ClusterSectionTable clusterSections = new ClusterSectionTable();
      // Artifacts devices fetch from the controller (K3s binaries, agent releases, images, disks),
      // content-addressed in the data directory or an S3 bucket; not deleted while in use.
      AppArtifactUsers appArtifactUsers = new AppArtifactUsers(jdbi);
      Artifacts artifacts =
          new Artifacts(
              jdbi,
              clock,
              audit,
              blobStore(config, dataDir, clock),
              config.maxArtifactBytes(),
              digest ->
                  clusterSections
                      .userOf(digest)
                      .or(() -> AgentReleases.releaseOf(jdbi, digest))
                      .or(() -> appArtifactUsers.userOf(digest)));
      // Apps rendered from content (Git sources, catalog deployments, profiles) are read as
      // workloads: Containers and VirtualMachines get their runtime, their registry images
      // resolved to mirrored blobs, and the blobs they use.
      WorkloadResolver workloads = new WorkloadResolver(artifacts);
      this.workloads = workloads;
      AppCatalog apps =
          new CompositeCatalog(
              List.of(
                  new WorkloadCatalog(
                      new CompositeCatalog(
                          List.of(
                              new GitCatalog(gitops),
                              new DeploymentApps(jdbi, catalog),
                              profileApps)),
                      workloads),
                  clusterImports,
                  moreApps));
      // Signed releases of the agent itself: trusted release keys, their files as artifacts.
      this.agentSlots = new AgentSlotReports(jdbi, clock, deviceEvents::recordWarning, List.of());
      this.agentReleases =
          new AgentReleases(
              jdbi,
              clock,
              audit,
              artifacts,
              ReleaseKeys.load(dataDir, config.agentReleaseKeys()),
              (version, arch) -> AgentTargets.userOf(jdbi, version));
      // The agent as a rollout subject: which release each device should run, how it stands.
      AgentTargets agentTargets = new AgentTargets(jdbi, agentReleases, agentSlots, gate);
      Signal<String> secretChanges = new Signal<>("secrets");
      MasterKeyRing masterKeys =
          new MasterKeyRing(DataDirectory.subdirectory(dataDir, "secrets").resolve("master.keys"));
      // Cluster join tokens are sealed under the same master keys, re-sealed when they rotate.
      ClusterTokens clusterTokens = new ClusterTokens(jdbi, clusterStore, masterKeys);
      Secrets deviceSecrets =
          new Secrets(jdbi, clock, audit, masterKeys, store, secretChanges, clusterTokens);
      // Download policies: when and how much devices may download artifacts, in their documents;
      // a change recomputes every device (only those whose policy changed get a new document).
      Signal<String> downloadPolicyChanges = new Signal<>("download-policies");
      this.downloadPolicies =
          new DownloadPolicies(
              jdbi, clock, audit, () -> downloadPolicyChanges.accept("download-policies"));
      // Each site's cache and where it serves, in the site's devices' documents: a device to
      // recompute when its site's cache moves or reports a new address.
      Signal<String> siteCacheDevices = new Signal<>("site-cache-devices");
      Signal<String> siteCacheSites = new Signal<>("site-caches");
      this.siteCaches =
          new SiteCaches(
              jdbi,
              clock,
              store,
              trust.devices()::quarantined,
              siteCacheDevices,
              () -> siteCacheSites.accept("site-caches"));
      this.desired =
          new DesiredStateEngine(
              jdbi,
              clock,
              store,
              bundles,
              pki.signingKeys(),
              apps,
              deviceSecrets,
              clusterSections,
              agentTargets,
              downloadPolicies::sectionFor,
              siteCaches::sectionFor,
              () -> controllerUrls(advertised.get()),
              gate,
              (id, nudge) -> {
                if (!trust.devices().quarantined(id)) {
                  // Here, or through the replica that holds the device's connection.
                  replicaNudges.nudge(id, nudge);
                }
                health.desiredChanged(id);
              });
      // Jobs that must run once run on the leader replica (on SQLite: this one, always). A leader
      // killed between committing a change (a rollout's release) and computing the documents it
      // changes leaves that computation undone: a new leader computes every document again.
      lead = new Leadership(database, replica, desired::requestAll);
      this.leadership = lead;
      siteCacheDevices.subscribe(desired::request);
      siteCacheDevices.seal();
      siteCacheSites.subscribe(site -> desired.requestAll());
      siteCacheSites.seal();
      commits.subscribe(source -> desired.requestAll());
      commits.seal();
      secretChanges.subscribe(name -> desired.requestAll());
      secretChanges.seal();
      downloadPolicyChanges.subscribe(name -> desired.requestAll());
      downloadPolicyChanges.seal();
      importChanges.subscribe(cluster -> desired.requestAll());
      importChanges.seal();
      // A rollout's next batch flows the same way: a request to the engine per released device.
      this.rollouts =
          new RolloutEngine(
              jdbi,
              clock,
              gate,
              () -> {
                List<AppCatalog.App> all = new ArrayList<>(apps.apps());
                all.addAll(agentTargets.apps());
                return all;
              },
              statuses::presenceStatus,
              new RolloutEngine.Git(gitops::rolloutPolicies, GitOps::sameContent),
              agentTargets,
              // A device waiting for a revision is released once it holds what it stages of it.
              (h, app, revision, ids) -> {
                Map<String, StageProgress> progress = new HashMap<>();
                Map<String, List<ArtifactRef>> staged =
                    StageArtifacts.staged(h, app, revision, ids);
                for (String id : ids) {
                  List<ArtifactRef> required = staged.get(id);
                  if (required != null) {
                    progress.put(id, StageProgress.of(required, artifactReports.of(id)));
                  } else if (desired.settling(id)) {
                    // Its document may not say yet what it is to stage: not released before.
                    progress.put(id, StageProgress.PREPARING);
                  }
                }
                return progress;
              },
              id -> {
                desired.request(id);
                releases.accept(id);
              },
              audit);
      this.deployments =
          new Deployments(
              jdbi, clock, catalog, rollouts, audit, desired::requestAll, workloads::resolve);
      AgentRollouts agentRollouts =
          new AgentRollouts(
              jdbi, clock, audit, agentReleases, agentTargets, rollouts, desired::requestAll);
      this.profiles =
          new Profiles(
              jdbi,
              clock,
              catalog,
              profileApps,
              clusterDirectory,
              profileSource,
              rollouts,
              audit,
              () -> {
                desired.requestAll();
                profileChanges.accept("profiles");
              });

      // The inventory operators work with: statuses refined by the health model; a device's new
      // tags or lifecycle flow to the desired state, the rollouts and the health model, and a
      // decommissioned device's connection is closed at once.
      Signal<String> deviceChanges = new Signal<>("devices");
      this.devices =
          new DeviceService(
              jdbi,
              clock,
              store,
              presence,
              pki,
              audit,
              statuses,
              (id, reason) -> connections.disconnect(id, DeviceApi.CLOSE_REVOKED, reason),
              health,
              id -> {
                desired.request(id);
                siteCaches.devicesChanged();
                rollouts.devicesChanged();
                health.deviceChanged(id);
                deviceChanges.accept(id);
              },
              trust.devices()::view,
              trust.renewals());

      // K3s clusters from tags: the engine plans each cluster on its own worker when a member
      // reports, a device changes and on a tick; it mirrors membership into the devices' cluster
      // tags, publishes the members' sections and asks the desired state to recompute them.
      this.clusterEngine =
          new ClusterEngine(
              jdbi,
              clock,
              clusterStore,
              store,
              presence::snapshot,
              trust.devices()::quarantined,
              new K3sBinaries(artifacts),
              profileSource,
              clusterSections,
              devices::setClusterTags,
              desired::request,
              audit,
              CLUSTER_TICK);
      deviceChanges.subscribe(clusterEngine::deviceChanged);
      deviceChanges.seal();
      // A profile's selector or version, and what a rollout releases to an applier, change the
      // Kubernetes layer and the profile tag of clusters.
      profileChanges.subscribe(p -> clusterEngine.requestAll());
      profileChanges.seal();
      releases.subscribe(clusterEngine::deviceChanged);
      releases.seal();
      clusterEngine.start();
      clusterImports.start(CLUSTER_TICK);

      // The controller's own metrics, reading the counters kept by the features above.
      this.metrics =
          new ControllerMetrics(
              new ControllerMetrics.Sources(
                  connections::count,
                  desired::recomputations,
                  telemetry::records,
                  telemetry::refused,
                  telemetry::refusedMessages,
                  deviceEvents::dropped,
                  deviceEvents::heldBack,
                  deviceEvents::skewed,
                  new ControllerMetrics.Attestations(
                      trust.attestations()::verified,
                      trust.attestations()::refused,
                      trust.attestations()::shed,
                      trust.attestations()::queued)));

      // An agent message flows from the gateway, which admits a device's socket, adds it to the
      // connections and keeps its presence: a welcome carries the device's generation (and a
      // catch-up document), telemetry goes to the ingestion through the health model, reports
      // and events to app status, the desired state's key trust, the event log and health, log
      // lines and lost connections to the log sessions.
      this.gateway =
          new AgentGateway(
              jdbi,
              store,
              presence,
              connections,
              clock,
              config.heartbeat(),
              config.telemetryInterval(),
              metrics::websocketMessage,
              new AgentGateway.Handlers(
                  desired::generation,
                  (id, known) ->
                      trust.devices().quarantined(id)
                          ? Optional.empty()
                          : desired.catchUp(id, known),
                  health.observing(telemetry),
                  (id, message) -> {
                    switch (message) {
                      case AgentMessage.AppReport report -> {
                        appStatus.report(id, report);
                        desired.trusts(id, report.signingKeys());
                      }
                      case AgentMessage.Event event -> {
                        deviceEvents.record(id, event);
                        if (AgentMessage.Event.IMPORT.equals(event.kind())) {
                          // What reached the device without the controller is audited too.
                          jdbi.useHandle(
                              h ->
                                  audit.record(
                                      h,
                                      "device:" + id,
                                      "device.import",
                                      id,
                                      Map.of(
                                          "message",
                                          String.valueOf(event.message()),
                                          "at",
                                          String.valueOf(event.at()))));
                        }
                      }
                      case AgentMessage.AgentSlots slots -> agentSlots.report(id, slots);
                      case AgentMessage.ArtifactReport held -> {
                        artifactReports.report(id, held);
                        siteCaches.reported(id, held.siteCache());
                      }
                      default -> {}
                    }
                    health.reported(id, message);
                  },
                  logs::receive,
                  logs::disconnected,
                  desired::request,
                  trust.attestations(),
                  clusterEngine::report));

      // Alerts: rules over the fleet's facts, delivered to receivers by webhook. Time devices spent
      // waiting for a stopped controller is not theirs: offline alerts count from its start plus
      // the time devices need to reconnect.
      ControllerLiveness liveness = ControllerLiveness.start(jdbi, clock, config.offlineAfter());
      AlertRules alertRules = new AlertRules(jdbi, clock, audit);
      AlertReceivers alertReceivers = new AlertReceivers(jdbi, clock, audit, secrets, alertRules);
      this.alerts =
          new AlertEngine(
              jdbi,
              clock,
              alertRules,
              alertReceivers,
              devices::presenceStatus,
              presence::snapshot,
              telemetry::latest,
              liveness::offlineSince,
              trust.devices()::view,
              config.alerts(),
              advertised::get,
              metrics::alertNotification);
      metrics.deviceArtifactBytes(artifacts::bytesServed);
      // The fleet gauges of /metrics read the alerts, which count their notifications in metrics.
      metrics.register(
          new FleetGauges(
              config.metricsTagKeys(), fleetSources(appStatus, new RolloutReads(jdbi))));

      // Onboarding: tokens, preregistrations, enrollment; the first admin token.
      this.onboarding = new OnboardingTokens(jdbi, clock, audit);
      Preregistrations preregistrations = new Preregistrations(jdbi, clock, audit);
      AdminTokens admins = new AdminTokens(jdbi, clock);
      this.newAdminToken = admins.createInitialIfNone();
      // Users, roles and API tokens; the first admin token acts as the user admin.
      AccessControl access =
          new AccessControl(
              jdbi,
              clock,
              audit,
              admins,
              id -> {
                try {
                  return Optional.of(devices.get(id).tags());
                } catch (ControllerException e) {
                  return Optional.empty();
                }
              });
      newAdminToken.ifPresent(
          t -> SecureFiles.writeSecret(dataDir.resolve("admin-token"), t + "\n"));
      // Shells: who may open one where (grants, approvals), and the recordings of sessions.
      ShellPolicy shellPolicy =
          new ShellPolicy(
              jdbi,
              clock,
              audit,
              id -> {
                try {
                  DeviceView d = devices.get(id);
                  return Optional.of(
                      new ShellPolicy.Target(
                          d.id(),
                          d.name(),
                          d.tags(),
                          d.facts() == null ? List.of() : d.facts().remoteAccess()));
                } catch (ControllerException e) {
                  return Optional.empty();
                }
              },
              role -> access.roles().stream().anyMatch(r -> r.name().equals(role)));
      Recordings recordings =
          new Recordings(
              jdbi,
              clock,
              DataDirectory.subdirectory(dataDir, "recordings"),
              Recordings.DEFAULT_MAX_BYTES,
              id -> {
                try {
                  return Optional.of(devices.get(id).tags());
                } catch (ControllerException e) {
                  return Optional.empty();
                }
              });
      EnrollmentService enrollment =
          new EnrollmentService(
              jdbi,
              clock,
              store,
              devices,
              onboarding,
              preregistrations,
              pki,
              audit,
              () -> advertised.get() + HttpApi.APPROVE_PAGE,
              config.heartbeat(),
              config.enrollmentsPerAddress(),
              id -> desired.handOut(id).publicKeyPem(),
              trust.enrollments(),
              agentReleases::releaseKeys);

      // Tunnels through the devices' own connections: sessions, port-forward, kubectl.
      this.tunnels =
          new Tunnels(
              jdbi,
              clock,
              audit,
              connections,
              access,
              TUNNEL_IDLE_TIMEOUT,
              id -> {
                try {
                  devices.get(id);
                  return true;
                } catch (ControllerException e) {
                  return false;
                }
              });
      tunnels.recover();
      recordings.recover();
      this.kube =
          config.kubePort() < 0
              ? null
              : new KubeProxy(
                  config.listenHost(),
                  config.kubePort(),
                  pki.serverCertificate(),
                  pki.serverKey(),
                  pki.caCertificate(),
                  tunnels,
                  access,
                  new KubeProxy.Directory() {
                    @Override
                    public boolean deviceExists(String deviceId) {
                      return tunnels.deviceExists(deviceId);
                    }

                    @Override
                    public Optional<List<String>> clusterServers(String cluster) {
                      return jdbi.withHandle(
                          h ->
                              clusterStore
                                  .byName(h, cluster)
                                  .map(
                                      c ->
                                          clusterStore.members(h).stream()
                                              .filter(m -> m.cluster().equals(cluster))
                                              .filter(m -> "server".equals(m.member().role()))
                                              .map(m -> m.member().deviceId())
                                              .toList()));
                    }
                  },
                  connections::isConnected,
                  advertised::get,
                  KUBE_CONNECTIONS);

      // A request flows from the listener through the router to the routes of one feature.
      Supplier<ApiRoutes.Info> info = () -> info(advertised.get());
      FleetSummaries fleet =
          new FleetSummaries(devices, health, clock, clusterEngine::countByState);
      EventLog eventLog =
          new EventLog(jdbi, clock, devices, new RolloutEventSource(new RolloutReads(jdbi)), audit);
      // One look for changes per second serves every live stream (the web console's).
      this.streams =
          new StreamHub(
              new FleetChanges(devices, fleet, rollouts, eventLog),
              clock,
              StreamHub.Limits.defaults());
      Router router =
          Router.of(
              List.of(
                  new ApiRoutes(database::healthy, info, openApiJson()),
                  new EnrollmentRoutes(enrollment),
                  new AgentReleaseRoutes(agentReleases, agentRollouts, agentSlots),
                  new DeviceRoutes(devices, () -> Pem.certificate(pki.caCertificate())),
                  new OnboardingRoutes(onboarding, preregistrations, info),
                  new DesiredRoutes(
                      desired,
                      bundles,
                      new SigningKeyService(jdbi, pki.signingKeys(), desired, audit),
                      appStatus,
                      devices,
                      trust.devices()::quarantined),
                  new GitOpsRoutes(gitops),
                  new CatalogRoutes(catalog, devices),
                  new RolloutRoutes(deployments, rollouts, gitops::project),
                  new ProfileRoutes(profiles),
                  new TelemetryRoutes(telemetry, devices),
                  new AlertRoutes(
                      new AlertRoutes.Services(alertRules, alertReceivers, alerts, devices::tags)),
                  new MetricsRoutes(metrics),
                  new LogRoutes(logs, devices, appStatus),
                  new FleetRoutes(fleet),
                  new EventRoutes(eventLog),
                  new StreamRoutes(streams),
                  new AuditRoutes(audit, auditVerifier, clock),
                  new AccessRoutes(access),
                  new TunnelRoutes(tunnels, kube),
                  new SsoRoutes(
                      new SingleSignOn(config.oidc(), jdbi, clock, audit, access, advertised::get)),
                  new ShellRoutes(shellPolicy, recordings, tunnels),
                  new TrustRoutes(trust.review()),
                  new ArtifactRoutes(artifacts),
                  new ExportRoutes(
                      new Exports(
                          new Exports.Sources() {
                            @Override
                            public Map<String, Map<String, String>> tags() {
                              return devices.tags();
                            }

                            @Override
                            public Optional<SignedDesiredState> document(String deviceId) {
                              return trust.devices().quarantined(deviceId)
                                  ? Optional.empty()
                                  : desired.newerThan(deviceId, 0);
                            }

                            @Override
                            public Optional<String> bundle(String digest) {
                              return bundles.get(digest);
                            }

                            @Override
                            public java.util.OptionalLong blobSize(String digest) {
                              try {
                                return java.util.OptionalLong.of(artifacts.stored(digest));
                              } catch (ControllerException e) {
                                return java.util.OptionalLong.empty();
                              }
                            }

                            @Override
                            public java.io.InputStream openBlob(String digest)
                                throws java.io.IOException {
                              return artifacts.open(digest);
                            }

                            @Override
                            public ExportManifest.Signature sign(byte[] data) {
                              SigningKeys.Ring ring = pki.signingKeys().ring();
                              String keyId = ring.current().id();
                              return new ExportManifest.Signature(
                                  keyId, Signatures.sign(ring.privateKey(keyId), data));
                            }
                          },
                          config.exportLimits(),
                          clock),
                      (actor, action, target, detail) ->
                          jdbi.useHandle(h -> audit.record(h, actor, action, target, detail))),
                  new SiteCacheRoutes(siteCaches),
                  new MirrorRoutes(
                      new ImageMirror(
                          artifacts,
                          new RegistryConfig(dataDir.resolve(RegistryConfig.FILE_NAME)),
                          DataDirectory.subdirectory(dataDir, "mirror"),
                          jdbi,
                          audit)),
                  new DownloadPolicyRoutes(
                      downloadPolicies,
                      artifactReports,
                      new DownloadPolicyRoutes.DeviceStages() {
                        @Override
                        public Map<String, DownloadPolicyRoutes.Staged> of(String deviceId) {
                          Map<String, DownloadPolicyRoutes.Staged> out = new LinkedHashMap<>();
                          jdbi.withHandle(h -> StageArtifacts.of(h, deviceId))
                              .forEach(
                                  (app, st) ->
                                      out.put(
                                          app,
                                          new DownloadPolicyRoutes.Staged(
                                              st.revision(), st.artifacts())));
                          return out;
                        }

                        @Override
                        public Optional<Map<String, String>> tags(String deviceId) {
                          return jdbi.withHandle(h -> store.byId(h, deviceId))
                              .map(DeviceRecord::tags);
                        }
                      }),
                  new ClusterRoutes(
                      new Clusters(
                          jdbi,
                          clock,
                          audit,
                          clusterStore,
                          clusterTokens,
                          clusterEngine,
                          clusterImports,
                          id -> trust.devices().refusal(id).or(() -> secretPolicy.refusal(id)))),
                  new SecretRoutes(
                      deviceSecrets,
                      new SecretDelivery(
                          jdbi,
                          clock,
                          store,
                          deviceSecrets,
                          // A quarantined device gets no secret, whatever else is asked.
                          id -> trust.devices().refusal(id).or(() -> secretPolicy.refusal(id))))));
      // A session with a device (logs, port-forward, shell, file copy) needs its socket: a
      // replica that does not hold it sends the request on to the live replica that does.
      this.replicaDirectory =
          new ReplicaDirectory(
              jdbi,
              clock,
              replica,
              () -> config.replicaUrl().orElseGet(advertised::get),
              ReplicaDirectory.TIMEOUT);
      this.sessionRouting =
          new SessionRouting(
              replicaDirectory,
              idOrName -> {
                try {
                  return Optional.of(devices.get(idOrName).id());
                } catch (ControllerException unknown) {
                  return Optional.empty();
                }
              },
              connections::isConnected,
              presence::holder,
              replicaTls(dataDir));
      sessionRouting.route(
          router,
          List.of(
              "/api/v1/devices/{id}/logs",
              "/api/v1/devices/{id}/port-forward",
              "/api/v1/devices/{id}/shell",
              "/api/v1/devices/{id}/files"));
      this.http =
          new HttpApi(
              config.listenHost(),
              config.listenPort(),
              pki,
              router,
              access,
              gateway,
              config.http(),
              ConsoleAssets.bundled(),
              metrics::request,
              metrics::connectionLimited);
      http.start();
      if (kube != null) {
        kube.start();
      }
      streams.start();
      this.url = config.advertiseUrl().orElseGet(() -> defaultUrl(config, http.port()));
      advertised.set(url);
      writeCliConfig(dataDir);
      this.scheduler =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "edgefleet-presence");
                t.setDaemon(true);
                return t;
              });
      leadership.check();
      scheduler.scheduleWithFixedDelay(leadership::check, 1, 1, TimeUnit.SECONDS);
      replicaNudges.start();
      if (database.kind() == Database.Kind.POSTGRESQL) {
        // On SQLite one process holds every device: no other replica to find.
        replicaDirectory.beat();
        long directoryBeat = ReplicaDirectory.BEAT.toMillis();
        scheduler.scheduleWithFixedDelay(
            replicaDirectory::beat, directoryBeat, directoryBeat, TimeUnit.MILLISECONDS);
      }
      long flush = config.presenceFlush().toMillis();
      scheduler.scheduleWithFixedDelay(
          () -> {
            presence.flush();
            presence.refresh();
          },
          flush,
          flush,
          TimeUnit.MILLISECONDS);
      scheduler.scheduleWithFixedDelay(gateway::flushLog, 10, 10, TimeUnit.SECONDS);
      long beat = ControllerLiveness.BEAT.toMillis();
      scheduler.scheduleWithFixedDelay(liveness::beat, beat, beat, TimeUnit.MILLISECONDS);
      // Safety net: everything is recomputed now and then, whatever triggers were missed.
      scheduler.scheduleWithFixedDelay(
          leadership.ifLeader(desired::requestAll), 0, 5, TimeUnit.MINUTES);
      // An image mirrored or a blob pushed (or deleted) changes what apps naming it render to.
      scheduler.scheduleWithFixedDelay(
          () -> {
            if (workloads.storeChanged()) {
              desired.requestAll();
            }
          },
          2,
          2,
          TimeUnit.SECONDS);
      long tick = config.rolloutTick().toMillis();
      scheduler.scheduleWithFixedDelay(
          leadership.ifLeader(this::tickRollouts), tick, tick, TimeUnit.MILLISECONDS);
      scheduler.scheduleWithFixedDelay(this::tickHealth, tick, tick, TimeUnit.MILLISECONDS);
      scheduler.scheduleWithFixedDelay(
          leadership.ifLeader(this::pruneTelemetry), 10, 10, TimeUnit.MINUTES);
      scheduler.scheduleWithFixedDelay(this::tickAttestations, 1, 1, TimeUnit.SECONDS);
      scheduler.scheduleWithFixedDelay(
          leadership.ifLeader(this::checkpointAudit), 1, 1, TimeUnit.MINUTES);
      scheduler.scheduleWithFixedDelay(tunnels::tick, 5, 5, TimeUnit.SECONDS);
      auditSinks.start();
      gitops.start();
      this.alertScheduler =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                // Its own thread: rule evaluation must not hold up presence or rollouts. Webhooks
                // are called by the alert engine's delivery threads, never here.
                Thread t = new Thread(r, "edgefleet-alerts");
                t.setDaemon(true);
                return t;
              });
      this.eventScheduler =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                // Its own thread: deleting a large backlog must not hold up presence or rollouts.
                Thread t = new Thread(r, "edgefleet-events");
                t.setDaemon(true);
                return t;
              });
      eventScheduler.scheduleWithFixedDelay(this::flushDeviceEvents, 1, 1, TimeUnit.MINUTES);
      eventScheduler.scheduleWithFixedDelay(
          leadership.ifLeader(this::pruneEvents), 1, 10, TimeUnit.MINUTES);
      long alertTick = config.alerts().tick().toMillis();
      alertScheduler.scheduleWithFixedDelay(
          leadership.ifLeader(this::tickAlerts), alertTick, alertTick, TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      if (lead != null) {
        lead.close();
      }
      database.close();
      throw e;
    }
  }

  /**
   * The artifact store: the data directory's {@code artifacts/}, or the S3 bucket of the config,
   * checked at start. A bucket that refuses (missing, wrong key) stops the start with the service's
   * answer; one that cannot be reached yet is only logged, since it may come back.
   */
  private static BlobStore blobStore(ControllerConfig config, Path dataDir, Clock clock) {
    if (config.s3().isEmpty()) {
      return new DirectoryBlobStore(DataDirectory.subdirectory(dataDir, "artifacts"));
    }
    S3Options options = config.s3().get();
    S3BlobStore store =
        new S3BlobStore(options, DataDirectory.subdirectory(dataDir, "artifact-uploads"), clock);
    try {
      store.check();
      LOG.info("artifacts are kept in the S3 bucket {}", options.location());
    } catch (S3Exception e) {
      if (e.status() >= 400 && e.status() < 500) {
        throw new IllegalStateException(e.getMessage(), e);
      }
      LOG.warn("the S3 bucket {} does not answer yet: {}", options.location(), e.getMessage());
    } catch (java.io.IOException e) {
      LOG.warn("the S3 bucket {} cannot be reached yet: {}", options.location(), e.getMessage());
    }
    if ("http".equals(options.endpoint().getScheme())) {
      LOG.warn(
          "the S3 endpoint {} is plain http: artifacts travel unencrypted between controller and"
              + " store (devices still verify every digest)",
          options.endpoint());
    }
    return store;
  }

  /** Starts a controller; the returned instance is serving when this returns. */
  public static Controller start(ControllerConfig config, Clock clock) {
    return start(config, clock, SecretDeliveryPolicy.ALLOW);
  }

  /**
   * Starts a controller that also asks {@code secretPolicy} before it hands a secret to a device.
   */
  public static Controller start(
      ControllerConfig config, Clock clock, SecretDeliveryPolicy secretPolicy) {
    return new Controller(config, clock, secretPolicy, AppCatalog.EMPTY);
  }

  /**
   * Starts a controller whose app catalog also holds {@code moreApps} (e.g. apps of a kind whose
   * source is embedded), besides its Git sources, deployments, profiles and cluster imports.
   */
  public static Controller start(ControllerConfig config, Clock clock, AppCatalog moreApps) {
    return new Controller(config, clock, SecretDeliveryPolicy.ALLOW, moreApps);
  }

  /** The port of kubectl's listener; -1 if it has none. */
  public int kubePort() {
    return kube == null ? -1 : kube.port();
  }

  /** The tunnels through the devices' connections. */
  public Tunnels tunnels() {
    return tunnels;
  }

  /** The URL devices and the CLI use, e.g. {@code https://127.0.0.1:7443}. */
  public String url() {
    return url;
  }

  public int port() {
    return http.port();
  }

  /** The admin token created by this start, if this was the first start. */
  public Optional<String> newAdminToken() {
    return newAdminToken;
  }

  /** The admin token from the data directory, if present. */
  public Optional<String> adminToken() {
    Path file = config.dataDir().resolve("admin-token");
    try {
      return Files.exists(file) ? Optional.of(Files.readString(file).trim()) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  public ControllerPki pki() {
    return pki;
  }

  public DeviceService devices() {
    return devices;
  }

  /** Admits the devices' sockets and dispatches what agents say. */
  public AgentGateway gateway() {
    return gateway;
  }

  /** The devices' live connections: send to a connected device, cut it off, count them. */
  public Connections connections() {
    return connections;
  }

  /** Log requests to devices in flight. */
  public LogSessions logs() {
    return logs;
  }

  public Presence presence() {
    return presence;
  }

  public OnboardingTokens onboarding() {
    return onboarding;
  }

  public GitOps gitops() {
    return gitops;
  }

  public DesiredStateEngine desired() {
    return desired;
  }

  public AppStatusService appStatus() {
    return appStatus;
  }

  public Catalog catalog() {
    return catalog;
  }

  /** The health model: status beyond presence, since when, transitions. */
  public HealthEngine health() {
    return health;
  }

  public RolloutEngine rollouts() {
    return rollouts;
  }

  public Profiles profiles() {
    return profiles;
  }

  /** Where clusters following a profile take their Kubernetes layer from. */
  public ProfileKubernetes profileSource() {
    return profileSource;
  }

  public Deployments deployments() {
    return deployments;
  }

  /** What devices may add to the event log: counters of what was dropped or re-dated. */
  /** The signed agent releases. */
  public AgentReleases agentReleases() {
    return agentReleases;
  }

  /** What devices report of their agent slots. */
  public AgentSlotReports agentSlots() {
    return agentSlots;
  }

  public DeviceEvents deviceEvents() {
    return deviceEvents;
  }

  /** Keeps the event log within its retention and size. */
  public EventRetention eventRetention() {
    return eventRetention;
  }

  /** Telemetry ingestion: counters, the newest metrics of each device. */
  public TelemetryIngest telemetry() {
    return telemetry;
  }

  /**
   * A device entered or left quarantine: one that left fetches the desired state it was held back
   * from; its site's cache is told whom to serve now.
   */
  private void quarantineChanged(String deviceId) {
    if (!trust.devices().quarantined(deviceId)) {
      connections.send(deviceId, new ControllerMessage.Nudge(desired.generation(deviceId)));
    }
    SiteCaches caches = siteCaches;
    if (caches != null) {
      caches.memberChanged(deviceId);
    }
  }

  private void tickAttestations() {
    try {
      trust.attestations().tick();
    } catch (RuntimeException e) {
      LOG.warn("attestation challenges could not be sent: {}", e.toString());
    }
  }

  /** Device trust: TPM identities, attestation, quarantine. */
  public Trust trust() {
    return trust;
  }

  private void pruneTelemetry() {
    try {
      telemetry.prune();
    } catch (RuntimeException e) {
      LOG.warn("old metric summaries could not be pruned: {}", e.toString());
    }
  }

  private void flushDeviceEvents() {
    try {
      deviceEvents.flush();
    } catch (RuntimeException e) {
      LOG.warn("devices over their event rate could not be recorded: {}", e.toString());
    }
  }

  private void pruneEvents() {
    try {
      eventRetention.prune();
    } catch (RuntimeException e) {
      LOG.warn("old events could not be pruned: {}", e.toString());
    }
    try {
      auditRetention.prune();
    } catch (RuntimeException e) {
      LOG.warn("old audit entries could not be pruned: {}", e.toString());
    }
  }

  private void tickHealth() {
    try {
      health.tick(clock.instant());
    } catch (RuntimeException e) {
      LOG.warn("device health could not be updated: {}", e.toString());
    }
  }

  private void tickRollouts() {
    try {
      rollouts.tick(clock.instant());
      metrics.rolloutTick(true);
    } catch (RuntimeException e) {
      metrics.rolloutTick(false);
      LOG.warn("rollouts could not advance: {}", e.toString());
    }
  }

  private void tickAlerts() {
    try {
      alerts.tick(clock.instant());
      metrics.alertTick(true);
    } catch (RuntimeException e) {
      metrics.alertTick(false);
      LOG.warn("alert rules could not be evaluated: {}", e.toString());
    }
  }

  /** The alert engine: rules, receivers and notifications, advanced by {@code tick(now)}. */
  public AlertEngine alerts() {
    return alerts;
  }

  /** The controller's own metrics and the fleet gauges, as served at {@code /metrics}. */
  public ControllerMetrics metrics() {
    return metrics;
  }

  /** Where the fleet gauges of {@code /metrics} come from: one read per source and scrape. */
  private FleetGauges.Sources fleetSources(AppStatusService apps, RolloutReads rollouts) {
    return new FleetGauges.Sources(
        () ->
            devices.list(Optional.empty()).stream()
                .map(v -> new FleetGauges.Device(v.status().name(), v.tags()))
                .toList(),
        rollouts::countByState,
        () ->
            apps.summary().stream()
                .flatMap(
                    a ->
                        Stream.of(
                            new FleetGauges.AppCount(a.app(), "READY", a.ready()),
                            new FleetGauges.AppCount(a.app(), "FAILED", a.failed()),
                            new FleetGauges.AppCount(a.app(), "PENDING", a.pending()),
                            new FleetGauges.AppCount(
                                a.app(), "PENDING_OFFLINE", a.pendingOffline())))
                .toList(),
        () ->
            alerts.firingCounts().stream()
                .map(c -> new FleetGauges.AlertCount(c.rule(), c.severity(), c.firing()))
                .toList());
  }

  public Database database() {
    return database;
  }

  public Path cliConfig() {
    return config.dataDir().toAbsolutePath().resolve("cli-config.json");
  }

  private void checkpointAudit() {
    try {
      audit.checkpointIfDue();
    } catch (RuntimeException e) {
      LOG.warn("the audit log could not be checkpointed: {}", e.toString());
    }
  }

  @Override
  public void close() {
    auditSinks.close();
    alertScheduler.shutdownNow();
    try {
      // A tick under way finishes before the database closes; deliveries stop in alerts.close().
      alertScheduler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    alerts.close();
    eventScheduler.shutdownNow();
    try {
      // A delete in progress finishes before the database closes.
      eventScheduler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    scheduler.shutdownNow();
    trust.close();
    gitops.close();
    clusterEngine.close();
    clusterImports.close();
    desired.close();
    agentSlots.close();
    artifactReports.close();
    siteCaches.close();
    if (kube != null) {
      kube.close();
    }
    leadership.close();
    replicaNudges.close();
    if (database.kind() == Database.Kind.POSTGRESQL) {
      replicaDirectory.leave();
    }
    sessionRouting.close();
    connections.closeAll();
    streams.close();
    http.close();
    tunnels.close();
    presence.flush();
    database.close();
  }

  /** Trusts the CA the replicas share, for the connections between them. */
  private static javax.net.ssl.SSLContext replicaTls(Path dataDir) {
    try {
      return TrustedCas.sslContext(dataDir.resolve("pki").resolve("ca.crt"));
    } catch (java.io.IOException | java.security.GeneralSecurityException e) {
      throw new IllegalStateException("cannot read the controller's CA certificate", e);
    }
  }

  private static String hostName() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      return "localhost";
    }
  }

  /** Whether this replica runs the jobs that must run once (always on SQLite). */
  public boolean leader() {
    return leadership.leader();
  }

  /**
   * Every URL of this controller for the devices' documents when it has several, else none (the
   * bootstrap file's URL serves): the advertised one first, then the others.
   */
  private List<String> controllerUrls(String advertised) {
    if (config.moreUrls().isEmpty()) {
      return List.of();
    }
    LinkedHashSet<String> all = new LinkedHashSet<>();
    if (!advertised.isBlank()) {
      all.add(advertised);
    }
    all.addAll(config.moreUrls());
    return List.copyOf(all);
  }

  private ApiRoutes.Info info(String url) {
    return new ApiRoutes.Info(
        VERSION,
        url,
        pki.caFingerprint(),
        (int) config.heartbeat().toSeconds(),
        database.kind().name().toLowerCase(java.util.Locale.ROOT),
        config.moreUrls());
  }

  private void writeCliConfig(Path dataDir) {
    adminToken()
        .ifPresent(
            token ->
                SecureFiles.writeSecret(
                    cliConfig(),
                    Json.pretty(
                            Map.of(
                                "server",
                                url,
                                "token",
                                token,
                                "caFingerprint",
                                pki.caFingerprint()))
                        + "\n"));
  }

  private static String defaultUrl(ControllerConfig config, int port) {
    String host = config.listenHost();
    if (host.equals("0.0.0.0") || host.equals("::") || host.isBlank()) {
      // Devices elsewhere can rarely resolve this machine's host name; its address they can use.
      host = primaryAddress().orElseGet(Controller::hostname);
    }
    String h = host.contains(":") ? "[" + host + "]" : host;
    return "https://" + h + ":" + port;
  }

  private static Set<String> serverNames(ControllerConfig config) {
    Set<String> names = new LinkedHashSet<>();
    names.add("localhost");
    names.add("127.0.0.1");
    names.add("::1");
    names.add(hostname());
    String host = config.listenHost();
    if (!host.isBlank() && !host.equals("0.0.0.0") && !host.equals("::")) {
      names.add(host);
    } else {
      try {
        for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
          for (InetAddress a : Collections.list(nif.getInetAddresses())) {
            if (!a.isLinkLocalAddress()) {
              names.add(a.getHostAddress().replaceAll("%.*$", ""));
            }
          }
        }
      } catch (SocketException e) {
        LOG.debug("cannot list interfaces: {}", e.toString());
      }
    }
    config
        .advertiseUrl()
        .map(u -> URI.create(u).getHost())
        .ifPresent(h -> names.add(h.replaceAll("^\\[|\\]$", "")));
    config
        .replicaUrl()
        .map(u -> URI.create(u).getHost())
        .ifPresent(h -> names.add(h.replaceAll("^\\[|\\]$", "")));
    names.addAll(config.tlsNames());
    return names;
  }

  /** The first IPv4 address of an interface that is up and neither loopback nor link-local. */
  private static Optional<String> primaryAddress() {
    try {
      for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        if (!nif.isUp() || nif.isLoopback()) {
          continue;
        }
        for (InetAddress a : Collections.list(nif.getInetAddresses())) {
          if (a instanceof java.net.Inet4Address && !a.isLinkLocalAddress()) {
            return Optional.of(a.getHostAddress());
          }
        }
      }
    } catch (SocketException e) {
      LOG.debug("cannot list interfaces: {}", e.toString());
    }
    return Optional.empty();
  }

  private static String hostname() {
    try {
      return InetAddress.getLocalHost().getHostName().toLowerCase(java.util.Locale.ROOT);
    } catch (IOException e) {
      return "localhost";
    }
  }

  private static byte[] openApiJson() {
    try (InputStream in = Controller.class.getResourceAsStream("/openapi.yaml")) {
      if (in == null) {
        throw new IllegalStateException("openapi.yaml missing from the controller jar");
      }
      Object doc = new ObjectMapper(new YAMLFactory()).readValue(in, Object.class);
      return Json.writeBytes(doc);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read openapi.yaml", e);
    }
  }
}
