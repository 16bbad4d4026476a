package io.edgefleet.agent;

import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.device.enrollment.Enrollment;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.net.URI;
import java.net.http.HttpRequest;
import java.security.KeyPair;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import javax.net.ssl.SSLContext;

/**
 * One enrollment attempt: the device proves its key with a CSR, shows the bootstrap file's
 * credential, and gets a certificate (checked: issued for this key, by the pinned CA) or is told to
 * wait for approval. The request is sent without waiting; the answer completes the returned stage.
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

  Enroller(IdentityStore identities, Function<SSLContext, Transfers> transfers) {
    this.identities = identities;
    this.transfers = transfers;
  }

  /**
   * @param name the device name to ask for; null for the host name
   */
  CompletableFuture<Result> enroll(Bootstrap bootstrap, DeviceFacts facts, String name) {
    KeyPair key = identities.key();
    EnrollmentRequest req = Enrollment.request(bootstrap.token(), facts, key, name);
    Transfers t =
        transfers.apply(TlsContexts.pinned(new PinnedCaTrustManager(bootstrap.caFingerprint())));
    return t.exchange(
            HttpRequest.newBuilder(URI.create(bootstrap.baseUrl() + DeviceApi.ENROLLMENTS))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Json.writeBytes(req))),
            1024 * 1024)
        .handle(
            (a, err) -> {
              t.client().shutdownNow();
              if (err != null) {
                return new Result.Unreachable(LinkProblem.of(err, bootstrap.baseUrl()));
              }
              if (a.status() != 200) {
                return new Result.Refused(a.status(), a.text());
              }
              EnrollmentResponse answer;
              try {
                answer = Enrollment.answer(a.body());
              } catch (Enrollment.Failure e) {
                throw failure(e);
              }
              return switch (answer.status()) {
                case APPROVED -> approved(answer, bootstrap, key);
                case PENDING -> new Result.Pending(answer);
                case REJECTED -> new Result.Rejected();
                case ACTIVATE ->
                    throw new AgentException(
                        AgentException.Code.PROTOCOL,
                        "the controller asks to activate a TPM credential, but this agent"
                            + " enrolled without a TPM");
              };
            });
  }

  private Result approved(EnrollmentResponse answer, Bootstrap bootstrap, KeyPair key) {
    IdentityStore.Identity id = verifiedIdentity(answer, bootstrap, key);
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
    identities.save(id);
    return new Result.Approved(id, keys);
  }

  private static IdentityStore.Identity verifiedIdentity(
      EnrollmentResponse answer, Bootstrap bootstrap, KeyPair key) {
    Enrollment.Certificates issued;
    try {
      issued = Enrollment.verify(answer, bootstrap.caFingerprint(), key);
    } catch (Enrollment.Failure e) {
      throw failure(e);
    }
    return new IdentityStore.Identity(
        answer.deviceId(),
        bootstrap.baseUrl(),
        bootstrap.caFingerprint(),
        key,
        issued.certificate(),
        issued.ca());
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
