package io.edgefleet.controller.trust;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.DeviceTrustView;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Labels;
import io.edgefleet.protocol.tpm.EventLog;
import io.edgefleet.protocol.tpm.TpmPublic;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * What operators do with a device's attestation: look at its measurements against its reference
 * event by event, accept the current ones as its reference (which ends a quarantine), and pin a
 * device's measurements as the reference of a hardware model or tag. Every change is audited.
 * Thread-safe.
 */
public final class TrustReview {
  private static final int MAX_MATCH = 300;

  private final Jdbi jdbi;
  private final Clock clock;
  private final TrustStore store;
  private final DeviceStore devices;
  private final References references;
  private final DeviceTrust trust;
  private final AuditLog audit;

  TrustReview(
      Jdbi jdbi,
      Clock clock,
      TrustStore store,
      DeviceStore devices,
      References references,
      DeviceTrust trust,
      AuditLog audit) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.store = store;
    this.devices = devices;
    this.references = references;
    this.trust = trust;
    this.audit = audit;
  }

  /** The body of a pin: {@code model: true} for the device's hardware model, or a tag key. */
  public record PinRequest(Boolean model, String tag) {}

  public AttestationView show(String idOrCode) {
    return jdbi.withHandle(
        h -> {
          DeviceRecord d = device(h, idOrCode);
          var row = store.byId(h, d.id());
          if (row.isEmpty()) {
            return new AttestationView(
                d.id(),
                DeviceTrustView.SOFTWARE,
                DeviceTrustView.UNVERIFIED,
                "enrolled with a software key: nothing to attest",
                null,
                null,
                null,
                null,
                null,
                null,
                List.of(),
                List.of());
          }
          TrustRecord r = row.get();
          References.Reference ref = references.resolve(r, d);
          Map<Integer, String> current = r.currentPcrs() != null ? r.currentPcrs() : ref.pcrs();
          List<AttestationView.Pcr> pcrs = new ArrayList<>();
          for (int i : r.pcrs()) {
            String a = ref.pcrs().get(i);
            String b = current.get(i);
            pcrs.add(new AttestationView.Pcr(i, a, b, !Objects.equals(a, b)));
          }
          String currentLog = r.currentEventLog() != null ? r.currentEventLog() : ref.eventLog();
          return new AttestationView(
              d.id(),
              DeviceTrustView.TPM,
              r.state(),
              r.reason(),
              r.since(),
              r.ekIssuer(),
              akName(r.akPublic()),
              r.lastAttested(),
              ref.origin(),
              ref.pinId() == null ? r.referenceAt() : pinTime(ref.pinId()),
              pcrs,
              events(ref.eventLog(), currentLog));
        });
  }

  private Instant pinTime(String pinId) {
    return references.pins().stream()
        .filter(p -> p.id().equals(pinId))
        .map(Pin::createdAt)
        .findFirst()
        .orElse(null);
  }

  /**
   * Adopts the device's current measurements as its own reference, which takes precedence over
   * pinned ones; a quarantined device whose measurements verified becomes TRUSTED and gets what was
   * held back.
   *
   * @throws ControllerException {@code CONFLICT} when the device's last quote did not verify (there
   *     are no measurements to accept), {@code VALIDATION_FAILED} for a software-key device
   */
  public AttestationView accept(String idOrCode, String actor) {
    String id =
        jdbi.inTransaction(
            h -> {
              DeviceRecord d = device(h, idOrCode);
              TrustRecord r = tpmRow(h, d);
              Map<Integer, String> pcrs;
              String log;
              if (r.currentPcrs() != null) {
                pcrs = r.currentPcrs();
                log = r.currentEventLog();
              } else if (DeviceTrustView.TRUSTED.equals(r.state())) {
                References.Reference ref = references.resolve(r, d);
                pcrs = ref.pcrs();
                log = ref.eventLog();
              } else {
                throw new ControllerException(
                    ErrorCode.CONFLICT,
                    "device "
                        + d.id()
                        + " has no verified measurements to accept: "
                        + (r.reason() == null ? "it has not been attested yet" : r.reason())
                        + ". It is challenged again at its next connection or interval; accept"
                        + " once its quote verifies");
              }
              store.setReference(h, d.id(), pcrs, log, TrustRecord.ACCEPTED, clock.millis());
              audit.record(
                  h,
                  actor,
                  "device.attestation.accept",
                  d.id(),
                  Map.of("from", r.state(), "pcrs", Measurements.selection(r.pcrs())));
              return d.id();
            });
    trust.judge(id, DeviceTrustView.TRUSTED, null, null, null, clock.instant(), false);
    return show(id);
  }

  /**
   * Pins the device's current (or reference) measurements as the reference of its hardware model or
   * of one of its tags, replacing an earlier pin of the same match.
   */
  public Pin pin(String idOrCode, PinRequest req, String actor) {
    if (req == null || Boolean.TRUE.equals(req.model()) == (req.tag() != null)) {
      throw ControllerException.invalid(
          "give either \"model\": true (pin for the device's hardware model) or \"tag\": KEY"
              + " (pin for devices with the device's value of that tag)");
    }
    Pin pinned =
        jdbi.inTransaction(
            h -> {
              DeviceRecord d = device(h, idOrCode);
              TrustRecord r = tpmRow(h, d);
              String scope;
              String key;
              String value;
              if (req.tag() != null) {
                try {
                  Labels.validateKey(req.tag());
                } catch (IllegalArgumentException e) {
                  throw ControllerException.invalid("tag: " + e.getMessage());
                }
                scope = Pin.TAG;
                key = req.tag();
                value = d.tags().get(key);
                if (value == null) {
                  throw ControllerException.invalid(
                      "device " + d.id() + " has no tag " + key + " to pin its measurements for");
                }
              } else {
                scope = Pin.MODEL;
                key = d.facts() == null ? null : d.facts().model();
                value = "";
                if (key == null || key.isBlank()) {
                  throw ControllerException.invalid(
                      "device "
                          + d.id()
                          + " reports no hardware model; pin for one of its tags instead");
                }
              }
              if (key.length() > MAX_MATCH || value.length() > MAX_MATCH) {
                throw ControllerException.invalid("the model or tag is too long to pin");
              }
              boolean current = r.currentPcrs() != null;
              TrustRecord full = store.byId(h, d.id()).orElseThrow();
              Pin p =
                  new Pin(
                      Ids.next("pin"),
                      scope,
                      key,
                      value,
                      current ? full.currentPcrs() : full.referencePcrs(),
                      current ? full.currentEventLog() : full.referenceEventLog(),
                      d.id(),
                      actor,
                      clock.instant());
              references.pin(h, p);
              audit.record(
                  h,
                  actor,
                  "device.attestation.pin",
                  d.id(),
                  Map.of("scope", scope, "match", p.describe(), "pin", p.id()));
              return p;
            });
    references.forget();
    return pinned;
  }

  public List<Pin> pins() {
    return references.pins().stream().map(TrustReview::withoutLog).toList();
  }

  public void unpin(String id, String actor) {
    jdbi.useTransaction(
        h -> {
          if (!references.unpin(h, id)) {
            throw ControllerException.notFound("pinned reference", id);
          }
          audit.record(h, actor, "attestation.unpin", id, Map.of());
        });
    references.forget();
  }

  private static Pin withoutLog(Pin p) {
    return new Pin(
        p.id(),
        p.scope(),
        p.key(),
        p.value(),
        p.pcrs(),
        null,
        p.sourceDevice(),
        p.createdBy(),
        p.createdAt());
  }

  private DeviceRecord device(Handle h, String idOrCode) {
    return devices
        .byId(h, idOrCode)
        .or(() -> devices.byEnrollmentCode(h, idOrCode.toUpperCase(Locale.ROOT)))
        .orElseThrow(() -> ControllerException.notFound("device", idOrCode));
  }

  private TrustRecord tpmRow(Handle h, DeviceRecord d) {
    return store
        .byId(h, d.id())
        .orElseThrow(
            () ->
                ControllerException.invalid(
                    "device "
                        + d.id()
                        + " enrolled with a software key: it has no attestation to accept or"
                        + " pin"));
  }

  private static String akName(String akPublic) {
    try {
      return HexFormat.of().formatHex(TpmPublic.parse(Base64.getDecoder().decode(akPublic)).name());
    } catch (RuntimeException e) {
      return null;
    }
  }

  static List<AttestationView.EventChange> events(String referenceLog, String currentLog) {
    if (referenceLog == null || currentLog == null || referenceLog.equals(currentLog)) {
      return List.of();
    }
    try {
      return EventLog.diff(
              EventLog.parse(Base64.getDecoder().decode(referenceLog)),
              EventLog.parse(Base64.getDecoder().decode(currentLog)))
          .stream()
          .map(
              d ->
                  new AttestationView.EventChange(
                      d.pcr(), d.index(), d.change(), event(d.reference()), event(d.now())))
          .toList();
    } catch (RuntimeException e) {
      return List.of();
    }
  }

  private static AttestationView.Event event(EventLog.Event e) {
    return e == null
        ? null
        : new AttestationView.Event(e.index(), e.typeName(), e.sha256Hex(), e.description());
  }
}
