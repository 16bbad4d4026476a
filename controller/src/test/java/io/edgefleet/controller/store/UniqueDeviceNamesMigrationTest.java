package io.edgefleet.controller.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Devices that shared a name before names were unique are told apart by the migration. */
class UniqueDeviceNamesMigrationTest {
  @TempDir Path dir;

  @Test
  void theOldestKeepsASharedNameTheOthersGetTheirIdAndNoNameCanBeSharedAgain() {
    String url = Database.sqliteUrl(dir);
    Flyway.configure().dataSource(url, null, null).target("923").load().migrate();
    Jdbi jdbi = Jdbi.create(url);
    insert(jdbi, "dev-b", "vm", 2);
    insert(jdbi, "dev-a", "vm", 2);
    insert(jdbi, "dev-c", "vm", 1);
    insert(jdbi, "dev-d", "pos", 3);

    Flyway.configure().dataSource(url, null, null).load().migrate();

    List<String> names =
        jdbi.withHandle(
            h -> h.createQuery("SELECT name FROM devices ORDER BY id").mapTo(String.class).list());
    assertThat(names).containsExactly("vm-dev-a", "vm-dev-b", "vm", "pos");
    assertThatThrownBy(() -> insert(jdbi, "dev-e", "pos", 4)).hasMessageContaining("UNIQUE");
  }

  private static void insert(Jdbi jdbi, String id, String name, long createdAt) {
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "INSERT INTO devices (id, name, lifecycle, enrollment_code, key_fingerprint,"
                        + " public_key, tags, facts, created_at, updated_at) VALUES (:id, :name,"
                        + " 'ACTIVE', :id, :id, 'pub', '{}', '{}', :at, :at)")
                .bind("id", id)
                .bind("name", name)
                .bind("at", createdAt)
                .execute());
  }
}
