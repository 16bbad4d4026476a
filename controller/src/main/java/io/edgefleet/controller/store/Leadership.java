package io.edgefleet.controller.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which controller replica runs the jobs that must run once (rollout ticks, alert evaluation,
 * retention, the recompute safety net): the one holding a PostgreSQL session-level advisory lock,
 * on a connection of its own. When the leader dies its session ends, PostgreSQL releases the lock,
 * and the next {@link #check} of another replica takes it: failover within a second or two. The
 * leader's session asks PostgreSQL to probe it with TCP keepalives every few seconds, so a leader
 * cut off by the network loses the lock within seconds too; and a leader whose connection fails
 * stops leading at its next check. On SQLite the single process always leads.
 *
 * <p>Thread-safe; {@link #leader} never blocks.
 */
public final class Leadership implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Leadership.class);

  /** The advisory lock's key: "edgefltl" in ASCII. */
  static final long KEY = 0x656467_65666c746cL;

  private final Database db;
  private final String replica;
  private volatile boolean leader;
  private final Runnable onElected;
  private Connection session;

  /**
   * @param replica how this replica names itself in the log
   */
  public Leadership(Database db, String replica) {
    this(db, replica, () -> {});
  }

  /**
   * @param replica how this replica names itself in the log
   * @param onElected runs each time this replica takes the lead from another (never on SQLite,
   *     where the one process always leads): work a killed leader may have left half done is done
   *     again
   */
  public Leadership(Database db, String replica, Runnable onElected) {
    this.db = db;
    this.replica = replica;
    this.onElected = onElected;
    this.leader = db.kind() == Database.Kind.SQLITE;
  }

  /** Whether this replica runs the once-only jobs now. */
  public boolean leader() {
    return leader;
  }

  /** Runs {@code job} only while this replica leads. */
  public Runnable ifLeader(Runnable job) {
    return () -> {
      if (leader) {
        job.run();
      }
    };
  }

  /** One check: keeps, takes or loses the lead. Called every second. */
  public synchronized void check() {
    if (db.kind() == Database.Kind.SQLITE) {
      return;
    }
    try {
      if (session == null || session.isClosed()) {
        session = db.openDedicated();
        try (Statement s = session.createStatement()) {
          // A leader cut off by the network: PostgreSQL ends its session, and the lock with it,
          // after about 5 + 2 × 3 seconds of silence.
          s.execute("SET tcp_keepalives_idle = 5");
          s.execute("SET tcp_keepalives_interval = 2");
          s.execute("SET tcp_keepalives_count = 3");
        }
      }
      if (leader) {
        if (!session.isValid(2)) {
          lost("its database session failed");
        }
        return;
      }
      try (PreparedStatement ps = session.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
        ps.setLong(1, KEY);
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next() && rs.getBoolean(1)) {
            leader = true;
            LOG.info("controller {} leads: it runs rollouts, alerts and retention", replica);
            try {
              onElected.run();
            } catch (RuntimeException e) {
              LOG.warn(
                  "controller {}: the work on taking the lead failed: {}", replica, e.toString());
            }
          }
        }
      }
    } catch (SQLException e) {
      lost(e.getMessage());
    }
  }

  private void lost(String why) {
    if (leader) {
      LOG.warn("controller {} stops leading: {}", replica, why);
    }
    leader = false;
    closeSession();
  }

  private void closeSession() {
    if (session != null) {
      try {
        session.close();
      } catch (SQLException e) {
        // Gone already: the lock went with it.
      }
      session = null;
    }
  }

  /** Gives the lead up (the session ends, and the lock with it). */
  @Override
  public synchronized void close() {
    leader = db.kind() == Database.Kind.SQLITE && leader;
    closeSession();
  }
}
