package io.edgefleet.controller.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.edgefleet.protocol.SecureFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Jdbi;

/**
 * The controller's SQL database: embedded SQLite in the data directory by default, PostgreSQL for
 * production. The same migrations and the same SQL run on both. Thread-safe.
 */
public final class Database implements AutoCloseable {
  private final HikariDataSource dataSource;
  private final Jdbi jdbi;
  private final Kind kind;

  public enum Kind {
    SQLITE,
    POSTGRESQL
  }

  private Database(HikariDataSource dataSource, Kind kind) {
    this.dataSource = dataSource;
    this.kind = kind;
    this.jdbi = Jdbi.create(dataSource);
  }

  /** How long a thread may keep SQLite's only connection before the log says where it took it. */
  static final java.time.Duration LONG_HOLD = java.time.Duration.ofSeconds(10);

  /** The default embedded database file inside the data directory. */
  public static String sqliteUrl(Path dataDir) {
    return "jdbc:sqlite:" + dataDir.resolve("edgefleet.db").toAbsolutePath();
  }

  /** Opens the database at {@code url} and applies pending migrations. */
  public static Database open(String url, String user, String password) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setPoolName("edgefleet-db");
    Kind kind;
    if (url.startsWith("jdbc:sqlite:")) {
      kind = Kind.SQLITE;
      createPrivately(url.substring("jdbc:sqlite:".length()));
      // One connection: SQLite has a single writer, and one connection avoids SQLITE_BUSY
      // between our own threads. WAL keeps readers of other processes unblocked.
      config.setMaximumPoolSize(1);
      config.addDataSourceProperty("journal_mode", "WAL");
      config.addDataSourceProperty("synchronous", "NORMAL");
      config.addDataSourceProperty("foreign_keys", "true");
      config.addDataSourceProperty("busy_timeout", "10000");
      // With one connection, a thread that keeps it long stalls every other: name it in the log
      // (with where it took the connection) so such a stall can be found.
      config.setLeakDetectionThreshold(LONG_HOLD.toMillis());
    } else if (url.startsWith("jdbc:postgresql:")) {
      kind = Kind.POSTGRESQL;
      config.setMaximumPoolSize(10);
      if (user != null) {
        config.setUsername(user);
      }
      if (password != null) {
        config.setPassword(password);
      }
    } else {
      throw new IllegalArgumentException(
          "unsupported database URL "
              + url
              + ": use jdbc:sqlite:<file> or jdbc:postgresql://host:port/db");
    }
    HikariDataSource ds = new HikariDataSource(config);
    try {
      Flyway.configure().dataSource(ds).locations("classpath:db/migration").load().migrate();
    } catch (RuntimeException e) {
      ds.close();
      throw e;
    }
    return new Database(ds, kind);
  }

  /**
   * Creates a missing SQLite file 0600 before SQLite opens it: SQLite would create it with the
   * umask, and it gives its journal and WAL files the database file's own mode.
   */
  private static void createPrivately(String file) {
    if (file.isEmpty() || file.startsWith(":") || file.startsWith("file:")) {
      return;
    }
    Path path = Path.of(file.contains("?") ? file.substring(0, file.indexOf('?')) : file);
    if (Files.exists(path)
        || !FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      return;
    }
    try {
      Files.createFile(path, SecureFiles.ownerOnlyFile());
    } catch (FileAlreadyExistsException e) {
      // Created meanwhile by another process: its mode is its creator's business.
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the database file " + path, e);
    }
  }

  public Jdbi jdbi() {
    return jdbi;
  }

  /**
   * A new connection of its own, outside the pool, for a session that must outlive requests (the
   * leader lock). The caller closes it.
   */
  public java.sql.Connection openDedicated() throws java.sql.SQLException {
    return java.sql.DriverManager.getConnection(
        dataSource.getJdbcUrl(), dataSource.getUsername(), dataSource.getPassword());
  }

  public Kind kind() {
    return kind;
  }

  /** Cheap liveness probe for {@code /healthz}. */
  public boolean healthy() {
    try {
      return jdbi.withHandle(h -> h.createQuery("SELECT 1").mapTo(Integer.class).one()) == 1;
    } catch (RuntimeException e) {
      return false;
    }
  }

  @Override
  public void close() {
    dataSource.close();
  }
}
