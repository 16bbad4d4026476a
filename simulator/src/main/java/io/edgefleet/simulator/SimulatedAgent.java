package io.edgefleet.simulator;

import io.edgefleet.device.link.ControllerLink;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.DeviceApi;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.time.Instant;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A virtual device's agent as device software: two slots, the release its desired state names
 * downloaded through the artifacts route in {@link #CHUNK} ranges (digest checked as the bytes
 * pass, nothing kept), its signature verified against the release keys of the enrollment answer,
 * then staged, switched to with a restart (a reconnect whose hello carries the new version) and
 * confirmed, or rolled back at the simulator's {@code --agent-update-fail-rate}. Every step is
 * reported as {@link AgentMessage.AgentSlots}. Called holding the device's monitor; its network
 * completions take it again.
 */
final class SimulatedAgent {
  /** The agent version a simulated device starts with (in slot a). */
  static final String INITIAL_VERSION = "0.1.0-sim";

  /** Bytes asked for per range request: the most a device holds of a release at once. */
  static final int CHUNK = 1024 * 1024;

  private final Simulator sim;
  private final VirtualDevice device;
  private final SimulatedLink net;

  private String active = "a";
  private String slotA = INITIAL_VERSION;
  private String slotB;
  private AgentMessage.AgentUpdate update;

  /** The release being downloaded or tried, or null. */
  private AgentRelease pending;

  /** The switched-to release awaiting its trial on the next connection, or null. */
  private AgentRelease trial;

  /** The release the latest document named, or null. */
  private AgentRelease named;

  SimulatedAgent(Simulator sim, VirtualDevice device, SimulatedLink net) {
    this.sim = sim;
    this.device = device;
    this.net = net;
  }

  /** The version the device's hello carries. */
  String version() {
    return "a".equals(active) ? slotA : slotB;
  }

  /** A new connection: the controller hears the slots; a release on trial proves itself. */
  void connected(ControllerLink link) {
    if (trial != null) {
      AgentRelease t = trial;
      trial = null;
      pending = null;
      if (ThreadLocalRandom.current().nextDouble() < sim.options.agentUpdateFailRate()) {
        // The new agent did not prove itself: the previous slot comes back.
        active = "a".equals(active) ? "b" : "a";
        sim.stats.agentRollbacks.increment();
        update =
            phase(
                t,
                AgentMessage.AgentUpdate.ROLLED_BACK,
                "the new agent did not prove itself within its trial window (simulated failure);"
                    + " the previous slot runs again",
                t.size());
      } else {
        sim.stats.agentUpdates.increment();
        update = phase(t, AgentMessage.AgentUpdate.CONFIRMED, null, t.size());
      }
    }
    link.send(slots());
    if (trial == null && pending == null && named != null) {
      // A download cut by the lost connection starts again.
      desired(named);
    }
  }

  /** The desired state names {@code release} (or none): start its update if it is new. */
  void desired(AgentRelease release) {
    named = release;
    if (release == null || release.version().equals(version()) || pending != null) {
      return;
    }
    if (update != null
        && update.version().equals(release.version())
        && (AgentMessage.AgentUpdate.ROLLED_BACK.equals(update.phase())
            || AgentMessage.AgentUpdate.REFUSED.equals(update.phase()))) {
      // A release that failed here is not tried again until another one is named.
      return;
    }
    PublicKey key = sim.releaseKey(release.keyId());
    if (key == null || !release.signedBy(key)) {
      sim.stats.agentRefusals.increment();
      update =
          phase(
              release,
              AgentMessage.AgentUpdate.REFUSED,
              key == null
                  ? "release key " + release.keyId() + " is not trusted by this device"
                  : "the release's signature does not verify",
              0);
      send();
      return;
    }
    pending = release;
    update = phase(release, AgentMessage.AgentUpdate.DOWNLOADING, null, 0);
    send();
    MessageDigest sha = sha256();
    CompletableFuture<Void> downloaded = new CompletableFuture<>();
    // At most Simulator.DOWNLOADS devices download at once, as the simulator's memory is bounded.
    sim.downloads.submit(
        done ->
            download(release, sha, 0)
                .whenComplete(
                    (v, err) -> {
                      done.run();
                      if (err != null) {
                        downloaded.completeExceptionally(err);
                      } else {
                        downloaded.complete(null);
                      }
                    }));
    downloaded.whenComplete(
        (v, err) -> {
          synchronized (device) {
            if (device.stopped() || pending != release) {
              return;
            }
            if (err != null) {
              // A cut download starts again with the next document or connection.
              pending = null;
              update = null;
              sim.stats.lastError = "agent download: " + err.getMessage();
              return;
            }
            String digest = "sha256:" + HexFormat.of().formatHex(sha.digest());
            if (!digest.equals(release.digest())) {
              pending = null;
              sim.stats.agentRefusals.increment();
              update =
                  phase(
                      release,
                      AgentMessage.AgentUpdate.REFUSED,
                      "the downloaded release has digest "
                          + digest
                          + ", not the signed "
                          + release.digest(),
                      release.size());
              send();
              return;
            }
            stageAndSwitch(release);
          }
        });
  }

  private void stageAndSwitch(AgentRelease release) {
    if ("a".equals(active)) {
      slotB = release.version();
    } else {
      slotA = release.version();
    }
    update = phase(release, AgentMessage.AgentUpdate.STAGED, null, release.size());
    send();
    active = "a".equals(active) ? "b" : "a";
    trial = release;
    update = phase(release, AgentMessage.AgentUpdate.TRIAL, null, release.size());
    // The agent restarts into the new slot: the connection closes, the next hello says so.
    device.restart();
  }

  /** Fetches the release from {@code from} on, range by range, through {@code sha}. */
  private CompletableFuture<Void> download(AgentRelease release, MessageDigest sha, long from) {
    if (from >= release.size()) {
      return CompletableFuture.completedFuture(null);
    }
    long to = Math.min(release.size(), from + CHUNK) - 1;
    return net.http(
            "GET",
            DeviceApi.ARTIFACTS + release.digest(),
            null,
            true,
            "Range: bytes=" + from + "-" + to + "\r\n")
        .thenCompose(
            r -> {
              if (r.status() != 206 && r.status() != 200) {
                return CompletableFuture.failedFuture(
                    new IOException("artifact " + release.digest() + ": HTTP " + r.status()));
              }
              byte[] body = r.body();
              long expected = to - from + 1;
              if (r.status() == 200 || body.length != expected) {
                return CompletableFuture.failedFuture(
                    new IOException(
                        "artifact "
                            + release.digest()
                            + ": asked for "
                            + expected
                            + " bytes from "
                            + from
                            + ", got "
                            + body.length
                            + " (HTTP "
                            + r.status()
                            + ")"));
              }
              sha.update(body);
              sim.stats.agentBytes.add(body.length);
              return download(release, sha, to + 1);
            });
  }

  private AgentMessage.AgentUpdate phase(
      AgentRelease release, String phase, String reason, long bytes) {
    return new AgentMessage.AgentUpdate(
        release.version(), phase, reason, bytes, release.size(), Instant.now());
  }

  private AgentMessage.AgentSlots slots() {
    return new AgentMessage.AgentSlots(active, slotA, slotB, update);
  }

  private void send() {
    ControllerLink link = device.link();
    if (link != null) {
      link.send(slots());
    }
  }

  /** The last update's phase, or null. */
  String phase() {
    return update == null ? null : update.phase();
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
