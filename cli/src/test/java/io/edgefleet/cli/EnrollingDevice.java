package io.edgefleet.cli;

import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse.BodyHandlers;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * A device enrolling through the controller's real enrollment endpoint the way the agent does: its
 * own P-256 key, a PKCS#10 CSR signed with it, hardware facts, over HTTPS pinned to the controller
 * CA. Asking again uses the same key, which is how a pending device polls. Not thread-safe.
 */
final class EnrollingDevice {
  static final List<String> MACS = List.of("aa:bb:cc:dd:ee:ff");
  static final long MEMORY_BYTES = 8_000_000_000L;

  private final String hostname;
  private final String serial;
  private final String csrPem;
  private String lastUrl;
  private String lastFingerprint;
  private EnrollmentRequest lastRequest;

  /** The controller's answer: the enrollment response on 200, else the error body. */
  record Answer(int status, String body) {
    EnrollmentResponse response() {
      if (status != 200) {
        throw new AssertionError("enrollment refused with HTTP " + status + ": " + body);
      }
      return read(EnrollmentResponse.class);
    }

    ApiError error() {
      if (status == 200) {
        throw new AssertionError("enrollment was accepted: " + body);
      }
      return read(ApiError.class);
    }

    private <T> T read(Class<T> type) {
      try {
        return Json.mapper().readValue(body, type);
      } catch (IOException e) {
        throw new AssertionError("not a " + type.getSimpleName() + ": " + body, e);
      }
    }
  }

  EnrollingDevice(String hostname, String serial) {
    this.hostname = hostname;
    this.serial = serial;
    this.csrPem = csr(newKey());
  }

  String hostname() {
    return hostname;
  }

  String serial() {
    return serial;
  }

  DeviceFacts facts() {
    return new DeviceFacts(
        hostname,
        serial,
        MACS,
        "amd64",
        4,
        MEMORY_BYTES,
        64_000_000_000L,
        "debian",
        "12",
        "0.1.0",
        true,
        false);
  }

  /** Enrolls with an onboarding token. */
  Answer enroll(String controllerUrl, String caFingerprint, String onboardingToken) {
    return send(
        controllerUrl,
        caFingerprint,
        new EnrollmentRequest(onboardingToken, serial, csrPem, facts()));
  }

  /** Enrolls by serial number alone, as pre-registered hardware does. */
  Answer enrollBySerial(String controllerUrl, String caFingerprint) {
    return send(controllerUrl, caFingerprint, new EnrollmentRequest(null, serial, csrPem, facts()));
  }

  /**
   * Sends the last request again with the same key, as a pending agent polls; the controller
   * answers from the device it already knows without using the credential again.
   */
  Answer askAgain() {
    if (lastRequest == null) {
      throw new IllegalStateException("this device has not asked to enroll yet");
    }
    return send(lastUrl, lastFingerprint, lastRequest);
  }

  private Answer send(String controllerUrl, String caFingerprint, EnrollmentRequest req) {
    lastUrl = controllerUrl;
    lastFingerprint = caFingerprint;
    lastRequest = req;
    try (HttpClient http =
        HttpClient.newBuilder()
            .sslContext(TlsContexts.pinned(new PinnedCaTrustManager(caFingerprint)))
            .connectTimeout(Duration.ofSeconds(10))
            .build()) {
      HttpRequest request =
          HttpRequest.newBuilder(URI.create(controllerUrl + DeviceApi.ENROLLMENTS))
              .timeout(Duration.ofSeconds(30))
              .header("Content-Type", "application/json")
              .POST(BodyPublishers.ofByteArray(Json.writeBytes(req)))
              .build();
      var response = http.send(request, BodyHandlers.ofString());
      return new Answer(response.statusCode(), response.body());
    } catch (IOException e) {
      throw new AssertionError("cannot reach " + controllerUrl, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static KeyPair newKey() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String csr(KeyPair key) {
    try {
      var builder =
          new JcaPKCS10CertificationRequestBuilder(
              new X500Principal("CN=edgefleet-agent"), key.getPublic());
      var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate());
      return Pem.encode("CERTIFICATE REQUEST", builder.build(signer).getEncoded());
    } catch (OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot build a CSR", e);
    }
  }
}
