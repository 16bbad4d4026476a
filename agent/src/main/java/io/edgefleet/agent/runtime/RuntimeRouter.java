package io.edgefleet.agent.runtime;

import io.edgefleet.protocol.workload.WorkloadSpecException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The node's workload runtimes, one per kind ({@code kubernetes}, {@code container}, {@code vm}),
 * as one {@link WorkloadRuntime}. An apply goes to the runtime the app's documents belong to
 * ({@link WorkloadDocuments}); an app whose documents mix kinds, or name a kind this node has no
 * runtime for, fails with the reason. Removal, health and logs go to the runtime that holds the
 * app. When an app's documents move it to another kind, it is removed from the runtime that held it
 * once the new runtime has applied it, so it keeps running while, say, its image downloads.
 *
 * <p>Thread-safe: calls for one app are serialized here, and the runtimes serialize their own.
 */
public final class RuntimeRouter implements WorkloadRuntime {
  private final Map<String, WorkloadRuntime> runtimes;
  private final String fallback;

  /** Which runtime holds an app, as learned from applies and listings. */
  private final Map<String, String> owners = new ConcurrentHashMap<>();

  /** The log sources each app's runtime listed last, to send {@link #readLogs} to it. */
  private final Map<String, List<LogSource>> sources = new ConcurrentHashMap<>();

  private final Object[] locks = new Object[64];

