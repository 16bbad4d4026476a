package io.edgefleet.controller.trust;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.RenewalRequest;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import io.edgefleet.protocol.tpm.SoftTpm;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * A device with a software TPM-equivalent, speaking the device protocol over real HTTPS and a real
 * WebSocket: enrolls (with or without its TPM), connects with its certificate, and reads what the
 * controller sends it.
 */
final class TpmTestDevice implements AutoCloseable {
  final SoftTpm tpm;
  final KeyPair key;
  private final String url;
  private final String caFingerprint;
  private final HttpClient enrollClient;
  private X509Certificate certificate;
  private X509Certificate ca;
  String deviceId;
  private HttpClient socketClient;
  private WebSocket socket;
  final BlockingQueue<ControllerMessage> received = new LinkedBlockingQueue<>();

  /** A status and body of an HTTP answer. */
  record Answer(int status, String body) {
    String code() {
      try {
        return Json.mapper().readTree(body).path("code").asText();
      } catch (Exception e) {
        return "";
      }
    }

    EnrollmentResponse enrollment() {
      try {
        return Json.mapper().readValue(body, EnrollmentResponse.class);
      } catch (Exception e) {
        throw new AssertionError("not an enrollment response: " + status + " " + body, e);
      }
    }
  }

  TpmTestDevice(String url, String caFingerprint, SoftTpm tpm) {
    this.url = url;
    this.caFingerprint = caFingerprint;
    this.tpm = tpm;
    this.key = ecKey();
    this.enrollClient =
        HttpClient.newBuilder()
            .sslContext(TlsContexts.pinned(new PinnedCaTrustManager(caFingerprint)))
            .connectTimeout(Duration.ofSeconds(10))
            .build();
  }

