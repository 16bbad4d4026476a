package io.edgefleet.agent;

import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.device.enrollment.Enrollment;
import io.edgefleet.device.tpm.DeviceKeys;
import io.edgefleet.device.tpm.TpmEnrollments;
import io.edgefleet.device.tpm.TpmException;
import io.edgefleet.device.tpm.TpmPrivateKey;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.net.URI;
import java.net.http.HttpRequest;
import java.security.KeyPair;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.Function;
import javax.net.ssl.SSLContext;

/**
 * One enrollment attempt: the device proves its key with a CSR, shows the bootstrap file's
 * credential, and gets a certificate (checked: issued for this key, by the pinned CA) or is told to
 * wait for approval. A device whose key is in a TPM also sends its TPM identity; when the
 * controller answers {@code ACTIVATE} it unwraps the credential with its TPM, quotes over the nonce
 * and asks again. The request is sent without waiting; the answer completes the returned stage; TPM
 * commands run on the work executor.
 */
final class Enroller {

  /** What one attempt came to. */
  sealed interface Result {
    /** Enrolled: the identity to store and the signing keys handed over, if any. */
    record Approved(IdentityStore.Identity identity, Optional<TrustedKeys> keys)
        implements Result {}

    /** Waiting for an operator. */
    record Pending(EnrollmentResponse answer) implements Result {}

    /** An operator rejected this device. */
    record Rejected() implements Result {}

    /** The controller answered with an error. */
    record Refused(int status, String body) implements Result {}

    /** The controller could not be reached. */
    record Unreachable(LinkProblem problem) implements Result {}
  }

  private final IdentityStore identities;
  private final Function<SSLContext, Transfers> transfers;
  private final Executor work;
  private final TpmEventLog eventLog;

  /**
   * @param work where TPM commands run (never the control loop's thread)
   */
  Enroller(
      IdentityStore identities,
      Function<SSLContext, Transfers> transfers,
      Executor work,
      TpmEventLog eventLog) {
    this.identities = identities;
    this.transfers = transfers;
    this.work = work;
    this.eventLog = eventLog;
  }

  /**
   * @param base the controller URL to ask, one of the bootstrap file's
   * @param name the device name to ask for; null for the host name
   */
  CompletableFuture<Result> enroll(
      Bootstrap bootstrap, String base, DeviceFacts facts, String name) {
    KeyPair key = identities.key();
    DeviceFacts reported = facts.withIdentity(DeviceKeys.kind(key.getPrivate()));
    Transfers t =
        transfers.apply(TlsContexts.pinned(new PinnedCaTrustManager(bootstrap.caFingerprint())));
    String url = base + DeviceApi.ENROLLMENTS;
    TpmPrivateKey tpmKey = key.getPrivate() instanceof TpmPrivateKey k ? k : null;
    CompletableFuture<TpmEnrollment> tpm =
        tpmKey == null
            ? CompletableFuture.completedFuture(null)
            : CompletableFuture.supplyAsync(
                () -> TpmEnrollments.first(tpmKey.tpm(), tpmKey.salt()), work);
    return tpm.thenCompose(
            first ->
                send(t, url, Enrollment.request(bootstrap.token(), reported, key, name, first))
                    .thenCompose(
                        a -> {
                          EnrollmentResponse answer = activation(a);
                          if (answer == null) {
                            return CompletableFuture.completedFuture(a);
                          }
                          // Prove the TPM: unwrap the credential, quote over the nonce, ask again.
                          return CompletableFuture.supplyAsync(
                                  () -> activated(tpmKey, first, answer), work)
                              .thenCompose(
                                  again ->
                                      send(
                                          t,
                                          url,
                                          Enrollment.request(
                                              bootstrap.token(), reported, key, name, again)));
                        }))
        .handle(
            (a, err) -> {
              t.client().shutdownNow();
              if (err != null) {
                Throwable cause = err instanceof CompletionException c ? c.getCause() : err;
                if (cause instanceof AgentException e) {
                  throw e;
                }
                if (cause instanceof TpmException e) {
                  throw new AgentException(
                      AgentException.Code.TPM_UNAVAILABLE,
                      "enrollment needs the TPM, which failed: " + e.getMessage(),
                      e);
                }
                return new Result.Unreachable(LinkProblem.of(err, base));
              }
              if (a.status() != 200) {
                return new Result.Refused(a.status(), a.text());
              }
              EnrollmentResponse answer = parse(a);
              return switch (answer.status()) {
                case APPROVED -> approved(answer, bootstrap, base, key);
                case PENDING -> new Result.Pending(answer);
                case REJECTED -> new Result.Rejected();
                case ACTIVATE ->
                    throw new AgentException(
                        AgentException.Code.PROTOCOL,
                        tpmKey == null
                            ? "the controller asks this device to prove a TPM, but its key is not"
                                + " in a TPM (enroll with --tpm, or ask for an onboarding token"
                                + " that does not require one)"
                            : "the controller did not accept the activated credential and asked"
                                + " again: "
                                + answer.message());
              };
            });
  }

