package io.edgefleet.controller.enrollment;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.common.RateLimiter;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.controller.onboarding.Preregistrations;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.controller.store.UniqueViolation;
import io.edgefleet.controller.trust.TpmEnrollments;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.DeviceNames;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tls.Pem;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Zero-touch enrollment. A device proves possession of its key with a CSR and presents either an
 * onboarding token or a pre-registered serial number. It is approved at once (certificate issued)
 * or left pending for an operator. The same key asking again gets the current answer without using
 * the token again, which is how pending devices poll. All-or-nothing: a refused request stores
 * nothing. Thread-safe.
 *
 * <p>Requests that would enroll a new device, and refused ones, are rate-limited per source address
 * ({@code perAddressPerMinute}) and, once the token is known, per token (its own {@code
 * perMinute}): a leaked bootstrap file, or a client guessing tokens, gets {@code RATE_LIMITED}
 * (429, retryable) instead of an unbounded number of devices. A known key polling for its approval
 * is not limited.
 */
public final class EnrollmentService {
  private static final int MAX_PENDING_POLL_SECONDS = 10;
  private static final int MAX_FACT_TEXT = 256;

  /** New devices per minute from one source address, unless configured otherwise. */
  public static final int DEFAULT_PER_ADDRESS_PER_MINUTE = 60;

  /** Tries of an enrollment that met a concurrent one on a unique name or key. */
  static final int ENROLL_ATTEMPTS = 5;

  /** Source addresses and tokens whose buckets are remembered at most. */
  private static final int LIMITED_KEYS = 100_000;

  private final Jdbi jdbi;
  private final Clock clock;
  private final DeviceStore store;
  private final DeviceService devices;
  private final OnboardingTokens tokens;
  private final Preregistrations preregistrations;
  private final ControllerPki pki;
  private final AuditLog audit;

  /** The URL of the approval page a pending device shows (as a QR code), without its query. */
  private final Supplier<String> approvalPage;

  private final int pendingPollSeconds;
  private final int perAddressPerMinute;
  private final RateLimiter<String> limiter;

  /** The desired-state signing key (PEM) an approved device is handed, by device id. */
  private final java.util.function.Function<String, String> signingKeyFor;

  /** The agent release keys an approved device is handed. */
  private final Supplier<java.util.List<DesiredState.SigningKey>> releaseKeys;

  /** Checks the TPM evidence of devices enrolling with a TPM; null refuses them all. */
  private final TpmEnrollments tpm;

  /** A service that refuses devices enrolling with a TPM and hands out no release keys. */
  public EnrollmentService(
      Jdbi jdbi,
      Clock clock,
      DeviceStore store,
      DeviceService devices,
      OnboardingTokens tokens,
      Preregistrations preregistrations,
      ControllerPki pki,
      AuditLog audit,
      Supplier<String> approvalPage,
      java.time.Duration heartbeat,
      int perAddressPerMinute,
      java.util.function.Function<String, String> signingKeyFor) {
    this(
        jdbi,
        clock,
        store,
        devices,
        tokens,
        preregistrations,
        pki,
        audit,
        approvalPage,
        heartbeat,
        perAddressPerMinute,
        signingKeyFor,
        null,
        java.util.List::of);
  }

  /**
   * @param tpm checks the TPM evidence of devices enrolling with a TPM (EK chain, credential
   *     activation, quote); null to refuse them
   * @param releaseKeys the agent release keys an approved device is handed, so that it can check
   *     the releases it is told to run
   */
  public EnrollmentService(
      Jdbi jdbi,
      Clock clock,
      DeviceStore store,
      DeviceService devices,
      OnboardingTokens tokens,
      Preregistrations preregistrations,
      ControllerPki pki,
      AuditLog audit,
      Supplier<String> approvalPage,
      java.time.Duration heartbeat,
      int perAddressPerMinute,
      java.util.function.Function<String, String> signingKeyFor,
      TpmEnrollments tpm,
      Supplier<java.util.List<DesiredState.SigningKey>> releaseKeys) {
    this.releaseKeys = releaseKeys;
    this.tpm = tpm;
    this.jdbi = jdbi;
    this.clock = clock;
    this.store = store;
    this.devices = devices;
    this.tokens = tokens;
    this.preregistrations = preregistrations;
    this.pki = pki;
    this.audit = audit;
    this.approvalPage = approvalPage;
    this.signingKeyFor = signingKeyFor;
    // Pending devices poll about as often as connected ones check in, at most every 10 s, so an
    // approval takes effect quickly without a socket being held open for a device not yet trusted.
    this.pendingPollSeconds = (int) Math.clamp(heartbeat.toSeconds(), 1, MAX_PENDING_POLL_SECONDS);
    if (perAddressPerMinute < 1) {
      throw new IllegalArgumentException("perAddressPerMinute must be at least 1");
    }
    this.perAddressPerMinute = perAddressPerMinute;
    this.limiter = new RateLimiter<>(clock, LIMITED_KEYS);
  }

