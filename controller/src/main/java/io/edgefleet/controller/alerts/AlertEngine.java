package io.edgefleet.controller.alerts;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceTrustView;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The alert engine: an explicit state machine advanced by {@link #tick(Instant)}.
 *
 * <p>Each tick reads the facts the rules need (a fixed number of queries plus presence in memory),
 * evaluates every rule and moves each alert (one per rule and subject, identified by a fingerprint)
 * through {@code PENDING → FIRING → RESOLVED}: pending while its condition has held for less than
 * the rule's {@code for}, firing after that, resolved when the condition clears or the rule is
 * deleted. Each change of state writes the alert and its notifications (one per receiver, with the
 * exact body) in one transaction, conditioned on the state it read, so an alert is notified once
 * per change of state even when several controllers share the database; a firing alert is notified
 * again only if its rule has a {@code repeat} interval. Receivers told that an alert fired are told
 * when it resolves.
 *
 * <p>Then the tick hands the receivers that have due notifications to delivery, and returns:
 * delivery runs on its own threads, outside evaluation, so no rule waits on a network call. Each
 * receiver has one lane: at most one run at a time sends its notifications, oldest first, so they
 * stay in order per receiver and alert, while receivers are served independently of each other, at
 * most {@link AlertOptions#deliveryThreads()} at once. A receiver that fails in a way worth
 * retrying (no answer by the deadline, 5xx, 429) ends its run: its other notifications wait for the
 * next tick instead of each costing a deadline, and its lane frees a thread for others.
 *
 * <p>A failed delivery is retried after {@code retryBase × 2^(attempts-1)}, at most {@code
 * retryCap} apart, and given up after {@code maxAttempts} (or at once on an answer that retrying
 * cannot change, such as 400). A delivery is claimed for a lease before it is sent, so a restart
 * does not lose a notification; the only repeat possible is a controller that dies between the
 * receiver's answer and recording it.
 *
 * <p>Evaluations are serialised on this instance; nothing is held open (no transaction, no handle,
 * no lock) while a webhook is called.
 */
public final class AlertEngine implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AlertEngine.class);
  private static final Duration RECENTLY_RESOLVED = Duration.ofHours(24);
  private static final Duration KEEP = Duration.ofDays(7);
  private static final int MAX_DELIVERIES_PER_RUN = 200;
  private static final int IDLE = 0;
  private static final int RUNNING = 1;
  private static final int AGAIN = 2;

  private final Jdbi jdbi;
  private final Clock clock;
  private final AlertRules rules;
  private final AlertReceivers receivers;
  private final FleetFacts facts;
  private final WebhookSender sender;
  private final AlertOptions options;
  private final Supplier<String> controllerUrl;
  private final Executor delivery;
  private final ExecutorService ownDelivery;
  private final Map<String, Lane> lanes = new ConcurrentHashMap<>();
  private final Object evaluation = new Object();
  private volatile boolean closed;
  private final BiConsumer<String, String> deliveries;

  /**
   * What one tick did.
   *
   * @param receivers receivers with due notifications handed to delivery, which goes on after the
   *     tick returns
   */
  public record Tick(int fired, int resolved, int repeated, int receivers) {}

  /** An alert as the API shows it. */
  public record AlertView(
      String fingerprint,
      String rule,
      String type,
      String severity,
      String state,
      String subject,
      String deviceId,
      String summary,
      String description,
      Map<String, String> labels,
      Instant since,
      Instant firedAt,
      Instant resolvedAt,
      Instant lastNotifiedAt,
      Delivery delivery) {}

  /** Notifications of one alert: how many wait, went out, were given up; the last error. */
  public record Delivery(int pending, int sent, int failed, String lastError) {}

  /** Firing alerts per rule, for the fleet gauges. */
  public record Count(String rule, String severity, long firing) {}

  /**
   * @param status a device's presence status (ONLINE, OFFLINE, NEVER_SEEN), from memory
   * @param presence a device's presence details, for when it went offline
   * @param latestMetrics the telemetry ingestion's newest metric summary per device, kept in
   *     memory, for disk usage; {@code null}: read from the stored summaries
   * @param offlineFrom where a device's offline time counts from, given when it was last heard from
   *     (after a restart: no earlier than the controller's start plus a grace to reconnect, so its
   *     own absence raises no device-offline alert)
   * @param controllerUrl the controller's URL, for links in notifications
   * @param onDelivery called with (receiver format, outcome: sent, failed, gave_up) after every
   *     delivery attempt
   */
  public AlertEngine(
      Jdbi jdbi,
      Clock clock,
      AlertRules rules,
      AlertReceivers receivers,
      Function<String, DeviceStatus> status,
      Function<String, Presence.Snapshot> presence,
      Function<String, Optional<Telemetry.Metrics>> latestMetrics,
      UnaryOperator<Instant> offlineFrom,
      AlertOptions options,
      Supplier<String> controllerUrl,
      BiConsumer<String, String> onDelivery) {
    this(
        jdbi,
        clock,
        rules,
        receivers,
        status,
        presence,
        latestMetrics,
        offlineFrom,
        id -> DeviceTrustView.SOFTWARE_KEY,
        options,
        controllerUrl,
        onDelivery);
  }

  /**
   * @param trust the trust of a device (its quarantine), from memory
   */
  public AlertEngine(
      Jdbi jdbi,
      Clock clock,
      AlertRules rules,
      AlertReceivers receivers,
      Function<String, DeviceStatus> status,
      Function<String, Presence.Snapshot> presence,
      Function<String, Optional<Telemetry.Metrics>> latestMetrics,
      UnaryOperator<Instant> offlineFrom,
      Function<String, DeviceTrustView> trust,
      AlertOptions options,
      Supplier<String> controllerUrl,
      BiConsumer<String, String> onDelivery) {
    this(
        jdbi,
        clock,
        rules,
        receivers,
        new FleetFacts(jdbi, status, presence, latestMetrics, offlineFrom, trust),
        new WebhookSender.Http(options.sendTimeout()),
        options,
        controllerUrl,
        null,
        onDelivery);
  }

  /**
   * @param delivery runs the receivers' delivery lanes; {@code null}: a pool of {@link
   *     AlertOptions#deliveryThreads()} threads owned (and shut down) by this engine
   */
  AlertEngine(
      Jdbi jdbi,
      Clock clock,
      AlertRules rules,
      AlertReceivers receivers,
      FleetFacts facts,
      WebhookSender sender,
      AlertOptions options,
      Supplier<String> controllerUrl,
      Executor delivery,
      BiConsumer<String, String> onDelivery) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.rules = rules;
    this.receivers = receivers;
    this.facts = facts;
    this.sender = sender;
    this.options = options;
    this.controllerUrl = controllerUrl;
    this.ownDelivery = delivery == null ? pool(options.deliveryThreads()) : null;
    this.delivery = delivery == null ? ownDelivery : delivery;
    this.deliveries = onDelivery;
  }

  /** Threads that exist only while there is something to deliver. */
  private static ExecutorService pool(int threads) {
    AtomicInteger n = new AtomicInteger();
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            threads,
            threads,
            60,
            TimeUnit.SECONDS,
            // At most one run per receiver is ever queued: bounded by the number of receivers.
            new LinkedBlockingQueue<>(),
            r -> {
              Thread t = new Thread(r, "edgefleet-alert-delivery-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  public AlertOptions options() {
    return options;
  }

  /**
   * Evaluates every rule at {@code now}, then hands the receivers with due notifications to
   * delivery. Returns without waiting for any receiver: delivery goes on on the delivery threads
   * (unless the engine was given an executor that runs tasks in the caller's thread). Evaluations
   * are serialised; delivery is not under their lock.
   */
  public Tick tick(Instant now) {
    int[] changes;
    synchronized (evaluation) {
      changes = evaluate(now);
      prune(now);
    }
    int handed = dispatch(now);
    return new Tick(changes[0], changes[1], changes[2], handed);
  }

  // ---------------------------------------------------------------------------------- evaluate

  private record Active(
      String fingerprint,
      String ruleId,
      String state,
      Instant since,
      Instant lastNotifiedAt,
      List<String> notified) {}

  private int[] evaluate(Instant now) {
    List<Rule> all = rules.list();
    Set<RuleType> needed = EnumSet.noneOf(RuleType.class);
    all.forEach(r -> needed.add(r.type()));
    Facts f = facts.read(needed);
    Map<String, Active> active = new HashMap<>();
    jdbi.useHandle(
        h ->
            h.createQuery(
                    "SELECT fingerprint, rule_id, state, since, last_notified_at, notified FROM"
                        + " alerts WHERE state IN ('PENDING','FIRING')")
                .map(
                    (rs, ctx) -> {
                      long notifiedAt = rs.getLong(5);
                      boolean hasNotified = !rs.wasNull();
                      return new Active(
                          rs.getString(1),
                          rs.getString(2),
                          rs.getString(3),
                          Instant.ofEpochMilli(rs.getLong(4)),
                          hasNotified ? Instant.ofEpochMilli(notifiedAt) : null,
                          AlertRules.names(rs.getString(6)));
                    })
                .forEach(a -> active.put(a.fingerprint(), a)));
    int fired = 0;
    int resolved = 0;
    int repeated = 0;
    Set<String> seen = new HashSet<>();
    for (Rule rule : all) {
      List<Evaluator.Finding> findings;
      try {
        findings = Evaluator.evaluate(rule, f, now);
      } catch (RuntimeException e) {
        LOG.warn("alert rule {} could not be evaluated: {}", rule.name(), e.toString());
        // Its alerts keep their state rather than resolving on an error.
        active.values().stream()
            .filter(a -> a.ruleId().equals(rule.id()))
            .forEach(a -> seen.add(a.fingerprint()));
        continue;
      }
      for (Evaluator.Finding finding : findings) {
        String fp = fingerprint(rule.id(), finding.subject());
        if (!seen.add(fp)) {
          continue;
        }
        Active existing = active.get(fp);
        Instant since = finding.since().orElse(existing == null ? now : existing.since());
        boolean due = !now.isBefore(since.plus(rule.forDuration()));
        if (existing == null) {
          if (due) {
            fired += fire(rule, finding, fp, since, now, null) ? 1 : 0;
          } else {
            pending(rule, finding, fp, since, now);
          }
        } else if (existing.state().equals("PENDING")) {
          if (due) {
            fired += fire(rule, finding, fp, since, now, existing) ? 1 : 0;
          } else if (!since.equals(existing.since())) {
            jdbi.useHandle(
                h ->
                    h.createUpdate(
                            "UPDATE alerts SET since = :since, updated_at = :now WHERE"
                                + " fingerprint = :fp AND state = 'PENDING'")
                        .bind("since", since.toEpochMilli())
                        .bind("now", now.toEpochMilli())
                        .bind("fp", fp)
                        .execute());
          }
        } else {
          Optional<Duration> repeat = rule.repeatDuration();
          if (repeat.isPresent()
              && existing.lastNotifiedAt() != null
              && !now.isBefore(existing.lastNotifiedAt().plus(repeat.get()))) {
            repeated += repeat(rule, finding, fp, existing, now) ? 1 : 0;
          }
        }
      }
    }
    Map<String, Rule> byId = new HashMap<>();
    all.forEach(r -> byId.put(r.id(), r));
    for (Active a : active.values()) {
      if (seen.contains(a.fingerprint())) {
        continue;
      }
      if (a.state().equals("PENDING")) {
        jdbi.useHandle(
            h ->
                h.createUpdate("DELETE FROM alerts WHERE fingerprint = :fp AND state = 'PENDING'")
                    .bind("fp", a.fingerprint())
                    .execute());
      } else {
        resolved += resolve(a, byId.containsKey(a.ruleId()), now) ? 1 : 0;
      }
    }
    return new int[] {fired, resolved, repeated};
  }

  /** An alert id that stays the same for the same rule and subject. */
  static String fingerprint(String ruleId, String subject) {
    try {
      byte[] d =
          MessageDigest.getInstance("SHA-256")
              .digest((ruleId + "\n" + subject).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Map<String, String> labels(Rule rule, Evaluator.Finding finding) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("alertname", rule.name());
    labels.put("rule_type", rule.type().id());
    labels.put("severity", rule.severity());
    labels.putAll(finding.labels());
    return labels;
  }

  private static Map<String, String> annotations(Evaluator.Finding finding) {
    Map<String, String> a = new LinkedHashMap<>();
    a.put("summary", finding.summary());
    a.put("description", finding.description());
    return a;
  }

  private void pending(
      Rule rule, Evaluator.Finding finding, String fp, Instant since, Instant now) {
    jdbi.useHandle(h -> upsert(h, rule, finding, fp, since, now, "PENDING", List.of()).execute());
  }

  /**
   * Inserts the alert, or reuses the row of an earlier resolved alert of the same rule and subject;
   * a row that is pending or firing (another controller got there first) is left alone.
   */
  private org.jdbi.v3.core.statement.Update upsert(
      Handle h,
      Rule rule,
      Evaluator.Finding finding,
      String fp,
      Instant since,
      Instant now,
      String state,
      List<String> notified) {
    boolean firing = state.equals("FIRING");
    return h.createUpdate(
            "INSERT INTO alerts (fingerprint, rule_id, rule_name, subject, device_id, labels,"
                + " annotations, state, since, fired_at, resolved_at, last_notified_at, notified,"
                + " updated_at) VALUES (:fp, :rule, :name, :subject, :device, :labels, :ann,"
                + " :state, :since, :fired, NULL, :fired, :notified, :now) ON CONFLICT"
                + " (fingerprint) DO UPDATE SET rule_id = excluded.rule_id, rule_name ="
                + " excluded.rule_name, labels = excluded.labels, annotations ="
                + " excluded.annotations, state = excluded.state, since = excluded.since,"
                + " fired_at = excluded.fired_at, resolved_at = NULL, last_notified_at ="
                + " excluded.last_notified_at, notified = excluded.notified, updated_at ="
                + " excluded.updated_at WHERE alerts.state = 'RESOLVED'")
        .bind("fp", fp)
        .bind("rule", rule.id())
        .bind("name", rule.name())
        .bind("subject", finding.subject())
        .bind("device", finding.deviceId())
        .bind("labels", Json.write(labels(rule, finding)))
        .bind("ann", Json.write(annotations(finding)))
        .bind("state", state)
        .bind("since", since.toEpochMilli())
        .bind("fired", firing ? now.toEpochMilli() : null)
        .bind("notified", Json.write(notified))
        .bind("now", now.toEpochMilli());
  }

  private boolean fire(
      Rule rule,
      Evaluator.Finding finding,
      String fp,
      Instant since,
      Instant now,
      Active existing) {
    return jdbi.inTransaction(
        h -> {
          Map<String, AlertReceivers.Target> targets = receivers.targets(h);
          List<AlertReceivers.Target> to = recipients(rule, targets);
          List<String> ids = to.stream().map(AlertReceivers.Target::id).toList();
          int changed;
          if (existing == null) {
            changed = upsert(h, rule, finding, fp, since, now, "FIRING", ids).execute();
          } else {
            changed =
                h.createUpdate(
                        "UPDATE alerts SET state = 'FIRING', since = :since, fired_at = :now,"
                            + " last_notified_at = :now, notified = :notified, labels = :labels,"
                            + " annotations = :ann, updated_at = :now WHERE fingerprint = :fp AND"
                            + " state = 'PENDING'")
                    .bind("since", since.toEpochMilli())
                    .bind("now", now.toEpochMilli())
                    .bind("notified", Json.write(ids))
                    .bind("labels", Json.write(labels(rule, finding)))
                    .bind("ann", Json.write(annotations(finding)))
                    .bind("fp", fp)
                    .execute();
          }
          if (changed != 1) {
            return false;
          }
          Payloads.Notice notice =
              new Payloads.Notice(
                  "firing",
                  fp,
                  rule.name(),
                  rule.type().id(),
                  rule.severity(),
                  finding.subject(),
                  labels(rule, finding),
                  annotations(finding),
                  since,
                  null);
          enqueue(h, notice, to, now);
          LOG.info("alert {} fires: {}", rule.name(), finding.summary());
          return true;
        });
  }

  private boolean repeat(
      Rule rule, Evaluator.Finding finding, String fp, Active existing, Instant now) {
    return jdbi.inTransaction(
        h -> {
          Map<String, AlertReceivers.Target> targets = receivers.targets(h);
          List<AlertReceivers.Target> to = recipients(rule, targets);
          Set<String> notified = new LinkedHashSet<>(existing.notified());
          to.forEach(t -> notified.add(t.id()));
          int changed =
              h.createUpdate(
                      "UPDATE alerts SET last_notified_at = :now, notified = :notified, annotations"
                          + " = :ann, updated_at = :now WHERE fingerprint = :fp AND state ="
                          + " 'FIRING' AND last_notified_at = :last")
                  .bind("now", now.toEpochMilli())
                  .bind("notified", Json.write(List.copyOf(notified)))
                  .bind("ann", Json.write(annotations(finding)))
                  .bind("fp", fp)
                  .bind("last", existing.lastNotifiedAt().toEpochMilli())
                  .execute();
          if (changed != 1) {
            return false;
          }
          enqueue(
              h,
              new Payloads.Notice(
                  "firing",
                  fp,
                  rule.name(),
                  rule.type().id(),
                  rule.severity(),
                  finding.subject(),
                  labels(rule, finding),
                  annotations(finding),
                  existing.since(),
                  null),
              to,
              now);
          return true;
        });
  }

  private boolean resolve(Active a, boolean ruleExists, Instant now) {
    return jdbi.inTransaction(
        h -> {
          record Row(
              String rule,
              String subject,
              Map<String, String> labels,
              Map<String, String> annotations) {}
          Optional<Row> row =
              h.createQuery(
                      "SELECT rule_name, subject, labels, annotations FROM alerts WHERE"
                          + " fingerprint = :fp")
                  .bind("fp", a.fingerprint())
                  .map(
                      (rs, ctx) ->
                          new Row(
                              rs.getString(1),
                              rs.getString(2),
                              map(rs.getString(3)),
                              map(rs.getString(4))))
                  .findOne();
          if (row.isEmpty()) {
            return false;
          }
          Map<String, String> annotations = new LinkedHashMap<>(row.get().annotations());
          annotations.put(
              "description",
              ruleExists
                  ? "the condition no longer holds"
                  : "the alert rule was deleted; the alert is closed");
          int changed =
              h.createUpdate(
                      "UPDATE alerts SET state = 'RESOLVED', resolved_at = :now, annotations ="
                          + " :ann, updated_at = :now WHERE fingerprint = :fp AND state ="
                          + " 'FIRING'")
                  .bind("now", now.toEpochMilli())
                  .bind("ann", Json.write(annotations))
                  .bind("fp", a.fingerprint())
                  .execute();
          if (changed != 1) {
            return false;
          }
          Map<String, AlertReceivers.Target> targets = receivers.targets(h);
          List<AlertReceivers.Target> to =
              a.notified().stream().map(targets::get).filter(t -> t != null).toList();
          enqueue(
              h,
              new Payloads.Notice(
                  "resolved",
                  a.fingerprint(),
                  row.get().rule(),
                  row.get().labels().getOrDefault("rule_type", ""),
                  row.get().labels().getOrDefault("severity", ""),
                  row.get().subject(),
                  row.get().labels(),
                  annotations,
                  a.since(),
                  now),
              to,
              now);
          LOG.info("alert {} resolved: {}", row.get().rule(), row.get().subject());
          return true;
        });
  }

  private static List<AlertReceivers.Target> recipients(
      Rule rule, Map<String, AlertReceivers.Target> targets) {
    if (rule.receivers().isEmpty()) {
      return List.copyOf(targets.values());
    }
    return targets.values().stream().filter(t -> rule.receivers().contains(t.name())).toList();
  }

  private void enqueue(
      Handle h, Payloads.Notice notice, List<AlertReceivers.Target> to, Instant now) {
    long seq =
        h.createQuery("SELECT COALESCE(MAX(seq), 0) FROM alert_notifications")
            .mapTo(Long.class)
            .one();
    for (AlertReceivers.Target t : to) {
      h.createUpdate(
              "INSERT INTO alert_notifications (id, fingerprint, receiver_id, status, body, state,"
                  + " attempts, next_attempt_at, created_at, seq) VALUES (:id, :fp, :receiver,"
                  + " :status, :body, 'PENDING', 0, :now, :now, :seq)")
          .bind("id", Ids.next("ntf"))
          .bind("fp", notice.fingerprint())
          .bind("receiver", t.id())
          .bind("status", notice.status())
          .bind("body", Payloads.body(t.format(), notice, t.name(), controllerUrl.get()))
          .bind("now", now.toEpochMilli())
          .bind("seq", ++seq)
          .execute();
    }
  }

  // ----------------------------------------------------------------------------------- deliver

  /** Asks the lane of every receiver with due notifications to run; returns how many. */
  private int dispatch(Instant now) {
    if (closed) {
      return 0;
    }
    List<String> due =
        jdbi.withHandle(
            h ->
                h.createQuery(
                        "SELECT DISTINCT receiver_id FROM alert_notifications WHERE state ="
                            + " 'PENDING' AND next_attempt_at <= :now")
                    .bind("now", now.toEpochMilli())
                    .mapTo(String.class)
                    .list());
    synchronized (lanes) {
      due.forEach(id -> lanes.computeIfAbsent(id, Lane::new).request(now));
      // An idle lane with nothing due holds nothing: dropping it keeps the map to the receivers
      // with work. Under this lock no request can revive a lane being dropped.
      lanes.values().removeIf(l -> l.idle() && !due.contains(l.receiverId));
    }
    return due.size();
  }

  /**
   * One receiver's deliveries: at most one run at a time (so they go out in order), and a run asked
   * for while one is under way follows it, queued behind other receivers' runs.
   */
  private final class Lane {
    final String receiverId;
    final AtomicInteger state = new AtomicInteger(IDLE);
    final AtomicLong asked = new AtomicLong(Long.MIN_VALUE);

    Lane(String receiverId) {
      this.receiverId = receiverId;
    }

    boolean idle() {
      return state.get() == IDLE;
    }

    void request(Instant now) {
      asked.accumulateAndGet(now.toEpochMilli(), Math::max);
      while (true) {
        int s = state.get();
        if (s == IDLE && state.compareAndSet(IDLE, RUNNING)) {
          submit();
          return;
        }
        if (s == AGAIN || (s == RUNNING && state.compareAndSet(RUNNING, AGAIN))) {
          return;
        }
      }
    }

    private void submit() {
      try {
        delivery.execute(this::run);
      } catch (RejectedExecutionException e) {
        // The engine is closing: what is due stays due for the next start.
        state.set(IDLE);
      }
    }

    private void run() {
      try {
        if (!closed) {
          deliver(receiverId, asked.get());
        }
      } catch (RuntimeException e) {
        LOG.warn("alert notifications could not be delivered: {}", e.toString());
      }
      if (state.compareAndSet(RUNNING, IDLE)) {
        return;
      }
      // Asked again while running: one more run, at the end of the queue, so that receivers
      // waiting for a thread go first.
      state.set(RUNNING);
      if (closed) {
        state.set(IDLE);
      } else {
        submit();
      }
    }
  }

  private record Due(
      String id,
      String fingerprint,
      String receiverId,
      String body,
      int attempts,
      long nextAttemptAt) {}

  /**
   * Sends one receiver's due notifications, oldest first; per alert, a notification waits for the
   * one before it. Ends early after a failure worth retrying: the receiver is down, slow or
   * overloaded, and its other notifications would each cost a deadline.
   */
  private void deliver(String receiverId, long askedMs) {
    List<Due> pending =
        jdbi.withHandle(
            h ->
                h.createQuery(
                        "SELECT id, fingerprint, receiver_id, body, attempts, next_attempt_at FROM"
                            + " alert_notifications WHERE state = 'PENDING' AND receiver_id ="
                            + " :receiver ORDER BY seq, id LIMIT 1000")
                    .bind("receiver", receiverId)
                    .map(
                        (rs, ctx) ->
                            new Due(
                                rs.getString(1),
                                rs.getString(2),
                                rs.getString(3),
                                rs.getString(4),
                                rs.getInt(5),
                                rs.getLong(6)))
                    .list());
    if (pending.isEmpty()) {
      return;
    }
    Optional<AlertReceivers.Target> found = jdbi.withHandle(h -> receivers.target(h, receiverId));
    if (found.isEmpty()) {
      // Deleted meanwhile, with its notifications.
      return;
    }
    AlertReceivers.Target target = found.get();
    Set<String> blocked = new HashSet<>();
    int tried = 0;
    for (Due n : pending) {
      if (closed) {
        return;
      }
      // Per receiver and alert, notifications go out in order: never a resolve before its fire.
      if (blocked.contains(n.fingerprint())) {
        continue;
      }
      long nowMs = Math.max(askedMs, clock.millis());
      if (n.nextAttemptAt() > nowMs || tried >= MAX_DELIVERIES_PER_RUN) {
        blocked.add(n.fingerprint());
        continue;
      }
      long lease = nowMs + options.sendTimeout().toMillis() + 60_000;
      int claimed =
          jdbi.withHandle(
              h ->
                  h.createUpdate(
                          "UPDATE alert_notifications SET next_attempt_at = :lease WHERE id = :id"
                              + " AND state = 'PENDING' AND next_attempt_at = :seen")
                      .bind("lease", lease)
                      .bind("id", n.id())
                      .bind("seen", n.nextAttemptAt())
                      .execute());
      if (claimed != 1) {
        blocked.add(n.fingerprint());
        continue;
      }
      tried++;
      WebhookSender.Result result;
      try {
        result = sender.send(target, n.body().getBytes(StandardCharsets.UTF_8));
      } catch (RuntimeException e) {
        result = WebhookSender.Result.failed(true, e.toString());
      }
      if (!result.delivered() && closed) {
        // Cut short by the controller stopping, not the receiver's doing: handed back as it was,
        // due at once after the next start.
        jdbi.useHandle(
            h ->
                h.createUpdate(
                        "UPDATE alert_notifications SET next_attempt_at = :due WHERE id = :id AND"
                            + " state = 'PENDING' AND next_attempt_at = :lease")
                    .bind("due", n.nextAttemptAt())
                    .bind("id", n.id())
                    .bind("lease", lease)
                    .execute());
        return;
      }
      if (record(n, target, result, nowMs)) {
        if (result.retryable()) {
          return;
        }
        blocked.add(n.fingerprint());
      }
    }
  }

  /** Records the outcome of one delivery; whether it failed. */
  private boolean record(
      Due n, AlertReceivers.Target target, WebhookSender.Result result, long at) {
    int attempts = n.attempts() + 1;
    long doneMs = Math.max(at, clock.millis());
    if (result.delivered()) {
      jdbi.useHandle(
          h ->
              h.createUpdate(
                      "UPDATE alert_notifications SET state = 'SENT', attempts = :attempts,"
                          + " sent_at = :now, last_error = NULL WHERE id = :id")
                  .bind("attempts", attempts)
                  .bind("now", doneMs)
                  .bind("id", n.id())
                  .execute());
      deliveries.accept(target.format().id(), "sent");
      return false;
    }
    boolean giveUp = !result.retryable() || attempts >= options.maxAttempts();
    String error = cut(result.detail(), 1000);
    // The wait counts from the failure, which may come a deadline after the attempt began.
    long next = doneMs + backoff(attempts, options).toMillis();
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "UPDATE alert_notifications SET state = :state, attempts = :attempts,"
                        + " next_attempt_at = :next, last_error = :error WHERE id = :id")
                .bind("state", giveUp ? "FAILED" : "PENDING")
                .bind("attempts", attempts)
                .bind("next", next)
                .bind("error", error)
                .bind("id", n.id())
                .execute());
    deliveries.accept(target.format().id(), giveUp ? "gave_up" : "failed");
    if (giveUp) {
      LOG.warn(
          "alert notification to receiver {} given up after {} attempts: {}",
          target.name(),
          attempts,
          error);
    } else {
      LOG.info(
          "alert notification to receiver {} failed (attempt {}), next in {}: {}",
          target.name(),
          attempts,
          backoff(attempts, options),
          error);
    }
    return true;
  }

  /**
   * The wait after the {@code attempts}-th failed delivery: {@code base × 2^(attempts-1)}, at most
   * the cap.
   */
  static Duration backoff(int attempts, AlertOptions options) {
    long base = options.retryBase().toMillis();
    long cap = options.retryCap().toMillis();
    int shift = Math.min(Math.max(attempts - 1, 0), 40);
    long wait = base > (cap >> shift) ? cap : base << shift;
    return Duration.ofMillis(Math.min(wait, cap));
  }

  private void prune(Instant now) {
    long before = now.minus(KEEP).toEpochMilli();
    jdbi.useHandle(
        h -> {
          h.createUpdate(
                  "DELETE FROM alert_notifications WHERE state <> 'PENDING' AND created_at <"
                      + " :before")
              .bind("before", before)
              .execute();
          h.createUpdate("DELETE FROM alerts WHERE state = 'RESOLVED' AND resolved_at < :before")
              .bind("before", before)
              .execute();
        });
  }

  // -------------------------------------------------------------------------------------- read

  /**
   * Alerts, firing first, then pending, then resolved (newest first).
   *
   * @param state {@code firing}, {@code pending}, {@code resolved}, {@code all}; empty: firing,
   *     pending and those resolved within the last 24 hours
   */
  public List<AlertView> list(Optional<String> state, int limit) {
    String where;
    String s = state.map(v -> v.toLowerCase(Locale.ROOT)).orElse("");
    long recent = clock.instant().minus(RECENTLY_RESOLVED).toEpochMilli();
    switch (s) {
      case "" -> where = "state IN ('FIRING','PENDING') OR resolved_at >= :recent";
      case "firing", "pending", "resolved" -> where = "state = :state";
      case "all" -> where = "1 = 1";
      default ->
          throw ControllerException.invalid(
              "state must be one of firing, pending, resolved, all; got " + state.get());
    }
    String sql =
        "SELECT * FROM alerts WHERE "
            + where
            + " ORDER BY CASE state WHEN 'FIRING' THEN 0 WHEN 'PENDING' THEN 1 ELSE 2 END,"
            + " COALESCE(resolved_at, since) DESC, fingerprint LIMIT :limit";
    List<AlertView> alerts =
        jdbi.withHandle(
            h -> {
              var q = h.createQuery(sql).bind("limit", limit);
              if (sql.contains(":recent")) {
                q.bind("recent", recent);
              }
              if (sql.contains(":state")) {
                q.bind("state", s.toUpperCase(Locale.ROOT));
              }
              return q.map((rs, ctx) -> view(rs)).list();
            });
    if (alerts.isEmpty()) {
      return alerts;
    }
    Map<String, int[]> counts = new HashMap<>();
    Map<String, String> errors = new HashMap<>();
    jdbi.useHandle(
        h ->
            h.createQuery(
                    "SELECT fingerprint, state, COUNT(*), MAX(last_error) FROM alert_notifications"
                        + " WHERE fingerprint IN (<fps>) GROUP BY fingerprint, state")
                .bindList("fps", alerts.stream().map(AlertView::fingerprint).toList())
                .map(
                    (rs, ctx) ->
                        new Object[] {
                          rs.getString(1), rs.getString(2), rs.getInt(3), rs.getString(4)
                        })
                .forEach(
                    r -> {
                      int[] c = counts.computeIfAbsent((String) r[0], k -> new int[3]);
                      switch ((String) r[1]) {
                        case "PENDING" -> c[0] += (Integer) r[2];
                        case "SENT" -> c[1] += (Integer) r[2];
                        default -> c[2] += (Integer) r[2];
                      }
                      if (r[3] != null && !"SENT".equals(r[1])) {
                        errors.put((String) r[0], (String) r[3]);
                      }
                    }));
    List<AlertView> out = new ArrayList<>(alerts.size());
    for (AlertView a : alerts) {
      int[] c = counts.getOrDefault(a.fingerprint(), new int[3]);
      out.add(
          new AlertView(
              a.fingerprint(),
              a.rule(),
              a.type(),
              a.severity(),
              a.state(),
              a.subject(),
              a.deviceId(),
              a.summary(),
              a.description(),
              a.labels(),
              a.since(),
              a.firedAt(),
              a.resolvedAt(),
              a.lastNotifiedAt(),
              new Delivery(c[0], c[1], c[2], errors.get(a.fingerprint()))));
    }
    return out;
  }

  /** Firing alerts per rule and severity, in one query. */
  public List<Count> firingCounts() {
    Map<List<String>, Long> counts = new LinkedHashMap<>();
    jdbi.useHandle(
        h ->
            h.createQuery(
                    "SELECT rule_name, labels FROM alerts WHERE state = 'FIRING' ORDER BY"
                        + " rule_name")
                .map(
                    (rs, ctx) ->
                        List.of(rs.getString(1), map(rs.getString(2)).getOrDefault("severity", "")))
                .forEach(key -> counts.merge(key, 1L, Long::sum)));
    return counts.entrySet().stream()
        .map(e -> new Count(e.getKey().get(0), e.getKey().get(1), e.getValue()))
        .toList();
  }

  private static AlertView view(ResultSet rs) throws SQLException {
    Map<String, String> labels = map(rs.getString("labels"));
    Map<String, String> ann = map(rs.getString("annotations"));
    return new AlertView(
        rs.getString("fingerprint"),
        rs.getString("rule_name"),
        labels.get("rule_type"),
        labels.get("severity"),
        rs.getString("state"),
        rs.getString("subject"),
        rs.getString("device_id"),
        ann.get("summary"),
        ann.get("description"),
        labels,
        instant(rs, "since"),
        instant(rs, "fired_at"),
        instant(rs, "resolved_at"),
        instant(rs, "last_notified_at"),
        null);
  }

  private static Instant instant(ResultSet rs, String column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? null : Instant.ofEpochMilli(v);
  }

  private static Map<String, String> map(String json) {
    try {
      return Json.mapper().readValue(json, new TypeReference<LinkedHashMap<String, String>>() {});
    } catch (IOException e) {
      throw new IllegalStateException("stored alert labels are not JSON", e);
    }
  }

  private static String cut(String s, int max) {
    return s == null ? null : s.length() <= max ? s : s.substring(0, max);
  }

  /**
   * Stops delivery: runs not yet started are dropped, exchanges under way are aborted and their
   * notifications handed back (due again after the next start), and the delivery threads are waited
   * for (a few seconds at most) so that nothing is written after the database closes.
   */
  @Override
  public void close() {
    closed = true;
    sender.close();
    if (ownDelivery != null) {
      ownDelivery.shutdown();
      try {
        if (!ownDelivery.awaitTermination(5, TimeUnit.SECONDS)) {
          ownDelivery.shutdownNow();
        }
      } catch (InterruptedException e) {
        ownDelivery.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
  }
}
