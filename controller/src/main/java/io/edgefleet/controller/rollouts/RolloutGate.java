package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.ReleaseGate;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Handle;

/**
 * Decides from the rollouts which revision of a phased app a device gets. The latest rollout of an
 * app governs it: a device the rollout released follows the new revision, one it holds back or
 * rolled back gets exactly what it was told before, and a device outside the rollout keeps what it
 * has until the rollout succeeded (the engine adds it to the rollout on its next tick). A phased
 * app whose current revision has no rollout yet is held everywhere.
 *
 * <p>Made before both engines: the desired-state engine asks it, the rollout engine keeps it
 * current. The latest rollout per app is cached and reloaded after {@link #invalidate};
 * thread-safe.
 */
public final class RolloutGate implements ReleaseGate {
  record Latest(String id, String toRevision, RolloutEngine.State state) {}

  private volatile Map<String, Latest> latest;
  private final java.util.concurrent.atomic.AtomicLong version =
      new java.util.concurrent.atomic.AtomicLong();

  synchronized void invalidate() {
    version.incrementAndGet();
    latest = null;
  }

  Map<String, Latest> latest(Handle h) {
    Map<String, Latest> l = latest;
    if (l == null) {
      long before = version.get();
      Map<String, Latest> loaded = new HashMap<>();
      h.createQuery(
              "SELECT r.subject, r.id, r.to_revision, r.state FROM rollouts r WHERE r.seq ="
                  + " (SELECT MAX(x.seq) FROM rollouts x WHERE x.subject = r.subject)")
          .map(
              (rs, ctx) ->
                  Map.entry(
                      rs.getString(1),
                      new Latest(
                          rs.getString(2),
                          rs.getString(3),
                          RolloutEngine.State.valueOf(rs.getString(4)))))
          .forEach(e -> loaded.put(e.getKey(), e.getValue()));
      l = Map.copyOf(loaded);
      // A load that raced with a change is used once but not kept.
      synchronized (this) {
        if (version.get() == before) {
          latest = l;
        }
      }
    }
    return l;
  }

  private record Member(
      RolloutEngine.Member state, String prevRevision, String prevBundle, String prevCommit) {
    Decision previous() {
      return prevBundle == null ? ABSENT : new Pin(prevRevision, prevBundle, prevCommit);
    }
  }

  /**
   * The apps whose latest rollout, running (progressing or paused) to the app's current revision,
   * has the device waiting for its release, or has not taken it in yet.
   */
  @Override
  public java.util.Set<String> staging(Handle h, String deviceId, List<AppCatalog.App> apps) {
    Map<String, Latest> all = latest(h);
    java.util.Set<String> out = new java.util.HashSet<>();
    Map<String, RolloutEngine.Member> states = null;
    for (AppCatalog.App app : apps) {
      Latest l = all.get(app.subject());
      if (l == null
          || !l.toRevision().equals(app.revision())
          || (l.state() != RolloutEngine.State.PROGRESSING
              && l.state() != RolloutEngine.State.PAUSED)) {
        continue;
      }
      if (states == null) {
        Map<String, RolloutEngine.Member> loaded = new HashMap<>();
        h.createQuery("SELECT rollout_id, state FROM rollout_devices WHERE device_id = :d")
            .bind("d", deviceId)
            .map(
                (rs, ctx) ->
                    Map.entry(rs.getString(1), RolloutEngine.Member.valueOf(rs.getString(2))))
            .forEach(e -> loaded.put(e.getKey(), e.getValue()));
        states = loaded;
      }
      RolloutEngine.Member m = states.get(l.id());
      if (m == null || m == RolloutEngine.Member.WAITING) {
        out.add(app.name());
      }
    }
    return out;
  }

  @Override
  public Map<String, Decision> decide(Handle h, String deviceId, List<AppCatalog.App> apps) {
    Map<String, Latest> all = latest(h);
    Map<String, Member> rows = new HashMap<>();
    h.createQuery(
            "SELECT rollout_id, state, prev_revision, prev_bundle, prev_commit FROM"
                + " rollout_devices WHERE device_id = :d")
        .bind("d", deviceId)
        .map(
            (rs, ctx) ->
                Map.entry(
                    rs.getString(1),
                    new Member(
                        RolloutEngine.Member.valueOf(rs.getString(2)),
                        rs.getString(3),
                        rs.getString(4),
                        rs.getString(5))))
        .forEach(e -> rows.put(e.getKey(), e.getValue()));
    Map<String, Decision> out = new HashMap<>();
    for (AppCatalog.App app : apps) {
      Latest l = all.get(app.subject());
      if (l == null || !l.toRevision().equals(app.revision())) {
        out.put(app.name(), KEEP);
        continue;
      }
      Member m = rows.get(l.id());
      Decision d;
      if (m == null || m.state() == RolloutEngine.Member.LEFT) {
        d = l.state() == RolloutEngine.State.SUCCEEDED ? FOLLOW : KEEP;
      } else {
        d =
            switch (m.state()) {
              case RELEASED -> FOLLOW;
              case WAITING, REVERTED -> m.previous();
              case LEFT -> KEEP;
            };
      }
      out.put(app.name(), d);
    }
    return out;
  }
}