  public EnrollmentResponse enroll(EnrollmentRequest req, String remoteAddress) {
    if (req == null) {
      throw ControllerException.invalid("the enrollment request body is empty");
    }
    ControllerPki.ValidCsr csr = ControllerPki.validateCsr(req.csrPem());
    DeviceFacts facts = validFacts(req.facts());
    String serial = blankToNull(req.serial() != null ? req.serial() : facts.serial());
    String token = blankToNull(req.token());
    if (token == null && serial == null) {
      throw new ControllerException(
          ErrorCode.ENROLLMENT_CREDENTIAL_MISSING,
          "no onboarding token and no serial number: put a token in the bootstrap file or"
              + " pre-register this device's serial with `edgefleet devices preregister`");
    }
    Optional<DeviceRecord> known =
        jdbi.withHandle(h -> store.byKeyFingerprint(h, csr.keyFingerprint()));
    if (known.isPresent()) {
      return answer(known.get());
    }
    TpmEnrollments.Evidence evidence = null;
    if (req.tpm() != null) {
      if (tpm == null) {
        throw new ControllerException(
            ErrorCode.TPM_UNTRUSTED,
            "this controller does not enroll devices with a TPM; enroll with a software key");
      }
      // The credential must be usable before any TPM work is done for the request.
      limit("address " + remoteAddress, perAddressPerMinute, "from " + remoteAddress);
      checkCredential(token, serial);
      TpmEnrollments.Outcome outcome = tpm.check(req.tpm(), csr.publicKey(), csr.keyFingerprint());
      if (outcome instanceof TpmEnrollments.Activate activate) {
        return new EnrollmentResponse(
            EnrollmentResponse.Status.ACTIVATE,
            null,
            null,
            null,
            null,
            null,
            null,
            "prove the TPM: activate the credential and quote PCRs "
                + activate.challenge().pcrs()
                + " over the nonce, then repeat the request",
            null,
            activate.challenge());
      }
      evidence = ((TpmEnrollments.Verified) outcome).evidence();
    }
    TpmEnrollments.Evidence proven = evidence;
    boolean[] limited = {false};
    DeviceRecord device = null;
    for (int attempt = 1; device == null; attempt++) {
      try {
        device =
            jdbi.inTransaction(
                h -> {
                  Optional<DeviceRecord> existing = store.byKeyFingerprint(h, csr.keyFingerprint());
                  if (existing.isPresent()) {
                    return existing.get();
                  }
                  if (proven == null && !limited[0]) {
                    limited[0] = true;
                    limit("address " + remoteAddress, perAddressPerMinute, "from " + remoteAddress);
                  }
                  DeviceRecord d = enrollNew(h, req, csr, facts, serial, token, remoteAddress);
                  if (proven != null) {
                    tpm.store(h, d.id(), proven);
                  }
                  return d;
                });
      } catch (RuntimeException e) {
        // Another controller replica took the chosen name, or enrolled the same key, between
        // this transaction's checks and its insert: all of it was rolled back; check again.
        if (attempt >= ENROLL_ATTEMPTS || !UniqueViolation.is(e)) {
          throw e;
        }
      }
    }
    if (proven != null) {
      tpm.enrolled(device.id());
    }
    if (device.lifecycle() == DeviceRecord.Lifecycle.ACTIVE && device.enrolledAt() != null) {
      devices.changed(device.id());
    }
    return answer(device);
  }

  /**
   * Refuses a request whose credential could not enroll a device now, without using it: before a
   * TPM challenge is made for it.
   */
  private void checkCredential(String token, String serial) {
    if (token != null) {
      tokens.checkUsable(token);
      return;
    }
    if (jdbi.withHandle(h -> preregistrations.find(h, serial)).isEmpty()) {
      throw new ControllerException(
          ErrorCode.ENROLLMENT_CREDENTIAL_MISSING,
          "serial number "
              + serial
              + " is not pre-registered and no onboarding token was given; pre-register it with"
              + " `edgefleet devices preregister --serial "
              + serial
              + "` or use a bootstrap file with a token");
    }
  }

