// The JSON shapes of the controller's API (see controller/src/main/resources/openapi.yaml).

export type Tags = Record<string, string>;
export type DeviceStatus = 'PENDING' | 'NEVER_SEEN' | 'ONLINE' | 'DEGRADED' | 'ERROR' | 'OFFLINE' | 'REJECTED' | 'DECOMMISSIONED';
export const STATUSES: DeviceStatus[] = ['ONLINE', 'DEGRADED', 'ERROR', 'OFFLINE', 'NEVER_SEEN', 'PENDING', 'REJECTED', 'DECOMMISSIONED'];

export interface DeviceFacts {
  hostname?: string;
  serial?: string;
  macs?: string[];
  arch?: string;
  cpus?: number;
  memoryBytes?: number;
  diskBytes?: number;
  os?: string;
  osVersion?: string;
  agentVersion?: string;
  k3s?: boolean;
  kubelet?: boolean;
  kubernetesVersion?: string;
}

export interface Device {
  id: string;
  name: string;
  serial?: string;
  tags: Tags;
  status: DeviceStatus;
  statusReason?: string;
  statusSince?: string;
  lastSeen?: string;
  agentVersion?: string;
  facts?: DeviceFacts;
  enrollmentCode?: string;
  createdAt?: string;
  enrolledAt?: string;
  certificateExpiresAt?: string;
  identity?: Identity;
  trust?: DeviceTrust;
}

export type Identity = 'software' | 'tpm';
export type TrustState = 'TRUSTED' | 'QUARANTINED' | 'UNVERIFIED';

export interface DeviceTrust {
  identity: Identity;
  state: TrustState;
  reason?: string;
  since?: string;
  lastAttested?: string;
}

export interface BootEvent {
  index?: number;
  type?: string;
  sha256?: string;
  description?: string;
}

export interface Attestation {
  deviceId: string;
  identity: Identity;
  state: TrustState;
  reason?: string;
  since?: string;
  ekIssuer?: string;
  akName?: string;
  lastAttested?: string;
  referenceOrigin?: string;
  referenceAt?: string;
  pcrs: { index: number; reference?: string; current?: string; differs?: boolean }[];
  events: { pcr: number; index: number; change: 'changed' | 'added' | 'removed'; reference?: BootEvent; current?: BootEvent }[];
}

export interface DevicePage {
  items: Device[];
  next?: string;
  total?: number;
}

export interface FleetCounts {
  total: number;
  online: number;
  degraded: number;
  error: number;
  offline: number;
  neverSeen: number;
  pending: number;
  rejected: number;
  decommissioned: number;
  enrolled: number;
  operational: number;
  operationalPercent: number;
  updating: number;
  maintenance: number;
  trusted?: number;
  quarantined?: number;
  offlineSince?: string;
  sentence: string;
}

export interface FleetSummary extends FleetCounts {
  selector?: string;
  by?: string;
  groups?: (FleetCounts & { value?: string })[];
}

export interface DeviceApp {
  deviceId: string;
  deviceName: string;
  app: string;
  source?: string;
  desiredRevision?: string;
  desiredCommit?: string;
  runningRevision?: string;
  readyRevision?: string;
  state: string;
  reason?: string;
  desiredSince?: string;
  reportedAt?: string;
  drift?: { at: string; message: string };
}

export interface FleetEvent {
  id: string;
  at: string;
  recordedAt?: string;
  source: string;
  kind: string;
  severity: 'info' | 'warning' | 'error';
  deviceId?: string;
  app?: string;
  rolloutId?: string;
  message: string;
}

export interface MetricStat {
  min: number;
  max: number;
  mean: number;
  last: number;
  count: number;
}

export interface MetricSummary {
  seq?: number;
  from: string;
  at: string;
  metrics: Record<string, MetricStat>;
  partial?: boolean;
}

export interface DeviceMetrics {
  deviceId: string;
  latest?: MetricSummary;
  summaries: MetricSummary[];
}

export interface RolloutCounts {
  targeted?: number;
  updated?: number;
  ready?: number;
  failed?: number;
  pending?: number;
  pendingOffline?: number;
  outsideWindow?: number;
  neverSeen?: number;
}

