package io.edgefleet.controller.trust;

import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.gateway.AgentGateway;
import io.edgefleet.controller.gateway.Connections;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tpm.AttestationException;
import io.edgefleet.protocol.tpm.QuoteVerifier;
import io.edgefleet.protocol.tpm.VerifiedQuote;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Challenges devices with a TPM to quote their boot measurements and verifies their answers.
 *
 * <p>A connected TPM device is challenged about a second after its {@code hello} and then every
 * {@code interval}: a fresh random 32-byte nonce, at most one outstanding per device, valid for
 * {@code answerWithin} and for one answer. An answer to no outstanding challenge (replayed, late,
 * or for another nonce) is refused with an event and changes nothing; a quote that does not verify
 * for the outstanding challenge (another TPM's key, a replayed quote, values that do not hash to
 * what was signed) quarantines the device; an unanswered challenge counts as missed.
 *
 * <p>Quotes are verified off the sockets' threads by {@code verifiers} threads behind a queue of
 * {@code queue} answers; when it is full (thousands of devices connecting at once) an answer is
 * shed, counted, and its device challenged again a minute or so later, so a storm of connections
 * spreads out instead of piling up. Thread-safe.
 */
public final class Attestations implements AgentGateway.Attestation, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Attestations.class);
  private static final int NONCE_BYTES = 32;
  private static final Duration RETRY = Duration.ofSeconds(60);
  private static final Duration REFUSAL_EVENTS_EVERY = Duration.ofMinutes(1);

  /**
   * How long after its hello a device is challenged (by the next {@link #tick}): a storm of
   * connections is challenged from the ticking thread rather than from the sockets' threads.
   */
  static final Duration CONNECT_DELAY = Duration.ofSeconds(1);

  private final DeviceTrust trust;
  private final Connections connections;
  private final Clock clock;
  private final TrustOptions options;
  private final SecureRandom random = new SecureRandom();
  private final Map<String, Challenge> outstanding = new ConcurrentHashMap<>();
  private final Map<String, Instant> due = new ConcurrentHashMap<>();
  private final Map<String, Instant> refusalEvents = new ConcurrentHashMap<>();
  private final ThreadPoolExecutor verifiers;
  private final LongAdder verifiedCount = new LongAdder();
  private final LongAdder shedCount = new LongAdder();
  private final LongAdder refusedCount = new LongAdder();

  /** A challenge sent and not yet answered. */
  record Challenge(String id, byte[] nonce, java.util.List<Integer> pcrs, Instant sentAt) {}

  Attestations(DeviceTrust trust, Connections connections, Clock clock, TrustOptions options) {
    this.trust = trust;
    this.connections = connections;
    this.clock = clock;
    this.options = options;
    AtomicInteger n = new AtomicInteger();
    this.verifiers =
        new ThreadPoolExecutor(
            options.verifiers(),
            options.verifiers(),
            0,
            TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(options.queue()),
            r -> {
              Thread t = new Thread(r, "edgefleet-attestation-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            },
            new ThreadPoolExecutor.AbortPolicy());
  }

  /**
   * After the device's hello, if it has a TPM: its trust state now, and a challenge at the first
   * {@link #tick} {@link #CONNECT_DELAY} later.
   */
  @Override
  public void connected(String deviceId) {
    if (!trust.tpm(deviceId)) {
      return;
    }
    trust.tell(deviceId);
    outstanding.remove(deviceId);
    due.put(deviceId, clock.instant().plus(CONNECT_DELAY));
  }

  @Override
  public void disconnected(String deviceId) {
    outstanding.remove(deviceId);
    due.remove(deviceId);
    refusalEvents.remove(deviceId);
  }

  /** Sends the device a fresh challenge, replacing any outstanding one. */
  void challenge(String deviceId) {
    var entry = trust.entry(deviceId);
    if (entry.isEmpty()) {
      return;
    }
    byte[] nonce = new byte[NONCE_BYTES];
    random.nextBytes(nonce);
    Instant now = clock.instant();
    Challenge c = new Challenge(Ids.next("att"), nonce, entry.get().pcrs(), now);
    outstanding.put(deviceId, c);
    due.put(deviceId, now.plus(options.interval()));
    connections.send(
        deviceId,
        new ControllerMessage.AttestationChallenge(
            c.id(), Base64.getEncoder().encodeToString(nonce), c.pcrs()));
  }

  /**
   * Challenges the connected devices that are due and counts the challenges that went unanswered;
   * call every few seconds.
   */
  public void tick() {
    Instant now = clock.instant();
    for (Map.Entry<String, Instant> e : due.entrySet()) {
      String id = e.getKey();
      Challenge c = outstanding.get(id);
      if (c != null && expired(c, now)) {
        if (outstanding.remove(id, c)) {
          trust.missed(
              id,
              "no answer to attestation challenge "
                  + c.id()
                  + " within "
                  + options.answerWithin().toSeconds()
                  + " s");
          due.put(id, now);
        }
        continue;
      }
      if (c == null && !e.getValue().isAfter(now)) {
        if (connections.isConnected(id)) {
          challenge(id);
        } else {
          due.remove(id, e.getValue());
        }
      }
    }
  }

  @Override
  public void answer(String deviceId, AgentMessage.AttestationAnswer answer) {
    Instant now = clock.instant();
    Challenge c = outstanding.get(deviceId);
    if (c == null || answer.id() == null || !c.id().equals(answer.id())) {
      refuse(
          deviceId,
          now,
          "an answer to no outstanding challenge (replayed, late or unknown id "
              + shortId(answer.id())
              + ") was refused");
      return;
    }
    if (!outstanding.remove(deviceId, c)) {
      refuse(deviceId, now, "a second answer to challenge " + c.id() + " was refused");
      return;
    }
    if (expired(c, now)) {
      refuse(deviceId, now, "the answer to challenge " + c.id() + " came too late and was refused");
      due.put(deviceId, now);
      return;
    }
    if (answer.quote() == null) {
      String error = answer.error() == null ? "no quote" : DeviceTrust.cut(answer.error());
      trust.missed(deviceId, "the device could not quote: " + error);
      return;
    }
    TpmQuote quote = answer.quote();
    try {
      verifiers.execute(() -> verify(deviceId, c, quote));
    } catch (RejectedExecutionException e) {
      shedCount.increment();
      long jitter = ThreadLocalRandom.current().nextLong(RETRY.toMillis());
      due.put(deviceId, now.plus(RETRY).plusMillis(jitter));
    }
  }

  private void verify(String deviceId, Challenge c, TpmQuote quote) {
    var entry = trust.entry(deviceId);
    if (entry.isEmpty()) {
      return;
    }
    try {
      VerifiedQuote v = QuoteVerifier.verify(entry.get().ak(), quote, c.nonce(), c.pcrs());
      verifiedCount.increment();
      trust.verified(deviceId, v, quote.eventLog());
    } catch (AttestationException e) {
      refusedCount.increment();
      trust.refused(deviceId, e);
    } catch (RuntimeException e) {
      LOG.warn("attestation of {} could not be judged: {}", deviceId, e.toString());
    }
  }

  /** Records a refused answer, at most one event per device a minute. */
  private void refuse(String deviceId, Instant now, String message) {
    refusedCount.increment();
    Instant last = refusalEvents.get(deviceId);
    if (last != null && now.isBefore(last.plus(REFUSAL_EVENTS_EVERY))) {
      return;
    }
    refusalEvents.put(deviceId, now);
    trust.event(deviceId, now, "ATTESTATION_REFUSED", "warning", message);
  }

  private boolean expired(Challenge c, Instant now) {
    return !now.isBefore(c.sentAt().plus(options.answerWithin()));
  }

  private static String shortId(String id) {
    return id == null ? "none" : id.length() > 40 ? id.substring(0, 40) + "…" : id;
  }

  /** Whether a challenge is outstanding for the device (tests, metrics). */
  boolean outstanding(String deviceId) {
    return outstanding.containsKey(deviceId);
  }

  /** The device's outstanding challenge (tests). */
  java.util.Optional<Challenge> challengeOf(String deviceId) {
    return java.util.Optional.ofNullable(outstanding.get(deviceId));
  }

  /** Challenges outstanding now. */
  public int outstandingCount() {
    return outstanding.size();
  }

  public long verified() {
    return verifiedCount.sum();
  }

  public long shed() {
    return shedCount.sum();
  }

  public long refused() {
    return refusedCount.sum();
  }

  /** Quotes waiting for a verifier. */
  public int queued() {
    return verifiers.getQueue().size();
  }

  @Override
  public void close() {
    verifiers.shutdownNow();
  }
}
