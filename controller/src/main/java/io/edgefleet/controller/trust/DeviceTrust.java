package io.edgefleet.controller.trust;

import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.DeviceTrustView;
import io.edgefleet.controller.events.FleetEvents;
import io.edgefleet.controller.gateway.Connections;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.tpm.AttestationException;
import io.edgefleet.protocol.tpm.EventLog;
import io.edgefleet.protocol.tpm.TpmFormatException;
import io.edgefleet.protocol.tpm.TpmPublic;
import io.edgefleet.protocol.tpm.VerifiedQuote;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trust of devices enrolled with a TPM: what their quotes showed, and whether they are
 * quarantined. State lives in {@code device_trust} and, for every TPM device, in memory, so that
 * {@link #quarantined} and the device views cost no query. A transition is stored with an event in
 * the fleet's event log and told to the device ({@link ControllerMessage.TrustState}); a device
 * leaving quarantine is handed to the release listener (which tells it to fetch what it was held
 * back from). Software-key devices have no row: they are {@code UNVERIFIED}, never quarantined.
 * Thread-safe.
 *
 * <p>Other features ask {@link #quarantined(String)} before handing a device anything new (desired
 * state, secrets).
 */
public final class DeviceTrust {
  private static final Logger LOG = LoggerFactory.getLogger(DeviceTrust.class);
  static final String EVENT_SOURCE = "trust";
  private static final int MAX_REASON = 1000;

  private final Jdbi jdbi;
  private final Clock clock;
  private final TrustStore store;
  private final DeviceStore devices;
  private final References references;
  private final Connections connections;
  private final Consumer<String> quarantineChanged;
  private final int missedLimit;
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();

  /** A TPM device's trust in memory; {@code missed}: challenges in a row without a good quote. */
  record Entry(
      String state,
      String reason,
      Instant since,
      Instant lastAttested,
      TpmPublic ak,
      List<Integer> pcrs,
      int missed) {
    Entry with(String state, String reason, Instant since, Instant lastAttested, int missed) {
      return new Entry(state, reason, since, lastAttested, ak, pcrs, missed);
    }
  }

  /**
   * @param quarantineChanged hears of a device that entered or left quarantine (one that left may
   *     now get what was held back; its site cache stops or resumes serving it)
   */
  DeviceTrust(
      Jdbi jdbi,
      Clock clock,
      TrustStore store,
      DeviceStore devices,
      References references,
      Connections connections,
      int missedLimit,
      Consumer<String> quarantineChanged) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.store = store;
    this.devices = devices;
    this.references = references;
    this.connections = connections;
    this.missedLimit = missedLimit;
    this.quarantineChanged = quarantineChanged;
  }

  /** Reads every TPM device's trust into memory; call once before the controller serves. */
  void load() {
    jdbi.useHandle(h -> store.all(h).forEach(this::remember));
  }

  /** Reads one device's trust into memory, after its row was written. */
  void load(String deviceId) {
    jdbi.withHandle(h -> store.byId(h, deviceId)).ifPresent(this::remember);
  }

  private void remember(TrustRecord r) {
    TpmPublic ak;
    try {
      ak = TpmPublic.parse(Base64.getDecoder().decode(r.akPublic()));
    } catch (TpmFormatException | IllegalArgumentException e) {
      LOG.warn("device {}: stored attestation key unreadable: {}", r.deviceId(), e.toString());
      return;
    }
    entries.put(
        r.deviceId(),
        new Entry(r.state(), r.reason(), r.since(), r.lastAttested(), ak, r.pcrs(), 0));
  }

  /**
   * Whether the device is quarantined: its last quote did not match its reference, did not verify,
   * or it left too many challenges unanswered. Answered from memory; false for unknown and
   * software-key devices.
   */
  public boolean quarantined(String deviceId) {
    Entry e = entries.get(deviceId);
    return e != null && DeviceTrustView.QUARANTINED.equals(e.state());
  }

  /**
   * Why the device may not be handed anything secret now, or empty: the quarantine check in the
   * shape of the secrets' delivery policy ({@code trust.devices()::refusal}).
   */
  public Optional<String> refusal(String deviceId) {
    Entry e = entries.get(deviceId);
    if (e == null || !DeviceTrustView.QUARANTINED.equals(e.state())) {
      return Optional.empty();
    }
    return Optional.of(
        "device "
            + deviceId
            + " is quarantined"
            + (e.reason() == null ? "" : ": " + e.reason())
            + "; nothing secret is handed to it until it is trusted again (edgefleet devices"
            + " attestation show "
            + deviceId
            + ")");
  }

  /** The device's identity and trust as its view shows it. */
  public DeviceTrustView view(String deviceId) {
    Entry e = entries.get(deviceId);
    return e == null
        ? DeviceTrustView.SOFTWARE_KEY
        : new DeviceTrustView(
            DeviceTrustView.TPM, e.state(), e.reason(), e.since(), e.lastAttested());
  }

  /** Whether the device enrolled with a TPM. */
  public boolean tpm(String deviceId) {
    return entries.containsKey(deviceId);
  }

  Optional<Entry> entry(String deviceId) {
    return Optional.ofNullable(entries.get(deviceId));
  }

  /** Sends the device its trust state, if it has a TPM and is connected. */
  void tell(String deviceId) {
    Entry e = entries.get(deviceId);
    if (e != null) {
      connections.send(deviceId, new ControllerMessage.TrustState(e.state(), e.reason()));
    }
  }

  /**
   * A quote that verified: TRUSTED when its PCRs equal the reference, QUARANTINED naming the PCRs
   * (and the first events) that differ otherwise.
   */
  void verified(String deviceId, VerifiedQuote quote, String eventLogBase64) {
    Instant now = clock.instant();
    Map<Integer, String> pcrs = Measurements.hex(quote.pcrs());
    Optional<TrustRecord> row = jdbi.withHandle(h -> store.byId(h, deviceId));
    if (row.isEmpty()) {
      return;
    }
    TrustRecord r = row.get();
    DeviceRecord device = jdbi.withHandle(h -> devices.byId(h, deviceId)).orElse(null);
    References.Reference ref = references.resolve(r, device);
    List<Integer> differing = Measurements.differing(r.pcrs(), ref.pcrs(), pcrs);
    if (differing.isEmpty()) {
      judge(deviceId, DeviceTrustView.TRUSTED, null, null, null, now, true);
      return;
    }
    String reason =
        Measurements.differ(differing)
            + " from "
            + ref.origin()
            + eventSummary(ref.eventLog(), eventLogBase64);
    judge(deviceId, DeviceTrustView.QUARANTINED, reason, pcrs, eventLogBase64, now, true);
  }

  /** A quote that did not verify for an outstanding challenge: the device is quarantined. */
  void refused(String deviceId, AttestationException e) {
    judge(
        deviceId,
        DeviceTrustView.QUARANTINED,
        "its quote was refused (" + e.reason() + "): " + e.getMessage(),
        null,
        null,
        clock.instant(),
        false);
  }

  /**
   * A challenge left unanswered (or answered with an error); after {@code missedLimit} in a row the
   * device is quarantined, as a device that cannot show its boot cannot be trusted with anything
   * new.
   */
  void missed(String deviceId, String why) {
    Entry e =
        entries.computeIfPresent(
            deviceId,
            (k, v) -> v.with(v.state(), v.reason(), v.since(), v.lastAttested(), v.missed() + 1));
    if (e == null) {
      return;
    }
    Instant now = clock.instant();
    event(deviceId, now, "ATTESTATION_MISSED", "warning", why + " (" + e.missed() + " in a row)");
    if (e.missed() >= missedLimit && !DeviceTrustView.QUARANTINED.equals(e.state())) {
      judge(
          deviceId,
          DeviceTrustView.QUARANTINED,
          "it left " + e.missed() + " attestation challenges in a row unanswered: " + why,
          null,
          null,
          now,
          false);
    }
  }

  /** Records an event about a device's attestation in the fleet's event log. */
  void event(String deviceId, Instant at, String kind, String severity, String message) {
    try {
      jdbi.useTransaction(
          h -> {
            FleetEvents events = FleetEvents.batch(h, EVENT_SOURCE);
            events.add(deviceId, at.toEpochMilli(), kind, severity, null, cut(message));
            events.store();
          });
    } catch (RuntimeException ex) {
      LOG.warn("attestation event for {} not recorded: {}", deviceId, ex.toString());
    }
  }

  /**
   * Stores a verdict; a change of state is recorded as an event and told to the device, and a
   * device entering or leaving quarantine is announced.
   *
   * @param attested whether a quote verified now (its time is stored as the last attestation)
   */
  void judge(
      String deviceId,
      String state,
      String reason,
      Map<Integer, String> currentPcrs,
      String currentEventLog,
      Instant now,
      boolean attested) {
    Entry before = entries.get(deviceId);
    if (before == null) {
      return;
    }
    String why = reason == null ? null : cut(reason);
    boolean changed = !state.equals(before.state());
    Instant since = changed ? now : before.since();
    jdbi.useTransaction(
        h -> {
          store.judged(
              h,
              deviceId,
              state,
              why,
              since,
              currentPcrs,
              currentEventLog,
              attested ? now : null,
              now.toEpochMilli());
          if (changed || (why != null && !Objects.equals(why, before.reason()))) {
            FleetEvents events = FleetEvents.batch(h, EVENT_SOURCE);
            events.add(
                deviceId,
                now.toEpochMilli(),
                state,
                DeviceTrustView.QUARANTINED.equals(state) ? "error" : "info",
                null,
                cut(before.state() + " → " + state + (why == null ? "" : ": " + why)));
            events.store();
          }
        });
    entries.computeIfPresent(
        deviceId,
        (k, v) ->
            v.with(
                state, why, since, attested ? now : v.lastAttested(), attested ? 0 : v.missed()));
    if (changed) {
      LOG.info("device {} is {}{}", deviceId, state, why == null ? "" : ": " + why);
      connections.send(deviceId, new ControllerMessage.TrustState(state, why));
      if (DeviceTrustView.QUARANTINED.equals(before.state())
          != DeviceTrustView.QUARANTINED.equals(state)) {
        quarantineChanged.accept(deviceId);
      }
    }
  }

  /** ": PCR 4 event 23 changed (EV_EFI_BOOT_SERVICES_APPLICATION ...)" for the first events. */
  static String eventSummary(String referenceLog, String currentLog) {
    if (referenceLog == null || currentLog == null) {
      return "";
    }
    try {
      List<EventLog.EventDiff> diffs =
          EventLog.diff(
              EventLog.parse(Base64.getDecoder().decode(referenceLog)),
              EventLog.parse(Base64.getDecoder().decode(currentLog)));
      if (diffs.isEmpty()) {
        return "";
      }
      StringBuilder out = new StringBuilder("; ");
      int shown = 0;
      for (EventLog.EventDiff d : diffs) {
        if (shown == 3) {
          out.append(", and ").append(diffs.size() - shown).append(" more");
          break;
        }
        EventLog.Event e = d.now() != null ? d.now() : d.reference();
        out.append(shown == 0 ? "" : ", ")
            .append("PCR ")
            .append(d.pcr())
            .append(" event ")
            .append(d.index())
            .append(' ')
            .append(d.change())
            .append(" (")
            .append(e.typeName())
            .append(
                e.description() == null || e.description().isBlank() ? "" : " " + e.description())
            .append(')');
        shown++;
      }
      return out.toString();
    } catch (RuntimeException e) {
      return "";
    }
  }

  static String cut(String s) {
    return s.length() <= MAX_REASON ? s : s.substring(0, MAX_REASON - 1) + "…";
  }
}
