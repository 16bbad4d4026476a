package io.edgefleet.simulator;

import io.edgefleet.device.desiredstate.DesiredStateCheck;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.device.link.ControllerLink;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Gzip;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A virtual device's desired state and the apps it "runs": documents pulled or pushed with a nudge,
 * verified with the device core's own checks, bundles fetched (or taken inline) and checked against
 * their digests, and each new revision reported READY, or FAILED at the configured rate, with no
 * workload behind it. Called holding the device's monitor; its network completions take it again.
 */
final class SimulatedApps {
  private final Simulator sim;
  private final VirtualDevice device;
  private final SimulatedLink net;

  volatile long generation;
  volatile List<AppState> report = List.of();
  private List<DesiredState.DesiredApp> apps = List.of();

  /**
   * The signing keys this device trusts (shared with devices that trust the same); null: initial.
   */
  private TrustedKeys trusted;

  private boolean fetching;
  private boolean fetchAgain;

  SimulatedApps(Simulator sim, VirtualDevice device, SimulatedLink net) {
    this.sim = sim;
    this.device = device;
    this.net = net;
  }

  /** A new connection: the controller hears what runs here. */
  void connected(ControllerLink link, ControllerMessage.Welcome welcome) {
    if (!report.isEmpty()) {
      link.send(report());
    }
    // A controller that read our generation in the hello sends a newer document on this socket.
    if (!welcome.catchUp() && welcome.generation() != generation) {
      fetch();
    }
  }

  /** A nudge: the document it carries, or a fetch. */
  void nudged(ControllerMessage.Nudge n) {
    if (n.generation() <= generation) {
      return;
    }
    if (n.desired() != null) {
      acceptPushed(n);
    } else {
      fetch();
    }
  }

  private AgentMessage.AppReport report() {
    return new AgentMessage.AppReport(generation, report, trustedIds());
  }

  private void fetch() {
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    fetchAgain = false;
    sim.stats.desiredFetches.increment();
    long held = generation;
    finish(
        net.http("GET", DeviceApi.DESIRED + "?known=" + held, null, true)
            .thenCompose(this::verifyAndFetchBundles));
  }

  /** Applies what a fetch or a pushed document gave, or retries later while connected. */
  private void finish(CompletableFuture<Verified> outcome) {
    outcome.whenComplete(
        (v, err) -> {
          synchronized (device) {
            fetching = false;
            if (device.stopped()) {
              return;
            }
            if (err != null) {
              sim.stats.fetchFailures.increment();
              sim.stats.lastError = "desired state: " + rootMessage(err);
              ControllerLink link = device.link();
              if (link != null) {
                // Retry while connected; a reconnect asks again anyway.
                sim.scheduler.schedule(
                    () -> {
                      synchronized (device) {
                        if (device.link() == link) {
                          fetch();
                        }
                      }
                    },
                    5000 + ThreadLocalRandom.current().nextLong(10_000),
                    TimeUnit.MILLISECONDS);
              }
            } else if (v != null) {
              apply(v);
            }
            if (fetchAgain) {
              fetch();
            }
          }
        });
  }

  /** Takes the document a nudge carried; while a fetch runs, the nudge waits for it. */
  private void acceptPushed(ControllerMessage.Nudge n) {
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    fetchAgain = false;
    sim.stats.pushedDocuments.increment();
    finish(verifyAndFetchBundles(n.desired(), n.bundles()));
  }

  /** Verifies the document (the device core's check) and fetches bundles this device lacks. */
  private CompletableFuture<Verified> verifyAndFetchBundles(Wire.Response resp) {
    if (resp.status() == 204) {
      return CompletableFuture.completedFuture(null);
    }
    if (resp.status() != 200) {
      return CompletableFuture.failedFuture(new IOException("HTTP " + resp.status()));
    }
    SignedDesiredState doc;
    try {
      doc = Json.mapper().readValue(resp.body(), SignedDesiredState.class);
    } catch (Exception e) {
      return CompletableFuture.failedFuture(e);
    }
    return verifyAndFetchBundles(doc, Map.of());
  }

