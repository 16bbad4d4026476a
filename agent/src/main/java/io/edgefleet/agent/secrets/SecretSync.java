package io.edgefleet.agent.secrets;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.agent.runtime.SecretStore;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.DeviceKeyAgreement;
import io.edgefleet.protocol.tls.SealedBox;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Keeps the node's secrets at what the desired state references: fetches each secret it does not
 * hold at that version (sealed to this device's key), opens it in memory with the device key's
 * {@link DeviceKeyAgreement}, writes it to the runtime's {@link SecretStore}, and deletes the
 * secrets it owns that are no longer referenced. While the device is quarantined it holds none.
 *
 * <p>Plaintext exists only in memory, for the time of one write: it is never stored by the agent,
 * logged, or put in an event (events name secrets and versions only). Passes run on the worker, one
 * at a time; a pass that could not finish is retried after {@code retry}. Thread-safe.
 */
public final class SecretSync {

  /** Fetches one secret sealed for this device. */
  @FunctionalInterface
  public interface Fetcher {
    /**
     * @throws IOException if the controller cannot be reached or refuses (the message says why)
     */
    DeviceSecret fetch(String name, long version) throws IOException;
  }

  /** Where the outcome goes: device events, without values. */
  @FunctionalInterface
  public interface Sink {
    void event(String kind, String severity, String message);
  }

  /** The state of one referenced secret, for the agent's status. */
  public record Status(String namespace, String name, long version, boolean held, String error) {}

  private static final Pattern NAME =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Pattern NAMESPACE = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final TypeReference<Map<String, String>> VALUES = new TypeReference<>() {};

  private final Optional<SecretStore> store;
  private final Supplier<String> deviceId;
  private final Supplier<DeviceKeyAgreement> keys;
  private final Fetcher fetcher;
  private final Executor worker;
  private final ScheduledExecutorService timer;
  private final Duration retry;
  private final Sink sink;

  private volatile List<DesiredState.SecretRef> wanted;
  private volatile boolean quarantined;
  private volatile Map<String, Status> status = Map.of();
  private final Map<String, String> lastErrors = new HashMap<>(); // guarded by passLock
  private final Object passLock = new Object();
  private boolean queued; // guarded by this
  private ScheduledFuture<?> retryPass; // guarded by this
  private volatile boolean closed;
  private boolean warnedNoStore;

  public SecretSync(
      Optional<SecretStore> store,
      Supplier<String> deviceId,
      Supplier<DeviceKeyAgreement> keys,
      Fetcher fetcher,
      Executor worker,
      ScheduledExecutorService timer,
      Duration retry,
      Sink sink) {
    this.store = store;
    this.deviceId = deviceId;
    this.keys = keys;
    this.fetcher = fetcher;
    this.worker = worker;
    this.timer = timer;
    this.retry = retry;
    this.sink = sink;
  }

  /** The secrets of a document now in effect; a pass follows. */
  public void want(DesiredState state) {
    wanted = List.copyOf(state.secrets());
    request();
  }

  /** Deletes every secret the agent holds and takes none until {@link #trusted}. */
  public void quarantine() {
    quarantined = true;
    request();
  }

  /** Takes secrets again: those of the document in effect are fetched afresh. */
  public void trusted() {
    quarantined = false;
    request();
  }

  public boolean quarantined() {
    return quarantined;
  }

  /** The referenced secrets as the last pass left them, by name. */
  public Map<String, Status> status() {
    return status;
  }

  public void close() {
    closed = true;
    synchronized (this) {
      if (retryPass != null) {
        retryPass.cancel(false);
      }
    }
  }

  /** Asks for a pass soon; requests while one is queued are one pass. */
  public void request() {
    synchronized (this) {
      if (closed || queued) {
        return;
      }
      queued = true;
      if (retryPass != null) {
        retryPass.cancel(false);
        retryPass = null;
      }
    }
    worker.execute(
        () -> {
          synchronized (this) {
            queued = false;
          }
          boolean done;
          synchronized (passLock) {
            done = pass();
          }
          if (!done) {
            synchronized (this) {
              if (!closed && !queued) {
                retryPass = timer.schedule(this::request, retry.toMillis(), TimeUnit.MILLISECONDS);
              }
            }
          }
        });
  }

  /** One pass; false if something is to be tried again. */
  private boolean pass() {
    List<DesiredState.SecretRef> refs = wanted;
    if (closed || (refs == null && !quarantined)) {
      return true;
    }
    if (store.isEmpty()) {
      if (refs != null && !refs.isEmpty() && !warnedNoStore) {
        warnedNoStore = true;
        sink.event(
            "secret-failed",
            "error",
            "this node's workload runtime keeps no secrets: "
                + refs.size()
                + " secret(s) of the desired state are not materialised");
      }
      return true;
    }
    SecretStore s = store.get();
    List<SecretStore.Held> held;
    try {
      held = s.held();
    } catch (RuntimeException e) {
      failed("*", "cannot list the secrets held: " + e.getMessage());
      return false;
    }
    boolean done = true;
    if (quarantined) {
      for (SecretStore.Held h : held) {
        done &= remove(s, h, "the device is quarantined");
      }
      status = Map.of();
      return done;
    }
    Map<String, Status> now = new LinkedHashMap<>();
    for (DesiredState.SecretRef ref : refs) {
      Optional<SecretStore.Held> have =
          held.stream()
              .filter(h -> h.namespace().equals(ref.namespace()) && h.name().equals(ref.name()))
              .findFirst();
      if (have.isPresent() && have.get().version() == ref.version()) {
        now.put(ref.name(), new Status(ref.namespace(), ref.name(), ref.version(), true, null));
        continue;
      }
      String error = materialise(s, ref);
      now.put(
          ref.name(), new Status(ref.namespace(), ref.name(), ref.version(), error == null, error));
      if (error == null) {
        lastErrors.remove(ref.name());
        sink.event(
            "secret-applied",
            "info",
            "secret "
                + ref.name()
                + " version "
                + ref.version()
                + " is in namespace "
                + ref.namespace());
      } else {
        failed(ref.name(), error);
        done = false;
      }
    }
    for (SecretStore.Held h : held) {
      boolean referenced =
          refs.stream()
              .anyMatch(r -> r.namespace().equals(h.namespace()) && r.name().equals(h.name()));
      if (!referenced) {
        done &= remove(s, h, "no longer in the desired state");
      }
    }
    status = Map.copyOf(now);
    return done;
  }

  /** Fetches, opens and writes one secret; the error for a person, or null. */
  private String materialise(SecretStore s, DesiredState.SecretRef ref) {
    String what = "secret " + ref.name() + " version " + ref.version();
    if (!NAME.matcher(ref.name()).matches()
        || ref.name().length() > 253
        || !NAMESPACE.matcher(ref.namespace()).matches()) {
      return what + ": not a valid Kubernetes Secret name and namespace";
    }
    DeviceSecret sealed;
    try {
      sealed = fetcher.fetch(ref.name(), ref.version());
    } catch (IOException e) {
      return what + " could not be fetched: " + e.getMessage();
    }
    if (!ref.name().equals(sealed.name()) || ref.version() != sealed.version()) {
      return what + ": the controller answered with another secret or version";
    }
    Map<String, byte[]> values = new LinkedHashMap<>();
    byte[] plain = null;
    try {
      plain =
          SealedBox.open(
              keys.get(),
              Base64.getDecoder().decode(sealed.sealed()),
              SealedBox.secretAad(deviceId.get(), ref.name(), ref.version()));
      JsonCodec.read(plain, VALUES).forEach((k, v) -> values.put(k, Base64.getDecoder().decode(v)));
      s.put(ref.namespace(), ref.name(), ref.version(), values);
      return null;
    } catch (java.security.GeneralSecurityException e) {
      return what + " could not be opened with this device's key (" + e.getMessage() + ")";
    } catch (IOException | IllegalArgumentException e) {
      // Never the exception's own text: a parser may quote what it read.
      return what + " arrived malformed";
    } catch (RuntimeException e) {
      return what + " could not be written: " + e.getMessage();
    } finally {
      if (plain != null) {
        Arrays.fill(plain, (byte) 0);
      }
      values.values().forEach(v -> Arrays.fill(v, (byte) 0));
    }
  }

  private boolean remove(SecretStore s, SecretStore.Held h, String why) {
    try {
      if (s.delete(h.namespace(), h.name())) {
        sink.event(
            "secret-removed",
            "info",
            "secret " + h.name() + " removed from namespace " + h.namespace() + ": " + why);
      }
      return true;
    } catch (RuntimeException e) {
      failed(h.name(), "secret " + h.name() + " could not be removed: " + e.getMessage());
      return false;
    }
  }

  /** An error as an event, once until it changes. */
  private void failed(String name, String error) {
    if (!error.equals(lastErrors.put(name, error))) {
      sink.event("secret-failed", "error", error);
    }
  }
}