  private DeviceRecord enrollNew(
      Handle h,
      EnrollmentRequest req,
      ControllerPki.ValidCsr csr,
      DeviceFacts facts,
      String serial,
      String token,
      String remoteAddress) {
    Optional<Preregistrations.View> prereg =
        serial == null ? Optional.empty() : preregistrations.find(h, serial);
    Map<String, String> tags = new TreeMap<>();
    boolean approval = false;
    String tokenId = null;
    String requested = blankToNull(req.name());
    String name =
        requested != null
            ? DeviceService.validName(requested)
            : DeviceNames.fromHostname(facts.hostname());
    if (token != null) {
      OnboardingTokens.Grant grant = tokens.consume(h, token);
      limit("token " + grant.tokenId(), grant.perMinute(), "with token " + grant.tokenId());
      if (grant.requireTpm() && req.tpm() == null) {
        throw tpmRequired("onboarding token " + grant.tokenId());
      }
      tags.putAll(grant.tags());
      approval = grant.requireApproval();
      tokenId = grant.tokenId();
    } else if (prereg.isEmpty()) {
      throw new ControllerException(
          ErrorCode.ENROLLMENT_CREDENTIAL_MISSING,
          "serial number "
              + serial
              + " is not pre-registered and no onboarding token was given; pre-register it with"
              + " `edgefleet devices preregister --serial "
              + serial
              + "` or use a bootstrap file with a token");
    }
    if (prereg.isPresent()) {
      if (serial != null && !store.activeBySerial(h, serial).isEmpty()) {
        throw new ControllerException(
            ErrorCode.CONFLICT,
            "serial number "
                + serial
                + " already belongs to an enrolled device; decommission that device before this"
                + " hardware can enroll again");
      }
      if (prereg.get().requireTpm() && req.tpm() == null) {
        throw tpmRequired("the pre-registration of serial " + serial);
      }
      tags.putAll(prereg.get().tags());
      approval = approval || prereg.get().requireApproval();
      String preregistered = DeviceNames.fromHostname(prereg.get().name());
      if (preregistered != null) {
        name = preregistered;
      }
    }
    String id = Ids.next("dev");
    Instant now = clock.instant();
    DeviceRecord pending =
        new DeviceRecord(
            id,
            devices.freeName(h, name == null ? id : name),
            serial,
            DeviceRecord.Lifecycle.PENDING,
            Ids.humanCode(),
            csr.keyFingerprint(),
            Pem.encode("PUBLIC KEY", csr.publicKey().getEncoded()),
            null,
            null,
            null,
            null,
            tags,
            facts,
            facts.agentVersion(),
            tokenId,
            now,
            null,
            null);
    store.insert(h, pending, now.toEpochMilli());
    if (prereg.isPresent()) {
      preregistrations.claim(h, serial, id);
    }
    if (!approval) {
      devices.issueCertificateFor(h, pending);
    }
    // Last: the audit chain's head stays locked until the commit.
    audit.record(
        h,
        "device:" + id,
        "device.enroll",
        id,
        Map.of(
            "from", remoteAddress,
            "credential", token != null ? "token " + tokenId : "serial " + serial,
            "tags", tags,
            "requireApproval", approval));
    return store.byId(h, id).orElseThrow();
  }

  private static ControllerException tpmRequired(String credential) {
    return new ControllerException(
        ErrorCode.TPM_REQUIRED,
        credential
            + " admits only devices whose key lives in a TPM, and this request has a software key:"
            + " run the agent on hardware with a TPM 2.0 (or give it --tpm), or enroll with a"
            + " credential created without --require-tpm");
  }

  /** Spends one unit of {@code key}'s budget or refuses the request, which then stores nothing. */
  private void limit(String key, int perMinute, String what) {
    limiter
        .take(key, perMinute)
        .ifPresent(
            wait -> {
              throw new ControllerException(
                  ErrorCode.RATE_LIMITED,
                  "too many new enrollments "
                      + what
                      + " (at most "
                      + perMinute
                      + " a minute); try again in "
                      + Math.max(1, wait.toSeconds())
                      + " s");
            });
  }

  private EnrollmentResponse answer(DeviceRecord d) {
    return switch (d.lifecycle()) {
      case ACTIVE ->
          new EnrollmentResponse(
              EnrollmentResponse.Status.APPROVED,
              d.id(),
              null,
              null,
              d.certificatePem(),
              Pem.certificate(pki.caCertificate()),
              null,
              "enrolled as " + d.id(),
              signingKeyFor.apply(d.id()),
              null,
              releaseKeys.get());
      case PENDING ->
          new EnrollmentResponse(
              EnrollmentResponse.Status.PENDING,
              d.id(),
              d.enrollmentCode(),
              approvalPage.get() + "?code=" + d.enrollmentCode(),
              null,
              null,
              pendingPollSeconds,
              "waiting for an operator: edgefleet devices approve " + d.enrollmentCode(),
              null);
      case REJECTED ->
          throw new ControllerException(
              ErrorCode.ENROLLMENT_REJECTED,
              "an operator rejected device " + d.id() + "; this key will not be enrolled");
      case DECOMMISSIONED ->
          throw new ControllerException(
              ErrorCode.DEVICE_DECOMMISSIONED,
              "device "
                  + d.id()
                  + " was decommissioned; to enroll this hardware again, wipe the agent state"
                  + " directory and use a new bootstrap file");
    };
  }

  private static DeviceFacts validFacts(DeviceFacts f) {
    if (f == null) {
      throw ControllerException.invalid("facts are required (hostname, arch, agentVersion, ...)");
    }
    for (String text :
        new String[] {
          f.hostname(), f.serial(), f.arch(), f.os(), f.osVersion(), f.agentVersion(), f.model()
        }) {
      if (text != null && text.length() > MAX_FACT_TEXT) {
        throw ControllerException.invalid("a fact is longer than " + MAX_FACT_TEXT + " characters");
      }
    }
    if (f.macs().size() > 64) {
      throw ControllerException.invalid("more than 64 MAC addresses reported");
    }
    if (f.cpus() < 0 || f.memoryBytes() < 0 || f.diskBytes() < 0) {
      throw ControllerException.invalid("cpus, memoryBytes and diskBytes cannot be negative");
    }
    // The cluster is reported (and checked) over the connection, where it is kept current.
    return f.withKubernetes(null, List.of());
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }
}
