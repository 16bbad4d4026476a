package io.edgefleet.controller.gateway;

import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ControllerMessage;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Nudges for devices whose connection another controller replica holds. A replica that wrote a new
 * desired state for a device not connected to it publishes {@code "<device> <generation>"} on the
 * PostgreSQL channel {@link #CHANNEL}; every replica listens on a session of its own and nudges the
 * device if its socket is there, and the device fetches the document from any replica. On SQLite
 * there is one process and nothing to route.
 *
 * <p>Thread-safe. The listener runs on its own daemon thread and reconnects when its session fails;
 * a nudge lost meanwhile is made up by the device's next reconnect or the next document.
 */
public final class ReplicaNudges implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicaNudges.class);

  /** The notification channel. */
  static final String CHANNEL = "edgefleet_nudge";

  private static final Pattern PAYLOAD = Pattern.compile("([A-Za-z0-9_-]{1,64}) (\\d{1,19})");
  private static final int WAIT_MILLIS = 500;

  private final Database db;
  private final Connections connections;
  private final boolean routed;
  private volatile boolean closed;
  private Thread listener;

  public ReplicaNudges(Database db, Connections connections) {
    this.db = db;
    this.connections = connections;
    this.routed = db.kind() == Database.Kind.POSTGRESQL;
  }

  /** Starts listening (PostgreSQL only). */
  public synchronized void start() {
    if (!routed || listener != null) {
      return;
    }
    listener = new Thread(this::listen, "edgefleet-replica-nudges");
    listener.setDaemon(true);
    listener.start();
  }

  /**
   * Nudges the device here if it is connected here, else tells the other replicas.
   *
   * @return whether the device was nudged here
   */
  public boolean nudge(String deviceId, ControllerMessage.Nudge nudge) {
    if (connections.send(deviceId, nudge)) {
      return true;
    }
    if (routed && !closed) {
      try {
        db.jdbi()
            .useHandle(
                h ->
                    h.createQuery("SELECT pg_notify(:channel, :payload)")
                        .bind("channel", CHANNEL)
                        .bind("payload", deviceId + " " + nudge.generation())
                        .mapTo(String.class)
                        .findOne());
      } catch (RuntimeException e) {
        LOG.warn("the other replicas could not be told to nudge {}: {}", deviceId, e.toString());
      }
    }
    return false;
  }

  private void listen() {
    Connection session = null;
    while (!closed) {
      try {
        if (session == null) {
          session = db.openDedicated();
          try (Statement s = session.createStatement()) {
            s.execute("LISTEN " + CHANNEL);
          }
        }
        PGNotification[] got = session.unwrap(PGConnection.class).getNotifications(WAIT_MILLIS);
        if (got != null) {
          for (PGNotification n : got) {
            heard(n.getParameter());
          }
        }
      } catch (SQLException e) {
        if (!closed) {
          LOG.warn("listening for other replicas' nudges failed, again in 1 s: {}", e.toString());
        }
        close(session);
        session = null;
        pause();
      }
    }
    close(session);
  }

  /** A replica published a nudge: sent to the device if its socket is here. */
  void heard(String payload) {
    Matcher m = PAYLOAD.matcher(payload == null ? "" : payload);
    if (m.matches()) {
      connections.nudge(m.group(1), Long.parseLong(m.group(2)));
    }
  }

  private static void close(Connection session) {
    if (session != null) {
      try {
        session.close();
      } catch (SQLException e) {
        // Gone already.
      }
    }
  }

  private void pause() {
    try {
      Thread.sleep(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      closed = true;
    }
  }

  @Override
  public void close() {
    closed = true;
    Thread t;
    synchronized (this) {
      t = listener;
    }
    if (t != null) {
      t.interrupt();
    }
  }
}
