package io.edgefleet.controller.desired;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jdbi.v3.core.Handle;

/**
 * Decides, per device, which revision of a phased app the device gets: the catalog's revision once
 * its rollout released the device, otherwise what it had before. Implementations must be
 * thread-safe.
 */
public interface ReleaseGate {

  /** What one device gets for one app. */
  sealed interface Decision permits Follow, Keep, Pin, Absent {}

  /** The catalog's current revision, rendered for the device. */
  record Follow() implements Decision {}

  /** Whatever the device was told before; nothing if it had nothing. */
  record Keep() implements Decision {}

  /**
   * Exactly this revision and stored bundle (e.g. the version a rollback returns to), with the
   * commit it came from when it came from Git (else null).
   */
  record Pin(String revision, String bundle, String commit) implements Decision {}

  /** Nothing: the app is not (or no longer) on the device. */
  record Absent() implements Decision {}

  Decision FOLLOW = new Follow();
  Decision KEEP = new Keep();
  Decision ABSENT = new Absent();

  /** A gate that lets every revision through at once. */
  ReleaseGate OPEN = (h, deviceId, apps) -> Map.of();

  /**
   * Decisions for the phased apps among {@code apps} (all of which target the device). Apps without
   * an entry follow the catalog.
   */
  Map<String, Decision> decide(Handle h, String deviceId, List<AppCatalog.App> apps);

  /**
   * The names of the phased apps among {@code apps} whose current revision a running rollout holds
   * back from the device and will release to it: the device downloads that revision's artifacts
   * ahead ("download early, switch in the window"). None by default.
   */
  default Set<String> staging(Handle h, String deviceId, List<AppCatalog.App> apps) {
    return Set.of();
  }
}
