package io.edgefleet.agent;

import io.edgefleet.device.enrollment.Enrollment;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.RenewalRequest;
import io.edgefleet.protocol.RenewalResponse;
import io.edgefleet.protocol.tls.Pem;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * Certificate renewal: once less than a third of the certificate's lifetime is left, a CSR for the
 * same key goes over the mutual-TLS channel with the current certificate; the new certificate is
 * checked (issued by the device's CA, for its key) and stored. Sent without waiting.
 */
final class Renewer {
  private final IdentityStore identities;
  private final Clock clock;

  Renewer(IdentityStore identities, Clock clock) {
    this.identities = identities;
    this.clock = clock;
  }

  /** Whether {@code cert} should be renewed now. */
  boolean due(X509Certificate cert) {
    Instant notBefore = cert.getNotBefore().toInstant();
    Instant notAfter = cert.getNotAfter().toInstant();
    Duration left = Duration.between(clock.instant(), notAfter);
    return left.compareTo(Duration.between(notBefore, notAfter).dividedBy(3)) < 0;
  }

  /**
   * Renews {@code identity}'s certificate; completes with the renewed identity (already stored), or
   * exceptionally with an {@link AgentException} that says why.
   */
  CompletableFuture<IdentityStore.Identity> renew(
      IdentityStore.Identity identity, Transfers through, String baseUrl) {
    return through
        .exchange(
            HttpRequest.newBuilder(URI.create(baseUrl + DeviceApi.RENEWALS))
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofByteArray(
                        Json.writeBytes(new RenewalRequest(Enrollment.csr(identity.key()))))),
            64 * 1024)
        .handle(
            (a, err) -> {
              if (err != null) {
                throw new AgentException(
                    AgentException.Code.CONTROLLER_UNREACHABLE,
                    "certificate renewal failed: " + LinkProblem.of(err, baseUrl).message(),
                    err);
              }
              if (a.status() != 200) {
                String why;
                try {
                  ApiError e = Json.mapper().readValue(a.body(), ApiError.class);
                  why = e.message() + " [" + e.code() + "]";
                } catch (IOException | RuntimeException e) {
                  why = "HTTP " + a.status();
                }
                throw new AgentException(
                    AgentException.Code.PROTOCOL, "certificate renewal refused: " + why);
              }
              X509Certificate renewed;
              try {
                RenewalResponse answer = Json.mapper().readValue(a.body(), RenewalResponse.class);
                renewed = Pem.certificateOf(answer.certificatePem());
                renewed.verify(identity.ca().getPublicKey());
              } catch (Exception e) {
                throw new AgentException(
                    AgentException.Code.PROTOCOL,
                    "the renewed certificate is invalid: " + e.getMessage(),
                    e);
              }
              if (!Arrays.equals(
                  renewed.getPublicKey().getEncoded(), identity.key().getPublic().getEncoded())) {
                throw new AgentException(
                    AgentException.Code.PROTOCOL,
                    "the renewed certificate is not for this device's key");
              }
              identities.saveCertificate(renewed);
              return new IdentityStore.Identity(
                  identity.deviceId(),
                  identity.controllerUrl(),
                  identity.caFingerprint(),
                  identity.key(),
                  renewed,
                  identity.ca());
            });
  }
}