export interface RolloutSummary {
  id: string;
  app: string;
  source?: string;
  fromRevision?: string;
  toRevision?: string;
  state: string;
  batch?: number;
  batches?: number;
  reason?: string;
  createdBy?: string;
  createdAt?: string;
  updatedAt?: string;
  finishedAt?: string;
}

export interface RolloutBatch {
  index: number;
  name?: string;
  state: string;
  counts?: RolloutCounts;
  successThreshold?: number;
  failureThreshold?: number;
  soak?: string;
  progressDeadline?: string;
  startedAt?: string;
  soakUntil?: string;
  finishedAt?: string;
  reason?: string;
}

export interface Rollout extends Omit<RolloutSummary, 'batches'> {
  policy?: string;
  policySummary?: string;
  counts?: RolloutCounts;
  batches?: RolloutBatch[];
  devices?: { deviceId: string; deviceName?: string; batch?: number; state: string; runningRevision?: string; reason?: string }[];
  events?: { seq: number; at: string; kind: string; batch?: number; message: string }[];
}

export interface Alert {
  fingerprint: string;
  rule: string;
  type: string;
  severity: string;
  state: 'PENDING' | 'FIRING' | 'RESOLVED';
  subject: string;
  deviceId?: string;
  summary?: string;
  description?: string;
  since?: string;
  firedAt?: string;
  resolvedAt?: string;
  delivery?: { pending?: number; sent?: number; failed?: number; lastError?: string };
}

export interface Items<T> {
  items: T[];
}

export interface EventPageT {
  items: FleetEvent[];
  next?: string;
  more?: boolean;
}

export interface GitSource {
  name: string;
  url: string;
  branch?: string;
  path?: string;
  interval?: string;
  auth?: string;
  target?: string;
  lastCommit?: { sha: string; author?: string; message?: string; committedAt?: string };
  lastPolledAt?: string;
  lastError?: string;
  apps?: string[];
  revisions?: { app: string; revision?: string; commit?: string; error?: string }[];
  createdAt?: string;
  rollout?: string;
}

export interface CommitApp {
  app: string;
  change: 'ADDED' | 'CHANGED' | 'REMOVED' | 'REFUSED';
  error?: string;
  revision?: string;
  added?: string[];
  changed?: string[];
  removed?: string[];
  diff?: string;
}

export interface Commit {
  source: string;
  sha: string;
  author?: string;
  message?: string;
  committedAt?: string;
  recordedAt?: string;
  status?: string;
  state?: string;
  devices?: { rendered?: number; delivered?: number; ready?: number; failed?: number };
  error?: string;
  apps?: CommitApp[];
}

export interface AppSummary {
  app: string;
  source?: string;
  devices?: number;
  ready?: number;
  failed?: number;
  pending?: number;
  pendingOffline?: number;
}

export interface CatalogAppSummary {
  name: string;
  description?: string;
  latestVersion?: string;
  versions?: number;
  kind?: string;
  updatedAt?: string;
}

export interface CatalogVersion {
  name: string;
  version: string;
  kind?: string;
  digest?: string;
  size?: number;
  files?: number;
  description?: string;
  createdAt?: string;
  createdBy?: string;
}

export interface CatalogApp extends Omit<CatalogAppSummary, 'versions'> {
  createdAt?: string;
  versions: CatalogVersion[];
}

export interface Deployment {
  name: string;
  app: string;
  version: string;
  revision?: string;
  target?: string;
  values?: Record<string, unknown>;
  rollout?: string;
  rolloutSummary?: string;
  latestRollout?: RolloutSummary;
  createdBy?: string;
  createdAt?: string;
  updatedAt?: string;
}

export interface DeploymentPlan {
  deployment?: string;
  app?: string;
  fromVersion?: string;
  version?: string;
  fromRevision?: string;
  revision?: string;
  target?: string;
  policy?: string;
  startsRollout?: boolean;
  activeDevices?: number;
  targeted?: number;
  changes?: { INSTALL?: number; UPDATE?: number; UNCHANGED?: number; FAILS?: number };
  batches?: { name: string; devices: number }[];
  configurations?: number;
  rendered?: number;
  problems?: { code: string; message: string; devices?: number; examples?: string[] }[];
  devices?: { device: string; name?: string; batch?: string; running?: string; action: string; problem?: string }[];
  devicesNotListed?: number;
}
