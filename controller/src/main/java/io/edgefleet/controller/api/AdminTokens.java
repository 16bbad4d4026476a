package io.edgefleet.controller.api;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.common.Tokens;
import io.edgefleet.protocol.ErrorCode;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.jdbi.v3.core.Jdbi;

/**
 * Bearer tokens of operators. Only hashes are stored. There is no default password: the first start
 * creates one token and shows it once. Thread-safe.
 *
 * <p>Tokens are held in memory. An unknown token reloads the table (another controller replica may
 * have created it), but at most once per {@link #RELOAD_INTERVAL}: a client sending wrong tokens
 * costs a hash and a map lookup, never a database query each.
 */
public final class AdminTokens {
  /** The shortest time between two reloads of the token table caused by unknown tokens. */
  static final Duration RELOAD_INTERVAL = Duration.ofSeconds(5);

  private final Jdbi jdbi;
  private final Clock clock;
  private final Map<String, String> nameByHash = new ConcurrentHashMap<>();
  private final AtomicLong reloads = new AtomicLong();
  private final AtomicLong lastReload = new AtomicLong();

  public AdminTokens(Jdbi jdbi, Clock clock) {
    this.jdbi = jdbi;
    this.clock = clock;
    reload();
  }

  private void reload() {
    lastReload.set(clock.millis());
    reloads.incrementAndGet();
    jdbi.useHandle(
        h ->
            h.createQuery("SELECT token_hash, name FROM admin_tokens")
                .map((rs, ctx) -> Map.entry(rs.getString(1), rs.getString(2)))
                .forEach(e -> nameByHash.put(e.getKey(), e.getValue())));
  }

  /**
   * Creates the first admin token if none exists yet.
   *
   * @return the new token, shown to the operator once; empty if tokens already existed
   */
  public synchronized Optional<String> createInitialIfNone() {
    return jdbi.inTransaction(
        h -> {
          int n = h.createQuery("SELECT COUNT(*) FROM admin_tokens").mapTo(Integer.class).one();
          if (n > 0) {
            return Optional.empty();
          }
          String token = Ids.secret("efa");
          String hash = Tokens.hash(token);
          h.createUpdate(
                  "INSERT INTO admin_tokens (id, name, token_hash, created_at)"
                      + " VALUES (:id, 'admin', :hash, :now)")
              .bind("id", Ids.next("adm"))
              .bind("hash", hash)
              .bind("now", clock.millis())
              .execute();
          nameByHash.put(hash, "admin");
          return Optional.of(token);
        });
  }

  /** The operator name behind a bearer token, if the token is valid. */
  public Optional<String> authenticate(String token) {
    if (token == null || token.isBlank() || token.length() > 200) {
      return Optional.empty();
    }
    String hash = Tokens.hash(token.trim());
    String name = nameByHash.get(hash);
    if (name == null) {
      // Another controller replica sharing the database may have created it.
      long last = lastReload.get();
      long now = clock.millis();
      if (now - last >= RELOAD_INTERVAL.toMillis() && lastReload.compareAndSet(last, now)) {
        reload();
        name = nameByHash.get(hash);
      }
    }
    return Optional.ofNullable(name);
  }

  /**
   * This table's tokens as operators' credentials: each holds every permission, as the one kind of
   * operator there was before users and roles.
   */
  public Authenticator authenticator() {
    return token ->
        authenticate(token)
            .map(Principal::administrator)
            .orElseThrow(
                () ->
                    new ControllerException(
                        ErrorCode.UNAUTHENTICATED,
                        "the bearer token is not valid for this controller"));
  }

  /** How many times the token table was read. */
  long reloads() {
    return reloads.get();
  }
}
