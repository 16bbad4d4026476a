package io.edgefleet.controller.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Constraint violations of a real SQLite database (PostgreSQL's are covered end to end). */
class UniqueViolationTest {
  @TempDir Path dir;

  @Test
  void primaryKeyAndUniqueViolationsAreRecognisedOthersAreNot() throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("t.db"));
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE t (name VARCHAR(10) PRIMARY KEY, code TEXT UNIQUE, v TEXT NOT NULL)");
      s.execute("INSERT INTO t VALUES ('a', 'x', 'v')");

      assertThat(UniqueViolation.is(fail(s, "INSERT INTO t VALUES ('a', 'y', 'v')"))).isTrue();
      assertThat(UniqueViolation.is(fail(s, "INSERT INTO t VALUES ('b', 'x', 'v')"))).isTrue();
      assertThat(UniqueViolation.is(fail(s, "INSERT INTO t VALUES ('c', 'z', NULL)"))).isFalse();
      assertThat(UniqueViolation.is(fail(s, "INSERT INTO nope VALUES (1)"))).isFalse();
      assertThat(UniqueViolation.is(new IllegalStateException("no SQL"))).isFalse();
    }
  }

  @Test
  void aViolationWrappedByJdbiIsRecognised() {
    Jdbi jdbi = Jdbi.create("jdbc:sqlite:" + dir.resolve("j.db"));
    jdbi.useHandle(h -> h.execute("CREATE TABLE t (name VARCHAR(10) PRIMARY KEY)"));
    jdbi.useHandle(h -> h.execute("INSERT INTO t VALUES ('a')"));

    Throwable e =
        catchThrowable(() -> jdbi.useTransaction(h -> h.execute("INSERT INTO t VALUES ('a')")));

    assertThat(e).isNotNull();
    assertThat(UniqueViolation.is(e)).isTrue();
  }

  private static SQLException fail(Statement s, String sql) {
    Throwable e = catchThrowable(() -> s.execute(sql));
    assertThat(e).isInstanceOf(SQLException.class);
    return (SQLException) e;
  }
}
