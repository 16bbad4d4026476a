package io.edgefleet.controller.desired;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.protocol.ErrorCode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Jdbi;

/**
 * Rotation of the desired-state signing key, for operators ({@code /api/v1/signing-keys}):
 *
 * <ol>
 *   <li>{@link #rotate rotate}: a next key is created and announced in every device's next
 *       document, signed with a key the device trusts; agents report the keys they trust.
 *   <li>{@link #rotate rotate --finish}: the next key becomes current and signs the documents of
 *       every device that reported trusting it; the old key goes on signing for the others (offline
 *       during the announcement, or agents that know one key only) until they do.
 *   <li>{@link #retire retire}: a previous key no device depends on any more is retired and its
 *       private key deleted; a next key can be retired to abandon a rotation.
 * </ol>
 *
 * Each change is audited and makes every device's desired state be recomputed. Thread-safe.
 */
public final class SigningKeyService {
  private static final int EXAMPLES = 5;

  private final Jdbi jdbi;
  private final SigningKeys keys;
  private final DesiredStateEngine desired;
  private final AuditLog audit;

  /**
   * One key as the API shows it.
   *
   * @param devicesSigned active devices whose stored document this key signed
   * @param devicesTrusting active devices that trust it
   * @param devicesDependent active devices that trust it but not the current key: their documents
   *     are signed with it, and retiring it would strand them
   */
  public record View(
      String id,
      String fingerprint,
      SigningKeys.State state,
      Instant createdAt,
      Instant activatedAt,
      Instant retiredAt,
      String publicKeyPem,
      int devicesSigned,
      int devicesTrusting,
      int devicesDependent) {}

  /** Body of {@code POST /api/v1/signing-keys/rotate}; absent or {@code finish: false} starts. */
  public record RotateRequest(Boolean finish) {}

  /** Body of {@code POST /api/v1/signing-keys/{id}/retire}. */
  public record RetireRequest(Boolean force) {}

  public SigningKeyService(
      Jdbi jdbi, SigningKeys keys, DesiredStateEngine desired, AuditLog audit) {
    this.jdbi = jdbi;
    this.keys = keys;
    this.desired = desired;
    this.audit = audit;
  }

  /** Every key, newest first, retired ones included. */
  public List<View> list() {
    Map<String, DesiredStateEngine.KeyUse> use = desired.keyUse(EXAMPLES);
    List<View> out = new ArrayList<>();
    for (SigningKeys.Key k : keys.ring().keys()) {
      out.add(view(k, use));
    }
    return out;
  }

  /**
   * Starts a rotation ({@code finish} false) or finishes the one under way.
   *
   * @throws ControllerException {@code SIGNING_KEY_STATE_CONFLICT} when starting while a rotation
   *     is under way, or finishing when none is
   */
  public View rotate(boolean finish, String actor) {
    SigningKeys.Key key =
        jdbi.inTransaction(
            h -> {
              // The key files are the record of the change; the entry is written with it.
              SigningKeys.Key k = finish ? keys.finishRotation() : keys.startRotation();
              Map<String, Object> detail = new LinkedHashMap<>();
              detail.put("fingerprint", k.fingerprint());
              if (finish) {
                keys.ring().keys().stream()
                    .filter(p -> p.state() == SigningKeys.State.PREVIOUS)
                    .findFirst()
                    .ifPresent(p -> detail.put("previous", p.id()));
              }
              audit.record(
                  h, actor, finish ? "signing-key.activate" : "signing-key.create", k.id(), detail);
              return k;
            });
    desired.requestAll();
    return view(key, desired.keyUse(EXAMPLES));
  }

  /**
   * Retires a previous key (or a next one, abandoning the rotation).
   *
   * @param force retire even if devices still depend on the key: they then refuse every new
   *     document until enrolled again
   * @throws ControllerException {@code SIGNING_KEY_STATE_CONFLICT} if devices depend on it and
   *     {@code force} is false, or for the current or a retired key; {@code NOT_FOUND}
   */
  public View retire(String id, boolean force, String actor) {
    DesiredStateEngine.KeyUse use = desired.keyUse(EXAMPLES).get(id);
    keys.ring().byId(id).orElseThrow(() -> ControllerException.notFound("signing key", id));
    if (use != null && use.dependOn() > 0 && !force) {
      throw new ControllerException(
          ErrorCode.SIGNING_KEY_STATE_CONFLICT,
          use.dependOn()
              + " active device(s) still depend on key "
              + id
              + " (e.g. "
              + String.join(", ", use.examples())
              + "): they have not reported trusting the current key. A device learns it from its"
              + " next document once it connects; an agent without key rotation never does and"
              + " must be upgraded. Retire anyway with --force (force: true): those devices then"
              + " refuse every new desired state until they are enrolled again");
    }
    SigningKeys.Key key =
        jdbi.inTransaction(
            h -> {
              SigningKeys.Key k = keys.retire(id);
              Map<String, Object> detail = new LinkedHashMap<>();
              detail.put("fingerprint", k.fingerprint());
              detail.put("force", force);
              detail.put("dependentDevices", use == null ? 0 : use.dependOn());
              audit.record(h, actor, "signing-key.retire", k.id(), detail);
              return k;
            });
    desired.requestAll();
    return view(key, desired.keyUse(EXAMPLES));
  }

  private static View view(SigningKeys.Key k, Map<String, DesiredStateEngine.KeyUse> use) {
    DesiredStateEngine.KeyUse u =
        use.getOrDefault(k.id(), new DesiredStateEngine.KeyUse(0, 0, 0, List.of()));
    return new View(
        k.id(),
        k.fingerprint(),
        k.state(),
        k.createdAt(),
        k.activatedAt(),
        k.retiredAt(),
        k.publicKeyPem(),
        u.signs(),
        u.trustedBy(),
        u.dependOn());
  }
}