  /**
   * @param runtimes the runtimes by kind (at least one); the first one is the one documents no
   *     runtime can read are sent to (Kubernetes where present, whose errors name the document)
   */
  public RuntimeRouter(Map<String, WorkloadRuntime> runtimes) {
    if (runtimes.isEmpty()) {
      throw new IllegalArgumentException("a router needs at least one runtime");
    }
    this.runtimes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(runtimes));
    this.fallback = this.runtimes.keySet().iterator().next();
    for (int i = 0; i < locks.length; i++) {
      locks[i] = new Object();
    }
  }

  /** The kinds this node runs, in the order given. */
  @Override
  public List<String> workloadKinds() {
    return List.copyOf(runtimes.keySet());
  }

  /** The runtime of a kind, if this node has it. */
  public Optional<WorkloadRuntime> runtime(String kind) {
    return Optional.ofNullable(runtimes.get(kind));
  }

  private Object lock(String app) {
    return locks[Math.floorMod(app.hashCode(), locks.length)];
  }

  @Override
  public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
    String kind;
    try {
      kind = WorkloadDocuments.read(manifestsYaml).runtime();
    } catch (WorkloadDocuments.UnreadableYaml e) {
      // No runtime can read it; the one holding the app (or the default) says what is wrong.
      kind = Optional.ofNullable(owners.get(app)).orElse(fallback);
    } catch (WorkloadSpecException e) {
      return new ApplyOutcome.Failed("the app's workloads are invalid: " + e.getMessage());
    }
    WorkloadRuntime target = runtimes.get(kind);
    if (target == null) {
      return new ApplyOutcome.Failed(
          "the app holds "
              + describe(kind)
              + " but this node has no "
              + kind
              + " runtime (it runs "
              + String.join(", ", runtimes.keySet())
              + ")");
    }
    synchronized (lock(app)) {
      ApplyOutcome outcome = target.apply(app, revision, manifestsYaml);
      if (outcome instanceof ApplyOutcome.Applied || outcome instanceof ApplyOutcome.InSync) {
        String before = owners.put(app, kind);
        if (!kind.equals(before)) {
          ApplyOutcome moved = removeFromOthers(app, kind, before);
          if (moved instanceof ApplyOutcome.Failed || moved instanceof ApplyOutcome.RetryAfter) {
            // The next apply looks again at every other runtime.
            owners.remove(app);
            return moved;
          }
        }
      }
      return outcome;
    }
  }

  /**
   * Removes {@code app} from every runtime but {@code kind} that holds it: the one that held it
   * before, or, when that is not known (the agent restarted), any that lists it.
   */
  private ApplyOutcome removeFromOthers(String app, String kind, String before) {
    ApplyOutcome result = new ApplyOutcome.InSync();
    for (Map.Entry<String, WorkloadRuntime> e : runtimes.entrySet()) {
      if (e.getKey().equals(kind) || (before != null && !e.getKey().equals(before))) {
        continue;
      }
      try {
        if (before == null && !e.getValue().ownedApps().contains(app)) {
          continue;
        }
      } catch (RuntimeUnavailableException unavailable) {
        result =
            new ApplyOutcome.RetryAfter(
                unavailable.retryAfter() == null
                    ? Duration.ofSeconds(10)
                    : unavailable.retryAfter(),
                "the "
                    + e.getKey()
                    + " runtime cannot be asked whether it still holds the app: "
                    + unavailable.getMessage());
        continue;
      }
      ApplyOutcome removed = e.getValue().remove(app);
      switch (removed) {
        case ApplyOutcome.Failed f ->
            result =
                new ApplyOutcome.Failed(
                    "the app moved to the "
                        + kind
                        + " runtime but cannot be removed from the "
                        + e.getKey()
                        + " runtime: "
                        + f.reason());
        case ApplyOutcome.RetryAfter r -> result = r;
        default -> {}
      }
    }
    return result;
  }

  private static String describe(String kind) {
    return switch (kind) {
      case "container" -> "edgefleet.io/v1 Container workloads";
      case "vm" -> "edgefleet.io/v1 VirtualMachine workloads";
      default -> "Kubernetes objects";
    };
  }

  /** Removes the app from every runtime (idempotent): changes summed, the worst outcome kept. */
  @Override
  public ApplyOutcome remove(String app) {
    synchronized (lock(app)) {
      int pruned = 0;
      boolean changed = false;
      ApplyOutcome problem = null;
      for (WorkloadRuntime r : runtimes.values()) {
        switch (r.remove(app)) {
          case ApplyOutcome.Applied a -> {
            changed = true;
            pruned += a.pruned();
          }
          case ApplyOutcome.InSync s -> {}
          case ApplyOutcome.Failed f -> problem = f;
          case ApplyOutcome.RetryAfter t -> {
            if (!(problem instanceof ApplyOutcome.Failed)) {
              problem = t;
            }
          }
        }
      }
      if (problem != null) {
        return problem;
      }
      owners.remove(app);
      sources.remove(app);
      return changed ? new ApplyOutcome.Applied(0, pruned) : new ApplyOutcome.InSync();
    }
  }

  /** The runtime that holds the app: as last seen, else the first that lists it, else default. */
  private WorkloadRuntime owner(String app) {
    String kind = owners.get(app);
    if (kind != null) {
      return runtimes.get(kind);
    }
    for (Map.Entry<String, WorkloadRuntime> e : runtimes.entrySet()) {
      if (e.getValue().ownedApps().contains(app)) {
        owners.put(app, e.getKey());
        return e.getValue();
      }
    }
    return runtimes.get(fallback);
  }

  @Override
  public AppHealth health(String app) {
    return owner(app).health(app);
  }

  /**
   * The apps of every runtime that answers; a runtime that cannot be asked lists none (so nothing
   * of it is removed on a guess), unless none can be asked.
   */
  @Override
  public Set<String> ownedApps() {
    Set<String> apps = new TreeSet<>();
    RuntimeUnavailableException last = null;
    int answered = 0;
    for (Map.Entry<String, WorkloadRuntime> e : runtimes.entrySet()) {
      try {
        for (String app : e.getValue().ownedApps()) {
          apps.add(app);
          owners.putIfAbsent(app, e.getKey());
        }
        answered++;
      } catch (RuntimeUnavailableException u) {
        last = u;
      }
    }
    if (answered == 0 && last != null) {
      throw last;
    }
    return apps;
  }

  @Override
  public Optional<Cluster> cluster() {
    return runtime("kubernetes").flatMap(WorkloadRuntime::cluster);
  }

  @Override
  public Optional<SecretStore> secrets() {
    return runtime("kubernetes").flatMap(WorkloadRuntime::secrets);
  }

  @Override
  public List<LogSource> logSources(String app) {
    List<LogSource> listed = owner(app).logSources(app);
    sources.put(app, List.copyOf(listed));
    return listed;
  }

  @Override
  public LogStream readLogs(LogSource source, LogQuery query, LogSink sink) {
    for (Map.Entry<String, List<LogSource>> e : sources.entrySet()) {
      if (e.getValue().contains(source)) {
        return owner(e.getKey()).readLogs(source, query, sink);
      }
    }
    return runtimes.get(fallback).readLogs(source, query, sink);
  }

  @Override
  public void close() {
    List<RuntimeException> errors = new ArrayList<>();
    for (WorkloadRuntime r : runtimes.values()) {
      try {
        r.close();
      } catch (RuntimeException e) {
        errors.add(e);
      }
    }
    if (!errors.isEmpty()) {
      RuntimeException first = errors.get(0);
      errors.subList(1, errors.size()).forEach(first::addSuppressed);
      throw first;
    }
  }
}
