package io.edgefleet.agent;

import io.edgefleet.agent.desiredstate.DesiredStateStore;
import io.edgefleet.agent.desiredstate.ReplayFloor;
import io.edgefleet.device.Backoff;
import io.edgefleet.device.Timeouts;
import io.edgefleet.device.desiredstate.DesiredStateCheck;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Gzip;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * Brings the device to the newest signed desired state: verifies documents (pushed with a nudge or
 * fetched), downloads the bundles they need (resuming a cut download from the byte it reached),
 * raises the replay floor, records newly trusted signing keys, stores the document and hands it to
 * the agent. It works on a thread of its own, one document at a time, so waiting on the network
 * never holds the agent's control loop: heartbeats, reconcile and telemetry go on meanwhile.
 *
 * <p>Work that fails for a reason that may pass (the link, the controller's answer) is retried with
 * backoff until it succeeds or newer work replaces it, whether or not the WebSocket stays up. A
 * document that is refused (signature, replay, digest) is not retried; the agent reports it.
 *
 * <p>Thread-safe.
 */
final class DesiredStateSync {

  /** What the agent learns from the sync; called on the sync's thread. */
  interface Listener {
    /** A new document is in effect. */
    void applied(Verified v);

    /** A document or bundle was refused and will not be retried. */
    void refused(String kind, String message);

    /** Something went wrong that will be retried; null when the last try succeeded. */
    void problem(String message);

    /** The link failed under a transfer (no route, timed out, stalled): the socket may be stuck. */
    default void linkFailed() {}
  }

  static final int MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
  private static final int MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

  private final Path stateDir;
  private final IdentityStore identities;
  private final DesiredStateStore store;
  private final ReplayFloor replayFloor;
  private final Executor worker;
  private final ScheduledExecutorService timer;
  private final PrintStream out;
  private final Listener listener;
  private final Backoff linkBackoff;
  private final Backoff serverBackoff;

  private volatile String deviceId;
  private volatile Verified current;
  private volatile long floor;
  private volatile TrustedKeys trusted;
  private volatile Transfers transfers;
  private volatile Supplier<String> baseUrl;
  private volatile boolean closed;

  /** Held while a document is verified and taken: from the link or imported. */
  private final Object applying = new Object();

  // Guarded by this.
  private Pending pending;
  private boolean running;
  private ScheduledFuture<?> retry;

  /**
   * The work waiting: a document to take (its generation as the nudge said, and its inline
   * bundles), or a fetch.
   */
  private record Pending(SignedDesiredState doc, long generation, Map<String, String> inline) {
    static final Pending FETCH = new Pending(null, 0, Map.of());
  }

  DesiredStateSync(
      Path stateDir,
      IdentityStore identities,
      Executor worker,
      ScheduledExecutorService timer,
      RandomGenerator random,
      PrintStream out,
      Listener listener) {
    this.stateDir = stateDir;
    this.identities = identities;
    this.store = new DesiredStateStore(stateDir);
    this.replayFloor = new ReplayFloor(stateDir);
    this.worker = worker;
    this.timer = timer;
    this.out = out;
    this.listener = listener;
    this.linkBackoff = new Backoff(Timeouts.RETRY_BASE, Timeouts.LINK_RETRY_CAP, random);
    this.serverBackoff = new Backoff(Timeouts.RETRY_BASE, Timeouts.MAX_BACKOFF, random);
  }

  /**
   * Loads what this enrollment holds: the trusted keys, the last verified document (so the device
   * runs it before any contact with the controller) and the replay floor.
   */
  void load(String id) {
    deviceId = id;
    identities.trustedKeys().ifPresent(k -> trusted = k);
    if (trusted != null) {
      store.load(trusted, id).ifPresent(v -> current = v);
    }
    OptionalLong stored = replayFloor.load(id);
    if (stored.isEmpty()) {
      out.printf(
          "the replay floor %s is unreadable; using the stored desired state's generation %d%n",
          replayFloor.file(), generation());
    }
    floor = Math.max(stored.orElse(0), generation());
    if (floor > stored.orElse(0)) {
      try {
        replayFloor.raise(id, floor);
      } catch (UncheckedIOException e) {
        out.printf("cannot write the replay floor %s: %s%n", replayFloor.file(), e.getMessage());
      }
    }
  }

  /** The keys handed over at enrollment. */
  void trust(TrustedKeys keys) {
    trusted = keys;
  }

  /** Where documents and bundles are fetched from, once the device has its certificate. */
  void connect(String device, Transfers through, Supplier<String> url) {
    deviceId = device;
    transfers = through;
    baseUrl = url;
  }

  DesiredStateStore store() {
    return store;
  }

  Optional<Verified> current() {
    return Optional.ofNullable(current);
  }

  /** The generation in effect (0 if none). */
  long generation() {
    Verified v = current;
    return v == null ? 0 : v.state().generation();
  }

  /**
   * The generation a new document must be above. Normally the one in effect; when that is older
   * than the floor (its document was lost, or a crash came between storing the floor and the
   * document) the floor's own generation may be taken again: it is the newest the controller
   * issued, and the way back to a document in effect. Anything older is a replay.
   */
  long held() {
    return Math.max(generation(), floor - 1);
  }

  Optional<TrustedKeys> trusted() {
    return Optional.ofNullable(trusted);
  }

  /** Takes a document a nudge carried, with its inline bundles; replaces older waiting work. */
  void offer(ControllerMessage.Nudge nudge) {
    if (nudge.generation() <= held()) {
      return;
    }
    submit(
        nudge.desired() == null
            ? Pending.FETCH
            : new Pending(
                nudge.desired(),
                nudge.generation(),
                nudge.bundles() == null ? Map.of() : Map.copyOf(nudge.bundles())));
  }

  /** Asks the controller for a newer document than the one held. */
  void refresh() {
    submit(Pending.FETCH);
  }

  void close() {
    closed = true;
    synchronized (this) {
      if (retry != null) {
        retry.cancel(false);
      }
      pending = null;
    }
  }

  private void submit(Pending work) {
    synchronized (this) {
      if (closed) {
        return;
      }
      // A document outranks a fetch, and a newer document an older one.
      if (pending == null || work.doc() != null || (pending.doc() == null && work.doc() == null)) {
        pending = work;
      }
      if (retry != null) {
        retry.cancel(false);
        retry = null;
      }
      if (running) {
        return;
      }
      running = true;
    }
    worker.execute(this::drain);
  }

  private void drain() {
    while (true) {
      Pending work;
      synchronized (this) {
        work = pending;
        pending = null;
        if (work == null || closed) {
          running = false;
          return;
        }
      }
      if (work.doc() != null && work.generation() <= held()) {
        // Taken meanwhile (the same document came with a nudge and again after a reconnect).
        continue;
      }
      Outcome outcome = attempt(work);
      if (outcome instanceof Outcome.Retry r) {
        synchronized (this) {
          running = false;
          if (closed || pending != null) {
            // Newer work came meanwhile: it goes first, this attempt is dropped.
            if (pending != null && !closed) {
              running = true;
              worker.execute(this::drain);
            }
            return;
          }
          pending = work;
          Duration wait = (r.problem().link() ? linkBackoff : serverBackoff).next();
          listener.problem(r.problem().message() + "; retrying in " + Outages.human(wait));
          if (r.problem().link()) {
            listener.linkFailed();
          }
          retry =
              timer.schedule(
                  () -> {
                    synchronized (this) {
                      retry = null;
                      if (running || pending == null || closed) {
                        return;
                      }
                      running = true;
                    }
                    worker.execute(this::drain);
                  },
                  wait.toMillis(),
                  TimeUnit.MILLISECONDS);
          return;
        }
      }
      linkBackoff.reset();
      serverBackoff.reset();
    }
  }

  /** The result of one attempt at one piece of work. */
  private sealed interface Outcome {
    record Done() implements Outcome {}

    record Retry(LinkProblem problem) implements Outcome {}
  }

  private Outcome attempt(Pending work) {
    Transfers t = transfers;
    if (t == null || deviceId == null) {
      return new Outcome.Done();
    }
    String base = baseUrl.get();
    try {
      SignedDesiredState doc = work.doc();
      if (doc == null) {
        Optional<SignedDesiredState> fetched = fetch(t, base);
        if (fetched.isEmpty()) {
          listener.problem(null);
          return new Outcome.Done();
        }
        doc = fetched.get();
      }
      accept(t, base, doc, work.inline());
      return new Outcome.Done();
    } catch (Refusal r) {
      listener.refused(r.kind, r.getMessage());
      return new Outcome.Done();
    } catch (IOException | CompletionException e) {
      return new Outcome.Retry(LinkProblem.of(e, base));
    } catch (ControllerAnswer a) {
      return new Outcome.Retry(new LinkProblem(false, a.getMessage()));
    }
  }

  /** The newer document the controller holds for this device, if any. */
  private Optional<SignedDesiredState> fetch(Transfers t, String base) throws IOException {
    Transfers.Answer a =
        t.exchange(
                HttpRequest.newBuilder(URI.create(base + DeviceApi.DESIRED + "?known=" + held()))
                    .GET(),
                MAX_DOCUMENT_BYTES)
            .join();
    if (a.status() == 204) {
      return Optional.empty();
    }
    if (a.status() != 200) {
      throw new ControllerAnswer("desired state fetch failed: " + why(a));
    }
    return Optional.of(JsonCodec.read(a.body(), SignedDesiredState.class));
  }

  /**
   * Verifies a document, stores its missing bundles (from {@code inline}, else downloaded), and
   * makes it current. A refused document or bundle leaves the last good state in effect.
   */
  private void accept(Transfers t, String base, SignedDesiredState doc, Map<String, String> inline)
      throws IOException {
    synchronized (applying) {
      acceptAlone(t, base, doc, inline);
    }
  }

  /**
   * Verifies and takes a document that came another way than the link (an imported export bundle):
   * {@code source} reads and verifies it against what this device holds, with the same checks as a
   * fetched document, and stores its bundles; it then takes effect exactly as a fetched one does.
   * Serialised with documents from the link, so both never race on the generation held.
   *
   * @throws Refused if the device is not enrolled or {@code source} refuses the document; nothing
   *     changed then
   */
  Verified take(Agent.DocumentSource source) throws Refused, IOException {
    synchronized (applying) {
      String id = deviceId;
      TrustedKeys keys = trusted;
      if (id == null || keys == null) {
        throw new Refused(
            "import-not-enrolled",
            "this device is not enrolled yet (or holds no signing key): enroll it once, then"
                + " import");
      }
      Verified v = source.read(id, keys, held());
      adopt(v, keys);
      return v;
    }
  }

  private void acceptAlone(
      Transfers t, String base, SignedDesiredState doc, Map<String, String> inline)
      throws IOException {
    TrustedKeys keys = trusted != null ? trusted : fetchSigningKey(t, base);
    Verified v;
    try {
      v = DesiredStateCheck.verify(doc, keys, deviceId, held());
    } catch (Refused r) {
      throw new Refusal(r.kind(), r.getMessage());
    }
    for (DesiredState.DesiredApp app : v.state().apps()) {
      if (store.hasBundle(app.bundle())) {
        continue;
      }
      byte[] content = ControllerMessage.Nudge.inlineBundle(inline, app.bundle(), MAX_BUNDLE_BYTES);
      if (content == null) {
        content = download(t, base, app.bundle());
      }
      try {
        store.saveBundle(app.bundle(), content);
      } catch (Refused r) {
        throw new Refusal(r.kind(), r.getMessage());
      }
    }
    adopt(v, keys);
  }

  /** Makes a verified document whose bundles are stored the one in effect. */
  private void adopt(Verified v, TrustedKeys keys) throws IOException {
    long accepted = v.state().generation();
    if (accepted > floor) {
      // The floor first: whatever happens to the document, nothing older is taken again.
      try {
        replayFloor.raise(deviceId, accepted);
      } catch (UncheckedIOException e) {
        throw new IOException("desired state generation " + accepted + " not taken", e);
      }
      floor = accepted;
    }
    if (!v.trustAfter().equals(keys)) {
      // Only a document signed by a trusted key changes what is trusted, and the change is on
      // disk before the document takes effect.
      identities.saveTrustedKeys(v.trustAfter());
      trusted = v.trustAfter();
      out.printf(
          "desired-state signing keys trusted now: %s (this document was signed with %s)%n",
          v.trustAfter(), v.signer());
    }
    store.save(v);
    current = v;
    store.collectGarbage(v.state());
    listener.problem(null);
    listener.applied(v);
  }

  /**
   * One bundle, downloaded into {@code desired/downloads/} so that a cut transfer resumes where it
   * stopped; checked against its digest before it is stored.
   */
  private byte[] download(Transfers t, String base, String digest) throws IOException {
    Path file =
        stateDir
            .resolve("desired")
            .resolve("downloads")
            .resolve(digest.substring("sha256:".length()));
    Transfers.Download d;
    try {
      d = t.download(URI.create(base + DeviceApi.BUNDLES + digest), file, MAX_BUNDLE_BYTES).join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof Transfers.StatusException s) {
        throw new ControllerAnswer("bundle " + digest + " fetch failed: " + why(s.answer()));
      }
      throw e;
    }
    if (d.resumedFrom() > 0) {
      out.printf(
          "bundle %s: resumed at byte %d of %d%n", shortDigest(digest), d.resumedFrom(), d.bytes());
    }
    try {
      byte[] raw = Files.readAllBytes(d.file());
      byte[] content =
          d.encoding().equalsIgnoreCase("gzip") ? Gzip.inflate(raw, MAX_BUNDLE_BYTES) : raw;
      return content;
    } catch (IOException e) {
      // Deleted below, so the next attempt downloads it afresh.
      throw new ControllerAnswer(
          "bundle " + digest + " arrived damaged (" + e.getMessage() + "); fetching it again");
    } finally {
      Files.deleteIfExists(d.file());
    }
  }

  /**
   * Asks for the signing key over the mutual-TLS channel pinned to the controller's CA: only for a
   * device that holds no key at all (enrolled by a controller that did not hand one out). A device
   * that trusts a key learns further keys only from documents signed by a key it trusts.
   */
  private TrustedKeys fetchSigningKey(Transfers t, String base) throws IOException {
    Transfers.Answer a =
        t.exchange(
                HttpRequest.newBuilder(URI.create(base + DeviceApi.SIGNING_KEY)).GET(), 64 * 1024)
            .join();
    if (a.status() != 200) {
      throw new ControllerAnswer("signing key fetch failed: " + why(a));
    }
    String pem = JsonCodec.readTree(a.body()).path("publicKeyPem").asText();
    try {
      trusted = identities.saveSigningKey(pem);
    } catch (IllegalArgumentException e) {
      throw new ControllerAnswer("the controller sent an unusable signing key: " + e.getMessage());
    }
    return trusted;
  }

  private static String why(Transfers.Answer a) {
    try {
      ApiError e = JsonCodec.read(a.body(), ApiError.class);
      if (e != null && e.code() != null) {
        return e.message() + " [" + e.code() + "]";
      }
    } catch (IOException | RuntimeException e) {
      // Not our error format.
    }
    return "HTTP " + a.status();
  }

  private static String shortDigest(String digest) {
    return digest.substring(0, Math.min(digest.length(), 19));
  }

  /** A document or bundle that must not be taken; not retried. */
  private static final class Refusal extends RuntimeException {
    final String kind;

    Refusal(String kind, String message) {
      super(message);
      this.kind = kind;
    }
  }

  /** The controller answered with an error; retried with the controller's backoff. */
  private static final class ControllerAnswer extends RuntimeException {
    ControllerAnswer(String message) {
      super(message);
    }
  }
}