  /**
   * Verifies a document (fetched, or pushed with its nudge) and stores the bundles this device
   * lacks: from {@code inline} (digest → base64 gzip) when they came with it, else fetched.
   */
  private CompletableFuture<Verified> verifyAndFetchBundles(
      SignedDesiredState doc, Map<String, String> inline) {
    Verified verified;
    List<DesiredState.DesiredApp> held;
    try {
      long heldGeneration;
      TrustedKeys keys;
      synchronized (device) {
        heldGeneration = generation;
        keys = trusted != null ? trusted : sim.initialTrust();
        held = apps;
      }
      verified = DesiredStateCheck.verify(doc, keys, device.deviceId, heldGeneration);
    } catch (Refused r) {
      sim.stats.refusedDocuments.increment();
      return CompletableFuture.failedFuture(new IOException(r.getMessage()));
    } catch (Exception e) {
      return CompletableFuture.failedFuture(e);
    }
    CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
    for (DesiredState.DesiredApp app : verified.state().apps()) {
      if (held.stream().anyMatch(h -> h.bundle().equals(app.bundle()))) {
        continue;
      }
      byte[] pushed =
          ControllerMessage.Nudge.inlineBundle(inline, app.bundle(), Wire.MAX_RESPONSE_BYTES);
      if (pushed != null) {
        try {
          storeBundle(app.bundle(), pushed);
        } catch (Exception e) {
          return CompletableFuture.failedFuture(e);
        }
        sim.stats.inlineBundles.increment();
        continue;
      }
      chain = chain.thenCompose(x -> fetchBundle(app.bundle()));
    }
    return chain.thenApply(x -> verified);
  }

  /** Checks a bundle's content against its digest, as the agent does before storing it. */
  private void storeBundle(String digest, byte[] content) throws IOException {
    try {
      DesiredStateCheck.checkBundle(digest, content);
    } catch (Refused r) {
      sim.stats.refusedDocuments.increment();
      throw new IOException(r.getMessage());
    }
    sim.stats.bundleBytes.add(content.length);
  }

  private CompletableFuture<Void> fetchBundle(String digest) {
    sim.stats.bundleFetches.increment();
    return net.http("GET", DeviceApi.BUNDLES + digest, null, true)
        .thenCompose(
            b -> {
              try {
                if (b.status() != 200) {
                  throw new IOException("bundle " + digest + ": HTTP " + b.status());
                }
                byte[] content =
                    b.header("content-encoding").equalsIgnoreCase("gzip")
                        ? Gzip.inflate(b.body(), Wire.MAX_RESPONSE_BYTES)
                        : b.body();
                storeBundle(digest, content);
                return CompletableFuture.<Void>completedFuture(null);
              } catch (Exception e) {
                return CompletableFuture.<Void>failedFuture(e);
              }
            });
  }

  /** "Applies" a verified document: each new revision becomes READY, or FAILED at the set rate. */
  private void apply(Verified verified) {
    DesiredState state = verified.state();
    if (state.generation() <= generation) {
      return;
    }
    // As the agent: what is trusted changes only with a document taken.
    trusted = sim.trusting(verified.trustAfter());
    List<AppState> next = new ArrayList<>(state.apps().size());
    for (DesiredState.DesiredApp app : state.apps()) {
      AppState before =
          report.stream()
              .filter(a -> a.name().equals(app.name()) && a.revision().equals(app.revision()))
              .findFirst()
              .orElse(null);
      if (before != null) {
        next.add(before);
      } else if (ThreadLocalRandom.current().nextDouble() < sim.options.applyFailRate()) {
        sim.stats.failedApplies.increment();
        next.add(
            new AppState(
                app.name(), app.revision(), AppState.Phase.FAILED, "simulated apply failure"));
      } else {
        next.add(new AppState(app.name(), app.revision(), AppState.Phase.READY, null));
      }
    }
    generation = state.generation();
    apps = state.apps();
    report = List.copyOf(next);
    ControllerLink link = device.link();
    if (link != null) {
      link.send(report());
    }
    device.k3s().desired(state.generation(), state.cluster());
    device.agent().desired(state.agent());
  }

  /** The key ids this device reports it trusts; none before it took a document. */
  private List<String> trustedIds() {
    return trusted == null ? List.of() : trusted.ids();
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
