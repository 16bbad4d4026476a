package io.edgefleet.controller.devices;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.DeviceNames;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Labels;
import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.tls.Pem;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.X509EncodedKeySpec;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * The device registry as operators use it: list and inspect devices with honest status, approve or
 * reject pending ones, tag, and decommission. Thread-safe.
 */
public final class DeviceService {
  private final Jdbi jdbi;
  private final Clock clock;
  private final DeviceStore store;
  private final Presence presence;
  private final ControllerPki pki;
  private final AuditLog audit;
  private final DeviceStatuses statuses;
  private final BiConsumer<String, String> disconnector;
  private final StatusRefiner refiner;
  private final Consumer<String> changed;
  private final DeviceTrustView.Reader trust;
  private final DeviceTrustView.RenewalGuard renewalGuard;
  private final AtomicReference<LightRows> lightRows = new AtomicReference<>();

  /**
   * @param statuses the status of a device as lifecycle and presence tell it
   * @param disconnector called with (deviceId, reason) when a device must be cut off at once
   * @param refiner refines statuses beyond presence (the health model)
   * @param changed called with the device id after its tags or lifecycle changed
   */
  public DeviceService(
      Jdbi jdbi,
      Clock clock,
      DeviceStore store,
      Presence presence,
      ControllerPki pki,
      AuditLog audit,
      DeviceStatuses statuses,
      BiConsumer<String, String> disconnector,
      StatusRefiner refiner,
      Consumer<String> changed) {
    this(
        jdbi,
        clock,
        store,
        presence,
        pki,
        audit,
        statuses,
        disconnector,
        refiner,
        changed,
        id -> DeviceTrustView.SOFTWARE_KEY,
        (id, key, proof) -> {});
  }

  /**
   * @param trust the identity and trust of a device, from memory
   * @param renewalGuard checks the new key of a renewal (the TPM proof of a TPM device)
   */
  public DeviceService(
      Jdbi jdbi,
      Clock clock,
      DeviceStore store,
      Presence presence,
      ControllerPki pki,
      AuditLog audit,
      DeviceStatuses statuses,
      BiConsumer<String, String> disconnector,
      StatusRefiner refiner,
      Consumer<String> changed,
      DeviceTrustView.Reader trust,
      DeviceTrustView.RenewalGuard renewalGuard) {
    this.trust = trust;
    this.renewalGuard = renewalGuard;
    this.jdbi = jdbi;
    this.statuses = statuses;
    this.disconnector = disconnector;
    this.refiner = refiner;
    this.changed = changed;
    this.clock = clock;
    this.store = store;
    this.presence = presence;
    this.pki = pki;
    this.audit = audit;
  }

  /** Announces a change made elsewhere (enrollment) to the listener. */
  public void changed(String deviceId) {
    changed.accept(deviceId);
  }

  public record TagChange(Map<String, String> set, List<String> remove) {}

  /** A status with its reason and since when it holds. */
  public record Status(DeviceStatus status, String reason, Instant since) {}

  /**
   * Refines the status derived from lifecycle and presence with what else is known about a device
   * (its apps, metrics, refused documents) and says since when the result holds. Called for every
   * row of every listing: implementations answer from memory, never from the database.
   */
  @FunctionalInterface
  public interface StatusRefiner {
    /**
     * @param status derived from lifecycle and presence, with its reason and the best estimate of
     *     when it began
     */
    Status refine(DeviceRecord device, Status status, Instant now);
  }

  /** The tags of every device, whatever its lifecycle, by id. */
  public Map<String, Map<String, String>> tags() {
    return jdbi.withHandle(store::tags);
  }

  /** Every device's view (in enrollment order), or those in {@code status}. */
  public List<DeviceView> list(Optional<DeviceStatus> status) {
    List<DeviceRecord> all = jdbi.withHandle(store::forViews);
    return all.stream()
        .map(this::view)
        .filter(v -> status.isEmpty() || v.status() == status.get())
        .toList();
  }

