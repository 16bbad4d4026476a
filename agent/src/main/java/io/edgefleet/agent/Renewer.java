package io.edgefleet.agent;

import io.edgefleet.device.enrollment.Enrollment;
import io.edgefleet.device.tpm.TpmException;
import io.edgefleet.device.tpm.TpmPrivateKey;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.RenewalRequest;
import io.edgefleet.protocol.RenewalResponse;
import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.Pem;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

/**
 * Certificate renewal with key rotation: once less than a third of the certificate's lifetime is
 * left, a CSR for a new key (in the TPM for a TPM identity, with the attestation key's proof) goes
 * over the mutual-TLS channel with the current certificate; the new certificate is checked (issued
 * by the device's CA, for the new key) and stored with its key, the old ones replaced only then.
 * Sent without waiting.
 */
final class Renewer {
  private final IdentityStore identities;
  private final Clock clock;

  private final Executor work;

  /**
   * @param work where keys are made and TPM commands run (never the control loop's thread)
   */
  Renewer(IdentityStore identities, Clock clock, Executor work) {
    this.identities = identities;
    this.clock = clock;
    this.work = work;
  }

  /** Whether {@code cert} should be renewed now. */
  boolean due(X509Certificate cert) {
    Instant notBefore = cert.getNotBefore().toInstant();
    Instant notAfter = cert.getNotAfter().toInstant();
    Duration left = Duration.between(clock.instant(), notAfter);
    return left.compareTo(Duration.between(notBefore, notAfter).dividedBy(3)) < 0;
  }

  /**
   * Renews {@code identity}'s certificate for a new key (a new TPM key for a TPM identity, with the
   * attestation key's proof that it lives in the same TPM); completes with the renewed identity
   * (already stored), or exceptionally with an {@link AgentException} that says why. A controller
   * that only renews the enrolled key (older versions) gets a CSR for it instead.
   */
  CompletableFuture<IdentityStore.Identity> renew(
      IdentityStore.Identity identity, Transfers through, String baseUrl) {
    return CompletableFuture.supplyAsync(() -> attempt(identities.nextKey(), true), work)
        .thenCompose(
            rotated ->
                post(through, baseUrl, rotated)
                    .thenCompose(
                        a -> {
                          if (a.status() != 200 && sameKeyOnly(a)) {
                            return CompletableFuture.supplyAsync(
                                    () -> attempt(identity.key(), false), work)
                                .thenCompose(same -> post(through, baseUrl, same))
                                .thenApply(b -> outcome(identity, b.attempt(), b.answer()));
                          }
                          return CompletableFuture.completedFuture(
                              outcome(identity, rotated, a.answer()));
                        }))
        .exceptionally(
            err -> {
              Throwable cause = err instanceof CompletionException c ? c.getCause() : err;
              if (cause instanceof AgentException e) {
                throw e;
              }
              if (cause instanceof TpmException e) {
                throw new AgentException(
                    AgentException.Code.TPM_UNAVAILABLE,
                    "certificate renewal needs the TPM, which failed: " + e.getMessage(),
                    e);
              }
              throw new AgentException(
                  AgentException.Code.CONTROLLER_UNREACHABLE,
                  "certificate renewal failed: " + LinkProblem.of(cause, baseUrl).message(),
                  cause);
            });
  }

  /** A renewal request for {@code key}: its CSR and, for a TPM key, the proof. */
  private record Attempt(KeyPair key, RenewalRequest request, boolean rotated) {}

  private record Sent(Attempt attempt, Transfers.Answer answer) {
    int status() {
      return answer.status();
    }
  }

  private static Attempt attempt(KeyPair key, boolean rotated) {
    TpmKeyProof proof =
        key.getPrivate() instanceof TpmPrivateKey k ? k.tpm().certifyDeviceKey(k.salt()) : null;
    return new Attempt(key, new RenewalRequest(Enrollment.csr(key), proof), rotated);
  }

  private static CompletableFuture<Sent> post(Transfers through, String baseUrl, Attempt a) {
    return through
        .exchange(
            HttpRequest.newBuilder(URI.create(baseUrl + DeviceApi.RENEWALS))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JsonCodec.writeBytes(a.request()))),
            64 * 1024)
        .thenApply(answer -> new Sent(a, answer));
  }

  /** Whether the controller refused the new key because it renews only the enrolled one. */
  private static boolean sameKeyOnly(Sent s) {
    ApiError e = error(s.answer());
    return e != null && ErrorCode.INVALID_CSR.name().equals(String.valueOf(e.code()));
  }

  private static ApiError error(Transfers.Answer a) {
    try {
      return JsonCodec.read(a.body(), ApiError.class);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private IdentityStore.Identity outcome(
      IdentityStore.Identity identity, Attempt attempt, Transfers.Answer a) {
    if (a.status() != 200) {
      ApiError e = error(a);
      String why = e != null ? e.message() + " [" + e.code() + "]" : "HTTP " + a.status();
      throw new AgentException(AgentException.Code.PROTOCOL, "certificate renewal refused: " + why);
    }
    X509Certificate renewed;
    try {
      RenewalResponse answer = JsonCodec.read(a.body(), RenewalResponse.class);
      renewed = Pem.certificateOf(answer.certificatePem());
      renewed.verify(identity.ca().getPublicKey());
    } catch (Exception e) {
      throw new AgentException(
          AgentException.Code.PROTOCOL, "the renewed certificate is invalid: " + e.getMessage(), e);
    }
    if (!Arrays.equals(
        renewed.getPublicKey().getEncoded(), attempt.key().getPublic().getEncoded())) {
      throw new AgentException(
          AgentException.Code.PROTOCOL,
          "the renewed certificate is not for the key it was asked for");
    }
    KeyPair key;
    if (attempt.rotated()) {
      key = identities.saveRenewed(renewed);
    } else {
      identities.saveCertificate(renewed);
      identities.discardNextKey();
      key = identity.key();
    }
    return new IdentityStore.Identity(
        identity.deviceId(),
        identity.controllerUrl(),
        identity.caFingerprint(),
        key,
        renewed,
        identity.ca());
  }
}
