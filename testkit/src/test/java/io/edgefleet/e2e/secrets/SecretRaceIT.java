package io.edgefleet.e2e.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two creates of the same secret at once on PostgreSQL: both find no secret of that name, one
 * inserts first, and the other is told the secret exists (not an internal error).
 */
class SecretRaceIT {
  @TempDir Path dir;

  @Test
  void theCreateThatLosesTheRaceIsToldTheSecretExists() throws Exception {
    String url = Postgres.newDatabase();
    try (TestController controller =
            TestController.start(
                TestController.config(dir.resolve("controller")).withDatabase(url, null, null));
        Connection other = DriverManager.getConnection(url);
        Connection watch = DriverManager.getConnection(url)) {
      AdminClient admin = controller.admin();
      // The other create has inserted its row but not committed yet.
      other.setAutoCommit(false);
      try (PreparedStatement insert =
          other.prepareStatement(
              "INSERT INTO secrets (name, namespace, target, version, key_names, size,"
                  + " master_key_id, data_key_wrapped, value_sealed, created_by, created_at,"
                  + " updated_by, updated_at) VALUES ('db', 'shop', '*', 1, '[\"password\"]', 1,"
                  + " 'k', 'w', 's', 'other', 0, 'other', 0)")) {
        insert.executeUpdate();
      }
      CompletableFuture<AdminClient.Answer> create =
          CompletableFuture.supplyAsync(
              () ->
                  admin.post(
                      "/api/v1/secrets",
                      Map.of(
                          "name", "db",
                          "stringData", Map.of("password", "s3cret"),
                          "target", "*",
                          "namespace", "shop")));
      // It found no secret named db and now waits for the other transaction's row.
      await().atMost(Duration.ofSeconds(20)).until(() -> create.isDone() || waitingForALock(watch));
      assertThat(create).as("the create waits for the other transaction").isNotDone();
      other.commit();

      AdminClient.Answer answer = create.get();
      assertThat(answer.status()).as(answer.body().toString()).isEqualTo(409);
      assertThat(answer.code()).isEqualTo(ErrorCode.SECRET_EXISTS.name());
      assertThat(answer.body().path("message").asText()).contains("secret db exists");
    }
  }

  /** On a connection of its own: a transaction sees the activity as it was when it began. */
  private static boolean waitingForALock(Connection c) throws Exception {
    try (PreparedStatement s =
            c.prepareStatement(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO secrets%'");
        ResultSet rs = s.executeQuery()) {
      rs.next();
      return rs.getInt(1) > 0;
    }
  }
}