  /**
   * One page of a device listing.
   *
   * @param next the cursor of the next page ({@code after}); null on the last page and in orders
   *     other than the default
   * @param total how many devices match the selector and statuses, when asked for
   */
  public record Page(List<DeviceView> items, String next, Integer total) {}

  /**
   * What a listing asks for.
   *
   * @param statuses any of these statuses; any status when empty
   * @param limit at most this many devices; all when empty
   * @param after the cursor of the previous page, in the default order only
   * @param offset devices to skip first (page-number navigation), instead of {@code after}
   * @param count whether to count every matching device ({@link Page#total})
   * @param visible the devices (by tags) the caller may see at all; the others are left out as if
   *     they did not exist
   */
  public record Listing(
      Selector selector,
      Set<DeviceStatus> statuses,
      Optional<Integer> limit,
      Optional<String> after,
      DeviceOrder order,
      int offset,
      boolean count,
      java.util.function.Predicate<Map<String, String>> visible) {
    /** The most devices a listing may skip. */
    public static final int MAX_OFFSET = 10_000_000;

    /** A listing for a caller who sees every device. */
    public Listing(
        Selector selector,
        Set<DeviceStatus> statuses,
        Optional<Integer> limit,
        Optional<String> after,
        DeviceOrder order,
        int offset,
        boolean count) {
      this(selector, statuses, limit, after, order, offset, count, tags -> true);
    }

    public Listing {
      if (after.isPresent() && order != DeviceOrder.CREATED) {
        throw ControllerException.invalid(
            "after works in the default order only; with sort=" + order.param() + " use offset");
      }
      if (after.isPresent() && offset > 0) {
        throw ControllerException.invalid("use either after or offset, not both");
      }
      if (offset < 0 || offset > MAX_OFFSET) {
        throw ControllerException.invalid("offset must be 0 to " + MAX_OFFSET);
      }
    }

    /** The listing of old: default order, from a cursor, no count. */
    public static Listing of(
        Selector selector,
        Set<DeviceStatus> statuses,
        Optional<Integer> limit,
        Optional<String> after) {
      return new Listing(selector, statuses, limit, after, DeviceOrder.CREATED, 0, false);
    }
  }

  /**
   * The devices the selector picks whose status is one of {@code statuses} (any when empty), in
   * enrollment order (then by id), from just after the cursor {@code after} and at most {@code
   * limit} of them (all when empty).
   *
   * @throws ControllerException {@code VALIDATION_FAILED} for a cursor not from a previous page
   */
  public Page list(
      Selector selector,
      Set<DeviceStatus> statuses,
      Optional<Integer> limit,
      Optional<String> after) {
    return list(Listing.of(selector, statuses, limit, after));
  }

  /**
   * A page of a listing. Statuses are derived only where the listing needs them: filtered by status
   * or sorted by it, every matching device's; otherwise only the page's, so that a page of a large
   * fleet reads one light row per device ({@link DeviceStore#light}) and the page's full rows.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} for a cursor not from a previous page
   */
  public Page list(Listing q) {
    Optional<Cursor> from = q.after().map(Cursor::decode);
    Instant now = clock.instant();
    boolean statusNeeded = !q.statuses().isEmpty() || q.order().needsStatus();
    List<DeviceRecord> rows = statusNeeded ? jdbi.withHandle(store::forViews) : light();
    List<Candidate> matching = new ArrayList<>();
    for (DeviceRecord d : rows) {
      if (!q.selector().matches(d.tags()) || !q.visible().test(d.tags())) {
        continue;
      }
      Candidate c =
          new Candidate(
              d,
              statusNeeded ? view(d, now) : null,
              q.order().needsLastSeen() ? presence.snapshot(d.id()).lastSeen().orElse(null) : null);
      if (!q.statuses().isEmpty() && !q.statuses().contains(c.view().status())) {
        continue;
      }
      matching.add(c);
    }
    if (q.order() != DeviceOrder.CREATED) {
      matching.sort(
          q.order().comparator(Candidate::record, Candidate::lastSeen, c -> c.view().status()));
    }
    int start = q.offset();
    if (from.isPresent()) {
      start = 0;
      while (start < matching.size() && !from.get().before(matching.get(start).record())) {
        start++;
      }
    }
    int end = matching.size();
    if (q.limit().isPresent()) {
      end = (int) Math.min(end, (long) start + q.limit().get());
    }
    List<Candidate> page = start >= end ? List.of() : matching.subList(start, end);
    List<DeviceView> items = statusNeeded ? views(page) : fullViews(page, now);
    String next =
        end < matching.size() && !page.isEmpty() && q.order() == DeviceOrder.CREATED
            ? Cursor.of(page.getLast().record()).encode()
            : null;
    return new Page(items, next, q.count() ? matching.size() : null);
  }

