package io.edgefleet.agent;

import io.edgefleet.agent.secrets.SecretSync;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * What the controller's verdict on this device's trust changes on the node. Quarantined: every
 * secret is deleted, apps not marked {@code keepInQuarantine} are stopped (removed), the others
 * keep running as they were, and newer documents are stored but not applied. Trusted again: the
 * document in effect is applied and its secrets fetched afresh. {@code UNVERIFIED} changes nothing.
 * A quarantine outlives a restart of the agent: it is recorded in {@value #FILE} in the state
 * directory until the device is trusted again, so a node that reboots offline does not start the
 * stopped apps again. Thread-safe.
 */
final class TrustGuard {

  /** Where the verdict takes effect. */
  interface Effects {
    /** Runs a reconcile pass over {@link #effective()} soon. */
    void reconcile();

    /** An event for the controller. */
    void event(String kind, String severity, String message);
  }

  static final String FILE = "quarantine.json";

  private final Path file;
  private final Supplier<Optional<Verified>> current;
  private final SecretSync secrets;
  private final Effects effects;

  private volatile boolean quarantined;

  /** The document in effect while quarantined: the one held then, with the apps it keeps. */
  private volatile Verified frozen;

  /** Whether {@link #frozen} was taken (false after a restart until a document is there). */
  private boolean frozenTaken;

  TrustGuard(
      Path stateDir, Supplier<Optional<Verified>> current, SecretSync secrets, Effects effects) {
    this.file = stateDir.resolve(FILE);
    this.current = current;
    this.secrets = secrets;
    this.effects = effects;
    if (Files.exists(file)) {
      quarantined = true;
      secrets.quarantine();
    }
  }

  /** The document the runtime is to be kept at. */
  synchronized Optional<Verified> effective() {
    if (!quarantined) {
      return current.get();
    }
    if (!frozenTaken) {
      // Quarantined before a restart: what was in effect then is what is stored now.
      frozen = current.get().map(TrustGuard::keptInQuarantine).orElse(null);
      frozenTaken = frozen != null;
    }
    return Optional.ofNullable(frozen);
  }

  boolean quarantined() {
    return quarantined;
  }

  /** A document was taken: its secrets go to the node unless it is quarantined. */
  void applied(Verified v) {
    secrets.want(v.state());
  }

  synchronized void handle(ControllerMessage.TrustState verdict) {
    if (verdict.quarantined() && !quarantined) {
      frozen = current.get().map(TrustGuard::keptInQuarantine).orElse(null);
      frozenTaken = true;
      quarantined = true;
      SecureFiles.writeSecret(file, JsonCodec.write(verdict) + "\n");
      secrets.quarantine();
      effects.reconcile();
      effects.event(
          "quarantined",
          "error",
          "the controller quarantined this device"
              + (verdict.reason() == null ? "" : ": " + verdict.reason())
              + "; secrets deleted, apps not kept in quarantine stopped");
    } else if (ControllerMessage.TrustState.TRUSTED.equals(verdict.state()) && quarantined) {
      quarantined = false;
      frozen = null;
      frozenTaken = false;
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot delete " + file, e);
      }
      current.get().ifPresent(v -> secrets.want(v.state()));
      secrets.trusted();
      effects.reconcile();
      effects.event(
          "trusted", "info", "the controller trusts this device again; desired state re-applied");
    }
  }

  /** The document with only the apps that keep running in quarantine, and no secrets. */
  static Verified keptInQuarantine(Verified v) {
    DesiredState s = v.state();
    List<DesiredState.DesiredApp> kept =
        s.apps().stream().filter(DesiredState.DesiredApp::keepInQuarantine).toList();
    return new Verified(
        v.signed(),
        new DesiredState(
            s.deviceId(), s.generation(), s.issuedAt(), kept, s.signingKeys(), List.of()),
        v.signer(),
        v.trustAfter());
  }
}
