package io.edgefleet.controller.trust;

import io.edgefleet.controller.devices.DeviceRecord;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Which measurements a device's quotes are compared with. Precedence, most specific intent first:
 *
 * <ol>
 *   <li>the device's own reference when an operator accepted it for this device;
 *   <li>a reference pinned for one of the device's tags (the newest such pin);
 *   <li>a reference pinned for the device's hardware model;
 *   <li>the device's own reference learned at enrollment.
 * </ol>
 *
 * Pins are few and kept in memory, read again after every change. Thread-safe.
 */
final class References {
  private final Jdbi jdbi;
  private final TrustStore store;
  private final AtomicReference<List<Pin>> pins = new AtomicReference<>();

  References(Jdbi jdbi, TrustStore store) {
    this.jdbi = jdbi;
    this.store = store;
  }

  /** The reference a device is judged by, and where it comes from. */
  record Reference(Map<Integer, String> pcrs, String eventLog, String origin, String pinId) {}

  Reference resolve(TrustRecord r, DeviceRecord device) {
    if (TrustRecord.ACCEPTED.equals(r.referenceSource())) {
      return own(r);
    }
    Map<String, String> tags = device == null ? Map.of() : device.tags();
    String model = device == null || device.facts() == null ? null : device.facts().model();
    Pin byModel = null;
    for (Pin p : pins()) {
      if (Pin.TAG.equals(p.scope()) && p.value().equals(tags.get(p.key()))) {
        return pinned(p);
      }
      if (byModel == null && Pin.MODEL.equals(p.scope()) && p.key().equals(model)) {
        byModel = p;
      }
    }
    return byModel != null ? pinned(byModel) : own(r);
  }

  private static Reference own(TrustRecord r) {
    return new Reference(
        r.referencePcrs(),
        r.referenceEventLog(),
        "the device's own reference (" + r.referenceSource() + ")",
        null);
  }

  private static Reference pinned(Pin p) {
    return new Reference(
        p.pcrs(), p.eventLog(), "the reference pinned for " + p.describe(), p.id());
  }

  List<Pin> pins() {
    List<Pin> cached = pins.get();
    if (cached == null) {
      cached = List.copyOf(jdbi.withHandle(store::pins));
      pins.set(cached);
    }
    return cached;
  }

  void pin(Handle h, Pin p) {
    store.pin(h, p);
    pins.set(null);
  }

  boolean unpin(Handle h, String id) {
    boolean removed = store.unpin(h, id);
    pins.set(null);
    return removed;
  }

  /** Forgets the pins read, after a transaction that changed them rolled back. */
  void forget() {
    pins.set(null);
  }
}