  /** The light rows of every device, read again only after one of them was written. */
  private List<DeviceRecord> light() {
    long generation = DeviceStore.lightGeneration();
    LightRows cached = lightRows.get();
    if (cached != null && cached.generation() == generation) {
      return cached.rows();
    }
    List<DeviceRecord> rows = List.copyOf(jdbi.withHandle(store::light));
    lightRows.set(new LightRows(generation, rows));
    return rows;
  }

  /** The light rows as read when {@link DeviceStore#lightGeneration} was {@code generation}. */
  private record LightRows(long generation, List<DeviceRecord> rows) {}

  /** A device of a listing, with its view when the listing needed it. */
  private record Candidate(DeviceRecord record, DeviceView view, Instant lastSeen) {}

  private static List<DeviceView> views(List<Candidate> page) {
    return page.stream().map(Candidate::view).toList();
  }

  /** The views of light rows, from their full rows read by id. */
  private List<DeviceView> fullViews(List<Candidate> page, Instant now) {
    if (page.isEmpty()) {
      return List.of();
    }
    Map<String, DeviceRecord> full =
        jdbi.withHandle(h -> store.byIds(h, page.stream().map(c -> c.record().id()).toList()));
    List<DeviceView> out = new ArrayList<>(page.size());
    for (Candidate c : page) {
      DeviceRecord d = full.get(c.record().id());
      if (d != null) {
        out.add(view(d, now));
      }
    }
    return out;
  }

  /** A position in the listing order: after the device created at {@code createdAt} with id. */
  private record Cursor(long createdAt, String id) {
    static Cursor of(DeviceRecord d) {
      return new Cursor(d.createdAt() == null ? 0 : d.createdAt().toEpochMilli(), d.id());
    }

    /** Whether {@code d} comes after this position. */
    boolean before(DeviceRecord d) {
      long c = d.createdAt() == null ? 0 : d.createdAt().toEpochMilli();
      return c > createdAt || c == createdAt && d.id().compareTo(id) > 0;
    }

    String encode() {
      return Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString((createdAt + ":" + id).getBytes(StandardCharsets.UTF_8));
    }

