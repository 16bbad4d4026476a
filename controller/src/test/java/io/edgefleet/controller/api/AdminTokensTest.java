package io.edgefleet.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.common.Tokens;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.store.Database;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminTokensTest {
  @TempDir Path dir;
  Database db;
  TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void wrongTokensDoNotReloadTheTableEachTime() {
    AdminTokens tokens = new AdminTokens(db.jdbi(), clock);
    String admin = tokens.createInitialIfNone().orElseThrow();
    long before = tokens.reloads();
    for (int i = 0; i < 1_000; i++) {
      assertThat(tokens.authenticate("efa_wrong" + i)).isEmpty();
    }
    assertThat(tokens.reloads() - before).isLessThanOrEqualTo(1);
    assertThat(tokens.authenticate(admin)).contains("admin");
  }

  @Test
  void aTokenAddedByAnotherReplicaIsSeenWithinTheReloadInterval() {
    AdminTokens tokens = new AdminTokens(db.jdbi(), clock);
    tokens.createInitialIfNone();
    assertThat(tokens.authenticate("efa_later")).isEmpty();
    db.jdbi()
        .useHandle(
            h ->
                h.execute(
                    "INSERT INTO admin_tokens (id, name, token_hash, created_at)"
                        + " VALUES ('adm-2', 'ops', ?, 0)",
                    Tokens.hash("efa_later")));
    clock.advance(AdminTokens.RELOAD_INTERVAL.plus(Duration.ofMillis(1)));
    assertThat(tokens.authenticate("efa_later")).contains("ops");
  }
}
