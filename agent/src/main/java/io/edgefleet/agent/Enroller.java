package io.edgefleet.agent;

import io.edgefleet.agent.desiredstate.TrustedKeys;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import javax.net.ssl.SSLContext;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

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

  CompletableFuture<Result> enroll(Bootstrap bootstrap, DeviceFacts facts) {
    KeyPair key = identities.key();
    EnrollmentRequest req =
        new EnrollmentRequest(bootstrap.token(), facts.serial(), csr(key), facts);
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
                answer = Json.mapper().readValue(a.body(), EnrollmentResponse.class);
              } catch (IOException e) {
                throw new AgentException(
                    AgentException.Code.PROTOCOL,
                    "the controller sent an unreadable enrollment answer: " + e.getMessage(),
                    e);
              }
              return switch (answer.status()) {
                case APPROVED -> approved(answer, bootstrap, key);
                case PENDING -> new Result.Pending(answer);
                case REJECTED -> new Result.Rejected();
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
    try {
      X509Certificate cert = Pem.certificateOf(answer.certificatePem());
      X509Certificate ca = Pem.certificateOf(answer.caCertificatePem());
      if (!Fingerprints.of(ca).equals(bootstrap.caFingerprint())) {
        throw new AgentException(
            AgentException.Code.CA_FINGERPRINT_MISMATCH,
            "the controller answered with a CA that does not match the pinned fingerprint");
      }
      if (!Arrays.equals(cert.getPublicKey().getEncoded(), key.getPublic().getEncoded())) {
        throw new AgentException(
            AgentException.Code.PROTOCOL, "the issued certificate is not for this device's key");
      }
      cert.verify(ca.getPublicKey());
      return new IdentityStore.Identity(
          answer.deviceId(), bootstrap.baseUrl(), bootstrap.caFingerprint(), key, cert, ca);
    } catch (AgentException e) {
      throw e;
    } catch (Exception e) {
      throw new AgentException(
          AgentException.Code.PROTOCOL, "the issued certificate is invalid: " + e.getMessage(), e);
    }
  }

  /** A CSR for the device's key, signed with it. */
  static String csr(KeyPair key) {
    try {
      var builder =
          new JcaPKCS10CertificationRequestBuilder(
              new X500Principal("CN=edgefleet-agent"), key.getPublic());
      var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate());
      return Pem.encode("CERTIFICATE REQUEST", builder.build(signer).getEncoded());
    } catch (Exception e) {
      throw new IllegalStateException("cannot build a CSR", e);
    }
  }
}