    static Cursor decode(String text) {
      try {
        String s = new String(Base64.getUrlDecoder().decode(text), StandardCharsets.UTF_8);
        int colon = s.indexOf(':');
        return new Cursor(Long.parseLong(s.substring(0, colon)), s.substring(colon + 1));
      } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
        throw ControllerException.invalid(
            "after: '" + text + "' is not a cursor; pass the 'next' of the previous page");
      }
    }
  }

  public DeviceView get(String idOrCode) {
    return view(jdbi.withHandle(h -> resolve(h, idOrCode)));
  }

  public FleetSummary summary() {
    List<DeviceView> all = list(Optional.empty());
    return FleetSummary.count(
        all.stream().map(DeviceView::status).toList(),
        all.stream().map(v -> v.trust().state()).toList());
  }

  /** Approves a pending device: its certificate is issued and handed out at its next poll. */
  public DeviceView approve(String idOrCode, String actor) {
    DeviceRecord d =
        jdbi.inTransaction(
            h -> {
              DeviceRecord r = resolve(h, idOrCode);
              if (r.lifecycle() == DeviceRecord.Lifecycle.ACTIVE) {
                return r;
              }
              if (r.lifecycle() != DeviceRecord.Lifecycle.PENDING) {
                throw new ControllerException(
                    ErrorCode.CONFLICT,
                    "device " + r.id() + " is " + r.lifecycle() + " and cannot be approved");
              }
              issueCertificateFor(h, r);
              audit.record(h, actor, "device.approve", r.id(), Map.of());
              return store.byId(h, r.id()).orElseThrow();
            });
    changed.accept(d.id());
    return view(d);
  }

  public DeviceView reject(String idOrCode, String actor) {
    DeviceRecord d =
        jdbi.inTransaction(
            h -> {
              DeviceRecord r = resolve(h, idOrCode);
              if (r.lifecycle() != DeviceRecord.Lifecycle.PENDING) {
                throw new ControllerException(
                    ErrorCode.CONFLICT,
                    "device "
                        + r.id()
                        + " is "
                        + r.lifecycle()
                        + "; only pending devices can be rejected (decommission active ones)");
              }
              store.setLifecycle(h, r.id(), DeviceRecord.Lifecycle.REJECTED, clock.millis());
              audit.record(h, actor, "device.reject", r.id(), Map.of());
              return store.byId(h, r.id()).orElseThrow();
            });
    return view(d);
  }

  /**
   * Retires a device: its certificate is revoked, its connection is closed at once, and every later
   * attempt is refused with {@link ErrorCode#DEVICE_DECOMMISSIONED}. Idempotent.
   */
  public DeviceView decommission(String idOrCode, String actor) {
    DeviceRecord d =
        jdbi.inTransaction(
            h -> {
              DeviceRecord r = resolve(h, idOrCode);
              if (r.lifecycle() == DeviceRecord.Lifecycle.DECOMMISSIONED) {
                return r;
              }
              long now = clock.millis();
              store.setLifecycle(h, r.id(), DeviceRecord.Lifecycle.DECOMMISSIONED, now);
              for (String serial :
                  new String[] {r.certificateSerial(), r.previousCertificateSerial()}) {
                if (serial != null) {
                  h.createUpdate(
                          "INSERT INTO revoked_certificates (serial, device_id, revoked_at, reason)"
                              + " VALUES (:serial, :id, :now, 'decommissioned')"
                              + " ON CONFLICT (serial) DO NOTHING")
                      .bind("serial", serial)
                      .bind("id", r.id())
                      .bind("now", now)
                      .execute();
                }
              }
              audit.record(h, actor, "device.decommission", r.id(), Map.of());
              return store.byId(h, r.id()).orElseThrow();
            });
    disconnector.accept(d.id(), "device decommissioned by an operator");
    changed.accept(d.id());
    return view(d);
  }

  public DeviceView changeTags(String idOrCode, TagChange change, String actor) {
    Map<String, String> set = change.set() == null ? Map.of() : change.set();
    List<String> remove = change.remove() == null ? List.of() : change.remove();
    if (set.isEmpty() && remove.isEmpty()) {
      throw ControllerException.invalid("nothing to change: give tags to set or keys to remove");
    }
    ClusterTags.refuseReserved(set.keySet());
    ClusterTags.refuseReserved(remove);
    try {
      Labels.validate(set);
      remove.forEach(Labels::validateKey);
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid(e.getMessage());
    }
    DeviceRecord d =
        jdbi.inTransaction(
            h -> {
              DeviceRecord r = resolve(h, idOrCode);
              Map<String, String> tags = new TreeMap<>(r.tags());
              tags.putAll(set);
              remove.forEach(tags::remove);
              store.setTags(h, r.id(), tags, clock.millis());
              audit.record(h, actor, "device.tags", r.id(), Map.of("set", set, "remove", remove));
              return store.byId(h, r.id()).orElseThrow();
            });
    changed.accept(d.id());
    return view(d);
  }

  /**
   * Sets the controller-managed cluster tags of a device ({@link ClusterTags}): every tag under
   * {@link ClusterTags#PREFIX} becomes exactly {@code clusterTags} (empty removes them all), other
   * tags stay. For the clusters feature only; operators cannot set these tags.
   *
   * @return whether the tags changed (a decommissioned or unknown device is left alone)
   */
  public boolean setClusterTags(String deviceId, Map<String, String> clusterTags) {
    for (String key : clusterTags.keySet()) {
      if (!ClusterTags.reserved(key)) {
        throw new IllegalArgumentException("not a cluster tag: " + key);
      }
    }
    boolean changedTags =
        jdbi.inTransaction(
            h -> {
              Optional<DeviceRecord> r = store.byId(h, deviceId);
              if (r.isEmpty()) {
                return false;
              }
              Map<String, String> tags = new TreeMap<>(r.get().tags());
              tags.keySet().removeIf(ClusterTags::reserved);
              tags.putAll(clusterTags);
              if (tags.equals(new TreeMap<>(r.get().tags()))) {
                return false;
              }
              store.setTags(h, deviceId, tags, clock.millis());
              audit.record(
                  h, "controller", "device.cluster-tags", deviceId, Map.of("set", clusterTags));
              return true;
            });
    if (changedTags) {
      changed.accept(deviceId);
    }
    return changedTags;
  }

  /** The body of a rename. */
  public record NameChange(String name) {}

  /**
   * Renames a device. Names are unique: a name another device has is refused with {@link
   * ErrorCode#DEVICE_NAME_TAKEN}, an invalid one with {@link ErrorCode#DEVICE_NAME_INVALID}.
   */
  public DeviceView rename(String idOrCode, NameChange change, String actor) {
    String name = validName(change == null ? null : change.name());
    DeviceRecord d =
        jdbi.inTransaction(
            h -> {
              DeviceRecord r = resolve(h, idOrCode);
              if (r.name().equals(name)) {
                return r;
              }
              store
                  .byName(h, name)
                  .ifPresent(
                      other -> {
                        throw new ControllerException(
                            ErrorCode.DEVICE_NAME_TAKEN,
                            "device "
                                + other.id()
                                + " is already called '"
                                + name
                                + "'; choose another name or rename that device first");
                      });
              store.setName(h, r.id(), name, clock.millis());
              audit.record(h, actor, "device.rename", r.id(), Map.of("from", r.name(), "to", name));
              return store.byId(h, r.id()).orElseThrow();
            });
    changed.accept(d.id());
    return view(d);
  }

  /**
   * {@code name} if it is a valid device name.
   *
   * @throws ControllerException {@link ErrorCode#DEVICE_NAME_INVALID} saying what is allowed
   */
  public static String validName(String name) {
    try {
      return DeviceNames.validate(name == null ? null : name.strip());
    } catch (IllegalArgumentException e) {
      throw new ControllerException(ErrorCode.DEVICE_NAME_INVALID, e.getMessage());
    }
  }

  /**
   * The name a new device gets when it asks for {@code wanted}: {@code wanted} itself, or when
   * another device has it the first free of {@code wanted-2}, {@code wanted-3}, …, inside the
   * caller's transaction, which holds the names until it ends (so replicas do not pick the same).
   */
  public String freeName(Handle h, String wanted) {
    store.lockNames(h);
    String prefix = wanted.substring(0, Math.min(wanted.length(), DeviceNames.MAX_LENGTH - 8));
    Set<String> taken = store.namesStartingWith(h, prefix);
    if (!taken.contains(wanted)) {
      return wanted;
    }
    for (int n = 2; ; n++) {
      String candidate = DeviceNames.numbered(wanted, n);
      if (!taken.contains(candidate)
          && (candidate.startsWith(prefix) || store.byName(h, candidate).isEmpty())) {
        return candidate;
      }
    }
  }

  /**
   * Issues a fresh certificate for an admitted device, for its current key or a new one (the device
   * rotates its key at renewal). The certificate it presented stays accepted until it expires, so a
   * device that loses the answer can simply ask again; decommissioning revokes both at once. A
   * device enrolled with a TPM must prove that the new key lives in the same TPM ({@code tpmKey},
   * checked by the renewal guard).
   */
  public X509Certificate renew(String deviceId, String presentedSerial, String csrPem) {
    return renew(deviceId, presentedSerial, csrPem, null);
  }

  /** {@link #renew(String, String, String)} with the TPM evidence for the new key, if any. */
  public X509Certificate renew(
      String deviceId, String presentedSerial, String csrPem, TpmKeyProof tpmKey) {
    ControllerPki.ValidCsr csr = ControllerPki.validateCsr(csrPem);
    renewalGuard.check(deviceId, csr.publicKey(), tpmKey);
    return jdbi.inTransaction(
        h -> {
          DeviceRecord r =
              store
                  .byId(h, deviceId)
                  .orElseThrow(() -> ControllerException.notFound("device", deviceId));
          boolean rotated = !csr.keyFingerprint().equals(r.keyFingerprint());
          if (rotated) {
            store
                .byKeyFingerprint(h, csr.keyFingerprint())
                .ifPresent(
                    other -> {
                      throw new ControllerException(
                          ErrorCode.INVALID_CSR,
                          "the renewal's key belongs to another device; generate a new key");
                    });
            store.setKey(
                h,
                r.id(),
                csr.keyFingerprint(),
                Pem.encode("PUBLIC KEY", csr.publicKey().getEncoded()),
                clock.millis());
          }
          X509Certificate cert = pki.issueDevice(r.id(), csr.publicKey());
          store.renew(
              h,
              r.id(),
              Pem.certificate(cert),
              ControllerPki.serialOf(cert),
              cert.getNotAfter().toInstant(),
              presentedSerial,
              clock.millis());
          audit.record(
              h,
              "device:" + r.id(),
              "device.renew",
              r.id(),
              Map.of(
                  "expiresAt",
                  cert.getNotAfter().toInstant().toString(),
                  "newKey",
                  rotated,
                  "tpm",
                  tpmKey != null));
          return cert;
        });
  }

  /**
   * Issues the certificate for a device whose CSR was accepted, inside the caller's transaction.
   */
  public void issueCertificateFor(Handle h, DeviceRecord r) {
    try {
      byte[] der = Pem.decode(r.publicKeyPem(), "PUBLIC KEY").getFirst();
      PublicKey key = KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(der));
      X509Certificate cert = pki.issueDevice(r.id(), key);
      store.activate(
          h,
          r.id(),
          Pem.certificate(cert),
          ControllerPki.serialOf(cert),
          cert.getNotAfter().toInstant(),
          clock.millis());
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("stored public key of " + r.id() + " is unreadable", e);
    }
  }

  private DeviceRecord resolve(Handle h, String idOrCode) {
    return store
        .byId(h, idOrCode)
        .or(() -> store.byEnrollmentCode(h, idOrCode.toUpperCase(java.util.Locale.ROOT)))
        .orElseThrow(() -> ControllerException.notFound("device", idOrCode));
  }

  /**
   * Derives the status a person should see from lifecycle and presence, refined by the {@link
   * StatusRefiner} (health).
   */
  public DeviceView view(DeviceRecord d) {
    return view(d, clock.instant());
  }

  /** {@link #view(DeviceRecord)} as of {@code now}, for engines advanced by {@code tick(now)}. */
  public DeviceView view(DeviceRecord d, Instant now) {
    Presence.Snapshot p = presence.snapshot(d.id());
    Status refined = refiner.refine(d, statuses.derive(d, p, now), now);
    DeviceTrustView t = trust.of(d.id());
    return new DeviceView(
        d.id(),
        d.name(),
        d.serial(),
        d.tags(),
        refined.status(),
        refined.reason(),
        refined.since(),
        p.lastSeen().orElse(null),
        d.agentVersion(),
        d.facts(),
        d.lifecycle() == DeviceRecord.Lifecycle.PENDING ? d.enrollmentCode() : null,
        d.createdAt(),
        d.enrolledAt(),
        d.certificateExpiresAt(),
        t.identity(),
        t,
        presence.holder(d.id()).orElse(null));
  }

  /**
   * ONLINE, OFFLINE or NEVER_SEEN for an enrolled device, from memory only (no database read):
   * cheap enough to call for every row of a fleet-wide view.
   */
  public DeviceStatus presenceStatus(String deviceId) {
    return statuses.presenceStatus(deviceId);
  }
}