  static KeyPair ecKey() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String csr(KeyPair key) {
    try {
      var builder =
          new JcaPKCS10CertificationRequestBuilder(new X500Principal("CN=agent"), key.getPublic());
      return Pem.encode(
          "CERTIFICATE REQUEST",
          builder
              .build(new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate()))
              .getEncoded());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static DeviceFacts facts(String host, String model) {
    return new DeviceFacts(
        host, null, List.of(), "amd64", 2, 1L << 30, 1L << 34, "linux", "6.1", "test", false, false,
        null, List.of(), "tpm", model);
  }

  TpmEnrollment firstTpmRequest() {
    return tpm.enrollment((ECPublicKey) key.getPublic());
  }

  /** One enrollment request; {@code tpm} null for a software key. */
  Answer enroll(String token, TpmEnrollment tpmPart, String host, String model) {
    EnrollmentRequest req =
        new EnrollmentRequest(token, null, csr(key), facts(host, model), host, tpmPart);
    return post(enrollClient, DeviceApi.ENROLLMENTS, Json.write(req));
  }

  /** The whole flow with the TPM: first request, activation, repeated request; APPROVED. */
  EnrollmentResponse enrollWithTpm(String token, String host, String model) {
    TpmEnrollment first = firstTpmRequest();
    Answer a = enroll(token, first, host, model);
    EnrollmentResponse r = a.enrollment();
    if (r.status() != EnrollmentResponse.Status.ACTIVATE) {
      throw new AssertionError("expected ACTIVATE, got " + a.status() + " " + a.body());
    }
    return finish(token, first, r, host, model, UnaryOperator.identity());
  }

  /** The repeated request, with the evidence changed by {@code tamper}. */
  EnrollmentResponse finish(
      String token,
      TpmEnrollment first,
      EnrollmentResponse activate,
      String host,
      String model,
      UnaryOperator<TpmEnrollment> tamper) {
    Answer a =
        enroll(token, tamper.apply(tpm.activated(first, activate.activation())), host, model);
    if (a.status() != 200) {
      throw new TrustFailure(a);
    }
    EnrollmentResponse done = a.enrollment();
    adopt(done);
    return done;
  }

  void adopt(EnrollmentResponse done) {
    deviceId = done.deviceId();
    if (done.certificatePem() != null) {
      certificate = Pem.certificateOf(done.certificatePem());
      ca = Pem.certificateOf(done.caCertificatePem());
    }
  }

  /** An enrollment refused with this answer. */
  static final class TrustFailure extends RuntimeException {
    final Answer answer;

    TrustFailure(Answer answer) {
      super(answer.status() + " " + answer.body());
      this.answer = answer;
    }
  }

  private HttpClient mutual() {
    if (socketClient == null) {
      socketClient =
          HttpClient.newBuilder()
              .sslContext(
                  TlsContexts.mutual(
                      key.getPrivate(),
                      new X509Certificate[] {certificate, ca},
                      new PinnedCaTrustManager(caFingerprint, ca)))
              .connectTimeout(Duration.ofSeconds(10))
              .build();
    }
    return socketClient;
  }

  /** A device API GET with the device's certificate. */
  Answer get(String path) {
    try {
      HttpResponse<String> r =
          mutual()
              .send(
                  HttpRequest.newBuilder(URI.create(url + path))
                      .timeout(Duration.ofSeconds(20))
                      .GET()
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      return new Answer(r.statusCode(), r.body());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** A renewal for {@code newKey} with the device's current certificate. */
  Answer renew(KeyPair newKey, TpmKeyProof proof) {
    try {
      HttpResponse<String> r =
          mutual()
              .send(
                  HttpRequest.newBuilder(URI.create(url + DeviceApi.RENEWALS))
                      .timeout(Duration.ofSeconds(20))
                      .header("Content-Type", "application/json")
                      .POST(
                          HttpRequest.BodyPublishers.ofString(
                              Json.write(new RenewalRequest(csr(newKey), proof))))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      return new Answer(r.statusCode(), r.body());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Opens the device's WebSocket and says hello. */
  void connect() {
    closeSocket();
    received.clear();
    try {
      socket =
          mutual()
              .newWebSocketBuilder()
              .buildAsync(
                  URI.create(url.replace("https://", "wss://") + DeviceApi.CONNECT),
                  new WebSocket.Listener() {
                    private final StringBuilder text = new StringBuilder();

                    @Override
                    public CompletionStage<?> onText(
                        WebSocket ws, CharSequence data, boolean last) {
                      text.append(data);
                      if (last) {
                        try {
                          received.add(
                              Json.mapper().readValue(text.toString(), ControllerMessage.class));
                        } catch (Exception e) {
                          // not one of ours
                        }
                        text.setLength(0);
                      }
                      ws.request(1);
                      return null;
                    }
                  })
              .get(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("cannot connect: " + e, e);
    }
    send(new AgentMessage.Hello("test", 1L));
  }

  void send(AgentMessage message) {
    sendText(Json.write(message));
  }

  void sendText(String text) {
    try {
      socket.sendText(text, true).get(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** The next message of this type, skipping others; fails after 20 s. */
  <T extends ControllerMessage> T next(Class<T> type) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    try {
      while (System.nanoTime() < deadline) {
        ControllerMessage m = received.poll(100, TimeUnit.MILLISECONDS);
        if (type.isInstance(m)) {
          return type.cast(m);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    throw new AssertionError("no " + type.getSimpleName() + " within 20 s");
  }

  /** Answers a challenge with a quote by this device's TPM. */
  AgentMessage.AttestationAnswer answer(ControllerMessage.AttestationChallenge c) {
    return answer(c, tpm);
  }

  /** Answers a challenge with a quote by {@code by}. */
  static AgentMessage.AttestationAnswer answer(
      ControllerMessage.AttestationChallenge c, SoftTpm by) {
    return new AgentMessage.AttestationAnswer(
        c.id(), by.quote(Base64.getDecoder().decode(c.nonce()), c.pcrs()), null);
  }

  private Answer post(HttpClient client, String path, String json) {
    try {
      HttpResponse<String> r =
          client.send(
              HttpRequest.newBuilder(URI.create(url + path))
                  .timeout(Duration.ofSeconds(20))
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(json))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return new Answer(r.statusCode(), r.body());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  void closeSocket() {
    if (socket != null) {
      socket.abort();
      socket = null;
    }
  }

  @Override
  public void close() {
    closeSocket();
    enrollClient.shutdownNow();
    if (socketClient != null) {
      socketClient.shutdownNow();
    }
  }
}
