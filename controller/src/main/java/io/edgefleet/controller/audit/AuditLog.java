package io.edgefleet.controller.audit;

import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Signatures;
import java.security.PublicKey;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Who changed what, when. Every mutation writes its entry inside the same transaction as the change
 * itself, so the log and the state cannot disagree.
 *
 * <p>The log is a hash chain (decision 0034, {@link AuditChain}): each entry carries a sequence
 * number, the hash of the entry before it and its own hash. Appends are serialised by the one-row
 * head {@code audit_chain}, updated in the appending transaction (a row lock on PostgreSQL, the
 * write lock on SQLite) and held until that transaction ends, so sequence numbers have no gaps and
 * entries become visible in sequence order. Every {@link AuditOptions#checkpointEvery} entries or
 * {@link AuditOptions#checkpointInterval}, the controller's current desired-state signing key signs
 * a checkpoint (seq, hash, time). Thread-safe.
 */
public final class AuditLog {
  private static final int LEGACY_PAGE = 500;

  private final Jdbi jdbi;
  private final Clock clock;
  private final Optional<SigningKeys> keys;
  private final AuditOptions options;

  /** A log without checkpoints (no signing key), with the default options otherwise. */
  public AuditLog(Jdbi jdbi, Clock clock) {
    this(jdbi, clock, Optional.empty(), AuditOptions.defaults());
  }

  /**
   * @param keys the controller's signing keys; the current one signs checkpoints, and any key of
   *     the ring, retired ones included, verifies them. Empty: no checkpoints are made.
   */
  public AuditLog(Jdbi jdbi, Clock clock, Optional<SigningKeys> keys, AuditOptions options) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.keys = keys;
    this.options = options;
  }

  public record Entry(
      String id, Instant at, String actor, String action, String target, String detail) {}

  /** An entry with its place in the chain, as verification and export read it. */
  public record ChainedEntry(
      long seq,
      String id,
      Instant at,
      String actor,
      String action,
      String target,
      String detail,
      String prev,
      String hash) {}

  /** The chain's head: the last sequence number and its hash, and the last checkpoint. */
  public record Head(
      long seq, String hash, boolean legacyChained, long checkpointSeq, long checkpointAt) {}

  /** A signed checkpoint. */
  public record Checkpoint(long seq, String hash, Instant at, String keyId, String signature) {}

  public void record(Handle h, String actor, String action, String target, Map<String, ?> detail) {
    String json = Json.write(detail);
    if (h.isInTransaction()) {
      append(h, actor, action, target, json);
    } else {
      h.useTransaction(t -> append(t, actor, action, target, json));
    }
  }

  private void append(Handle h, String actor, String action, String target, String detail) {
    Head head = lockHead(h);
    if (!head.legacyChained()) {
      head = chainLegacy(h, head);
    }
    long seq = head.seq() + 1;
    long at = clock.millis();
    String id = Ids.next("aud");
    String hash =
        AuditChain.hash(
            head.hash(), AuditChain.canonical(seq, id, at, actor, action, target, detail));
    h.createUpdate(
            "INSERT INTO audit_log (id, at, actor, action, target, detail, seq, prev_hash, hash)"
                + " VALUES (:id, :at, :actor, :action, :target, :detail, :seq, :prev, :hash)")
        .bind("id", id)
        .bind("at", at)
        .bind("actor", actor)
        .bind("action", action)
        .bind("target", target)
        .bind("detail", detail)
        .bind("seq", seq)
        .bind("prev", head.hash())
        .bind("hash", hash)
        .execute();
    setHead(h, seq, hash);
    if (keys.isPresent()
        && (seq - head.checkpointSeq() >= options.checkpointEvery()
            || at - head.checkpointAt() >= options.checkpointInterval().toMillis())) {
      checkpoint(h, seq, hash, at);
    }
  }

  /** Locks the chain head until the transaction ends, and reads it. */
  private static Head lockHead(Handle h) {
    h.execute("UPDATE audit_chain SET seq = seq WHERE id = 1");
    return head(h);
  }

  static Head head(Handle h) {
    return h.createQuery(
            "SELECT seq, head, legacy_chained, checkpoint_seq, checkpoint_at FROM audit_chain"
                + " WHERE id = 1")
        .map(
            (rs, ctx) ->
                new Head(
                    rs.getLong("seq"),
                    rs.getString("head"),
                    rs.getInt("legacy_chained") != 0,
                    rs.getLong("checkpoint_seq"),
                    rs.getLong("checkpoint_at")))
        .one();
  }

  public AuditOptions options() {
    return options;
  }

  /** The chain's head now. */
  public Head head() {
    return jdbi.withHandle(AuditLog::head);
  }

  private static void setHead(Handle h, long seq, String hash) {
    h.createUpdate("UPDATE audit_chain SET seq = :seq, head = :head WHERE id = 1")
        .bind("seq", seq)
        .bind("head", hash)
        .execute();
  }

  /**
   * Chains the entries written before the log was a chain, once: oldest first by time, then id,
   * after the current head. Later entries without a sequence number are never adopted: they count
   * as inserted.
   */
  public void chainExisting() {
    jdbi.useTransaction(
        h -> {
          Head head = lockHead(h);
          if (!head.legacyChained()) {
            chainLegacy(h, head);
          }
        });
  }

  private static Head chainLegacy(Handle h, Head head) {
    long seq = head.seq();
    String prev = head.hash();
    while (true) {
      List<Entry> page =
          h.createQuery(
                  "SELECT id, at, actor, action, target, detail FROM audit_log WHERE seq IS NULL"
                      + " ORDER BY at, id LIMIT :limit")
              .bind("limit", LEGACY_PAGE)
              .map((rs, ctx) -> entry(rs))
              .list();
      for (Entry e : page) {
        seq++;
        String hash =
            AuditChain.hash(
                prev,
                AuditChain.canonical(
                    seq,
                    e.id(),
                    e.at().toEpochMilli(),
                    e.actor(),
                    e.action(),
                    e.target(),
                    e.detail()));
        h.createUpdate(
                "UPDATE audit_log SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id")
            .bind("seq", seq)
            .bind("prev", prev)
            .bind("hash", hash)
            .bind("id", e.id())
            .execute();
        prev = hash;
      }
      if (page.size() < LEGACY_PAGE) {
        break;
      }
    }
    h.createUpdate(
            "UPDATE audit_chain SET seq = :seq, head = :head, legacy_chained = 1 WHERE id = 1")
        .bind("seq", seq)
        .bind("head", prev)
        .execute();
    return new Head(seq, prev, true, head.checkpointSeq(), head.checkpointAt());
  }

  /**
   * Signs a checkpoint of the head when entries were added since the last one and {@link
   * AuditOptions#checkpointInterval} has passed, so a quiet log is still covered. Called
   * periodically by the controller.
   *
   * @return whether a checkpoint was made
   */
  public boolean checkpointIfDue() {
    if (keys.isEmpty()) {
      return false;
    }
    return jdbi.inTransaction(
        h -> {
          Head head = lockHead(h);
          long now = clock.millis();
          if (head.seq() > head.checkpointSeq()
              && now - head.checkpointAt() >= options.checkpointInterval().toMillis()) {
            checkpoint(h, head.seq(), head.hash(), now);
            return true;
          }
          return false;
        });
  }

  private void checkpoint(Handle h, long seq, String hash, long at) {
    SigningKeys.Ring ring = keys.orElseThrow().ring();
    SigningKeys.Key key = ring.current();
    String signature =
        Signatures.sign(ring.privateKey(key.id()), AuditChain.checkpointBytes(seq, hash, at));
    h.createUpdate(
            "INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature)"
                + " VALUES (:seq, :hash, :at, :key, :signature)")
        .bind("seq", seq)
        .bind("hash", hash)
        .bind("at", at)
        .bind("key", key.id())
        .bind("signature", signature)
        .execute();
    h.createUpdate("UPDATE audit_chain SET checkpoint_seq = :seq, checkpoint_at = :at WHERE id = 1")
        .bind("seq", seq)
        .bind("at", at)
        .execute();
  }

  /** The public key checkpoints are verified with, by key id (any key of the ring). */
  public Optional<PublicKey> checkpointKey(String keyId) {
    return keys.flatMap(k -> k.ring().byId(keyId)).map(SigningKeys.Key::publicKey);
  }

  /** The key that signs new checkpoints, if checkpoints are made. */
  public Optional<SigningKeys.Key> signingKey() {
    return keys.map(k -> k.ring().current());
  }

  /**
   * Entries with a sequence number above {@code after}, in sequence order, at most {@code limit}.
   */
  public List<ChainedEntry> chained(long after, int limit) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT seq, id, at, actor, action, target, detail, prev_hash, hash"
                        + " FROM audit_log WHERE seq > :after ORDER BY seq LIMIT :limit")
                .bind("after", after)
                .bind("limit", limit)
                .map((rs, ctx) -> chained(rs))
                .list());
  }

  /** The entry with this sequence number. */
  public Optional<ChainedEntry> chainedAt(long seq) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT seq, id, at, actor, action, target, detail, prev_hash, hash"
                        + " FROM audit_log WHERE seq = :seq")
                .bind("seq", seq)
                .map((rs, ctx) -> chained(rs))
                .findOne());
  }

  /** The lowest sequence number of an entry made at or after {@code since}, if any. */
  public Optional<Long> firstSeqSince(long since) {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT MIN(seq) FROM audit_log WHERE at >= :since AND seq IS NOT NULL")
                .bind("since", since)
                .mapTo(Long.class)
                .findOne());
  }

  /**
   * Ids of entries that have no sequence number (not written by this log), at most {@code limit}.
   */
  public List<String> unchained(int limit) {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT id FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT :limit")
                .bind("limit", limit)
                .mapTo(String.class)
                .list());
  }

  /** Checkpoints with {@code from <= seq <= to}, in order, at most {@code limit}. */
  public List<Checkpoint> checkpoints(long from, long to, int limit) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT seq, hash, at, key_id, signature FROM audit_checkpoints"
                        + " WHERE seq >= :from AND seq <= :to ORDER BY seq LIMIT :limit")
                .bind("from", from)
                .bind("to", to)
                .bind("limit", limit)
                .map(
                    (rs, ctx) ->
                        new Checkpoint(
                            rs.getLong("seq"),
                            rs.getString("hash"),
                            Instant.ofEpochMilli(rs.getLong("at")),
                            rs.getString("key_id"),
                            rs.getString("signature")))
                .list());
  }

  /**
   * The last sequence number deleted by the retention ({@link AuditRetention}); 0 when none was.
   * The checkpoint at it anchors the entries after it.
   */
  public long prunedThrough() {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT pruned_through FROM audit_chain WHERE id = 1")
                .mapTo(Long.class)
                .one());
  }

  /** The newest checkpoint, if any. */
  public Optional<Checkpoint> latestCheckpoint() {
    return latestCheckpoint(Long.MAX_VALUE);
  }

  /** The newest checkpoint of an entry up to {@code seq}, if any. */
  public Optional<Checkpoint> latestCheckpoint(long seq) {
    List<Checkpoint> last =
        jdbi.withHandle(
            h ->
                h.createQuery(
                        "SELECT seq, hash, at, key_id, signature FROM audit_checkpoints"
                            + " WHERE seq <= :seq ORDER BY seq DESC LIMIT 1")
                    .bind("seq", seq)
                    .map(
                        (rs, ctx) ->
                            new Checkpoint(
                                rs.getLong("seq"),
                                rs.getString("hash"),
                                Instant.ofEpochMilli(rs.getLong("at")),
                                rs.getString("key_id"),
                                rs.getString("signature")))
                    .list());
    return last.stream().findFirst();
  }

  /** How many checkpoints there are. */
  public long checkpointCount() {
    return jdbi.withHandle(
        h -> h.createQuery("SELECT COUNT(*) FROM audit_checkpoints").mapTo(Long.class).one());
  }

  /** The delivery cursor of a sink: the last seq it acknowledged, 0 before the first. */
  public long sinkCursor(String sink) {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT seq FROM audit_sink_cursors WHERE sink = :sink")
                .bind("sink", sink)
                .mapTo(Long.class)
                .findOne()
                .orElse(0L));
  }

  /**
   * Moves a sink's delivery cursor from {@code from} to {@code to}, only if it is still at {@code
   * from}: with several controllers sharing the database the cursor never moves backwards, and of
   * two controllers that sent the same page only one advances it.
   *
   * @return whether it moved
   */
  public boolean advanceSinkCursor(String sink, long from, long to) {
    return jdbi.inTransaction(
        h -> {
          int n =
              h.createUpdate(
                      "UPDATE audit_sink_cursors SET seq = :to, updated_at = :now"
                          + " WHERE sink = :sink AND seq = :from")
                  .bind("sink", sink)
                  .bind("from", from)
                  .bind("to", to)
                  .bind("now", clock.millis())
                  .execute();
          if (n == 1) {
            return true;
          }
          boolean exists =
              h.createQuery("SELECT COUNT(*) FROM audit_sink_cursors WHERE sink = :sink")
                      .bind("sink", sink)
                      .mapTo(Long.class)
                      .one()
                  > 0;
          if (exists || from != 0) {
            return false;
          }
          h.createUpdate(
                  "INSERT INTO audit_sink_cursors (sink, seq, updated_at) VALUES (:sink, :to, :now)")
              .bind("sink", sink)
              .bind("to", to)
              .bind("now", clock.millis())
              .execute();
          return true;
        });
  }

  private static ChainedEntry chained(ResultSet rs) throws SQLException {
    return new ChainedEntry(
        rs.getLong("seq"),
        rs.getString("id"),
        Instant.ofEpochMilli(rs.getLong("at")),
        rs.getString("actor"),
        rs.getString("action"),
        rs.getString("target"),
        rs.getString("detail"),
        rs.getString("prev_hash"),
        rs.getString("hash"));
  }

  /**
   * Which entries to list, newest first.
   *
   * @param actor only this actor's entries, exactly
   * @param action only actions that start with this, e.g. {@code rollout.} or {@code
   *     device.approve}
   * @param target only entries about this target, exactly
   * @param text only entries whose actor, action, target or detail contain this, ignoring case
   * @param before only entries older than this position (the {@code next} of an earlier page)
   */
  public record Query(
      Optional<String> actor,
      Optional<String> action,
      Optional<String> target,
      Optional<String> text,
      Optional<Position> before,
      int limit) {}

  /** Where a page ended: the time and id of its oldest entry. */
  public record Position(long at, String id) {
    private static final java.util.regex.Pattern TEXT =
        java.util.regex.Pattern.compile("([0-9]{1,15})\\.([A-Za-z0-9_-]{1,64})");

    /** Parses {@code <epoch millis>.<id>}, as {@link #toString()} writes it. */
    public static Optional<Position> parse(String text) {
      var m = TEXT.matcher(text);
      return m.matches()
          ? Optional.of(new Position(Long.parseLong(m.group(1)), m.group(2)))
          : Optional.empty();
    }

    @Override
    public String toString() {
      return at + "." + id;
    }
  }

  /**
   * A page of entries, newest first.
   *
   * @param next where the next (older) page starts, when there may be one
   */
  public record Page(List<Entry> items, String next) {}

  /** The entries the query selects, newest first, one page. */
  public Page page(Query q) {
    StringBuilder where = new StringBuilder(" WHERE 1 = 1");
    q.actor().ifPresent(a -> where.append(" AND actor = :actor"));
    q.action().ifPresent(a -> where.append(" AND action LIKE :action ESCAPE '!'"));
    q.target().ifPresent(t -> where.append(" AND target = :target"));
    q.text()
        .ifPresent(
            t ->
                where.append(
                    " AND LOWER(actor || ' ' || action || ' ' || COALESCE(target, '') || ' ' ||"
                        + " COALESCE(detail, '')) LIKE :text ESCAPE '!'"));
    q.before()
        .ifPresent(
            b -> where.append(" AND (at < :beforeAt OR (at = :beforeAt AND id < :beforeId))"));
    List<Entry> items =
        jdbi.withHandle(
            h -> {
              var query =
                  h.createQuery(
                          "SELECT id, at, actor, action, target, detail FROM audit_log"
                              + where
                              + " ORDER BY at DESC, id DESC LIMIT :limit")
                      .bind("limit", q.limit());
              q.actor().ifPresent(a -> query.bind("actor", a));
              q.action().ifPresent(a -> query.bind("action", like(a) + "%"));
              q.target().ifPresent(t -> query.bind("target", t));
              q.text()
                  .ifPresent(
                      t ->
                          query.bind(
                              "text", "%" + like(t.toLowerCase(java.util.Locale.ROOT)) + "%"));
              q.before()
                  .ifPresent(
                      b -> {
                        query.bind("beforeAt", b.at());
                        query.bind("beforeId", b.id());
                      });
              return query.map((rs, ctx) -> entry(rs)).list();
            });
    String next =
        items.size() < q.limit()
            ? null
            : new Position(items.getLast().at().toEpochMilli(), items.getLast().id()).toString();
    return new Page(items, next);
  }

  /** Text matched literally by LIKE (with {@code !} as the escape character). */
  private static String like(String text) {
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_");
  }

  /** The newest entries first. */
  public List<Entry> recent(int limit) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT id, at, actor, action, target, detail FROM audit_log"
                        + " ORDER BY at DESC, id DESC LIMIT :limit")
                .bind("limit", limit)
                .map((rs, ctx) -> entry(rs))
                .list());
  }

  /**
   * The entries made from {@code since} up to {@code upTo} (epoch milliseconds, both included), of
   * these targets only when given, newest first, at most {@code limit}.
   */
  public List<Entry> newest(long since, long upTo, Optional<Set<String>> targets, int limit) {
    return between("at >= :from AND at <= :to", "at DESC", since, upTo, targets, limit);
  }

  /**
   * The entries made after {@code after} up to {@code upTo} (epoch milliseconds), of these targets
   * only when given, oldest first, at most {@code limit}.
   */
  public List<Entry> after(long after, long upTo, Optional<Set<String>> targets, int limit) {
    return between("at > :from AND at <= :to", "at", after, upTo, targets, limit);
  }

  private List<Entry> between(
      String where, String order, long from, long to, Optional<Set<String>> targets, int limit) {
    if (targets.isPresent() && targets.get().isEmpty()) {
      return List.of();
    }
    return jdbi.withHandle(
        h -> {
          var q =
              h.createQuery(
                      "SELECT id, at, actor, action, target, detail FROM audit_log WHERE "
                          + where
                          + (targets.isPresent() ? " AND target IN (<targets>)" : "")
                          + " ORDER BY "
                          + order
                          + " LIMIT :limit")
                  .bind("from", from)
                  .bind("to", to)
                  .bind("limit", limit);
          targets.ifPresent(ids -> q.bindList("targets", List.copyOf(ids)));
          return q.map((rs, ctx) -> entry(rs)).list();
        });
  }

  private static Entry entry(ResultSet rs) throws SQLException {
    return new Entry(
        rs.getString("id"),
        Instant.ofEpochMilli(rs.getLong("at")),
        rs.getString("actor"),
        rs.getString("action"),
        rs.getString("target"),
        rs.getString("detail"));
  }
}
