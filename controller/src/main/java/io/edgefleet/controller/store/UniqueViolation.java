package io.edgefleet.controller.store;

import java.sql.SQLException;

/**
 * Whether a failed statement broke a primary key or unique constraint, on SQLite or PostgreSQL: the
 * row a check found absent was inserted meanwhile by a concurrent transaction.
 */
public final class UniqueViolation {
  /** PostgreSQL's SQLSTATE for unique_violation. */
  private static final String POSTGRES_UNIQUE = "23505";

  private UniqueViolation() {}

  /** True if {@code error} or one of its causes is a primary key or unique constraint violation. */
  public static boolean is(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof SQLException s && (POSTGRES_UNIQUE.equals(s.getSQLState()) || sqlite(s))) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  private static boolean sqlite(SQLException s) {
    String m = s.getMessage();
    // The SQLite driver names the extended result code in the message.
    return m != null
        && (m.contains("SQLITE_CONSTRAINT_PRIMARYKEY") || m.contains("SQLITE_CONSTRAINT_UNIQUE"));
  }
}