  private CompletableFuture<Transfers.Answer> send(Transfers t, String url, EnrollmentRequest req) {
    return t.exchange(
        HttpRequest.newBuilder(URI.create(url))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(JsonCodec.writeBytes(req))),
        1024 * 1024);
  }

  /** The ACTIVATE answer in {@code a}, or null if it is anything else. */
  private static EnrollmentResponse activation(Transfers.Answer a) {
    if (a.status() != 200) {
      return null;
    }
    EnrollmentResponse answer = parse(a);
    return answer.status() == EnrollmentResponse.Status.ACTIVATE && answer.activation() != null
        ? answer
        : null;
  }

  private TpmEnrollment activated(
      TpmPrivateKey key, TpmEnrollment first, EnrollmentResponse answer) {
    if (key == null) {
      throw new AgentException(
          AgentException.Code.PROTOCOL,
          "the controller asks this device to prove a TPM, but its key is not in a TPM (enroll"
              + " with --tpm, or ask for an onboarding token that does not require one)");
    }
    try {
      return TpmEnrollments.activated(key.tpm(), first, answer.activation(), eventLog.read());
    } catch (IllegalArgumentException e) {
      throw new AgentException(
          AgentException.Code.PROTOCOL,
          "the controller's TPM challenge is unusable: " + e.getMessage(),
          e);
    } catch (TpmException e) {
      throw new AgentException(
          AgentException.Code.PROTOCOL,
          "the TPM did not accept the controller's credential challenge: " + e.getMessage(),
          e);
    }
  }

  private static EnrollmentResponse parse(Transfers.Answer a) {
    try {
      return Enrollment.answer(a.body());
    } catch (Enrollment.Failure e) {
      throw failure(e);
    }
  }

  private Result approved(
      EnrollmentResponse answer, Bootstrap bootstrap, String base, KeyPair key) {
    IdentityStore.Identity id = verifiedIdentity(answer, bootstrap, base, key);
    Optional<TrustedKeys> keys = Optional.empty();
    if (answer.signingKeyPem() != null) {
      try {
        keys = Optional.of(identities.saveSigningKey(answer.signingKeyPem()));
      } catch (IllegalArgumentException e) {
        throw new AgentException(
            AgentException.Code.PROTOCOL,
            "the controller sent an unusable desired-state signing key: " + e.getMessage(),
            e);
      }
    }
    if (!answer.releaseKeys().isEmpty()) {
      identities.saveReleaseKeys(answer.releaseKeys());
    }
    identities.save(id);
    return new Result.Approved(id, keys);
  }

  private static IdentityStore.Identity verifiedIdentity(
      EnrollmentResponse answer, Bootstrap bootstrap, String base, KeyPair key) {
    Enrollment.Certificates issued;
    try {
      issued = Enrollment.verify(answer, bootstrap.caFingerprint(), key);
    } catch (Enrollment.Failure e) {
      throw failure(e);
    }
    return new IdentityStore.Identity(
        answer.deviceId(), base, bootstrap.caFingerprint(), key, issued.certificate(), issued.ca());
  }

  private static AgentException failure(Enrollment.Failure e) {
    return new AgentException(
        switch (e.kind()) {
          case CA_FINGERPRINT_MISMATCH -> AgentException.Code.CA_FINGERPRINT_MISMATCH;
          case PROTOCOL -> AgentException.Code.PROTOCOL;
        },
        e.getMessage(),
        e.getCause() != null ? e.getCause() : e);
  }
}
