package io.edgefleet.controller.alerts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.tls.Pem;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Deliveries over real HTTPS: a receiver whose certificate chains to a private CA is reached only
 * with that CA added, and answers and failures are classified as retryable or not. The receiver is
 * a real controller's HTTPS listener (its CA is private, its API answers 401 without a token).
 * Receivers that misbehave (a huge error body, a body dripped byte by byte) are real loopback
 * sockets: a delivery reads a bounded part of any answer and ends at its deadline.
 */
class WebhookSenderIT {
  @TempDir static Path dir;
  static Controller server;

  @BeforeAll
  static void start() {
    server =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller")).withListen("127.0.0.1", 0),
            Clock.systemUTC());
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static AlertReceivers.Target target(String url, String caPem) {
    return new AlertReceivers.Target("rcv-1", "r", ReceiverFormat.GENERIC, URI.create(url), caPem);
  }

  static final byte[] BODY = "{\"status\":\"firing\"}".getBytes(StandardCharsets.UTF_8);

  @Test
  void aPrivateCaIsTrustedOnlyWhenTheReceiverNamesIt() {
    String url = "https://localhost:" + server.port() + "/api/v1/alerts/rules";
    String ca = Pem.certificate(server.pki().caCertificate());
    WebhookSender.Http sender = new WebhookSender.Http(Duration.ofSeconds(5));
    try {
      WebhookSender.Result untrusted = sender.send(target(url, null), BODY);
      assertThat(untrusted.delivered()).isFalse();
      assertThat(untrusted.retryable()).isTrue();
      assertThat(untrusted.detail()).containsIgnoringCase("SSLHandshake");

      // With the CA, TLS succeeds and the server's answer (401: no token) is what counts: an
      // answer that retrying cannot change, given up at once.
      WebhookSender.Result answered = sender.send(target(url, ca), BODY);
      assertThat(answered.delivered()).isFalse();
      assertThat(answered.retryable()).isFalse();
      assertThat(answered.detail()).startsWith("HTTP 401").contains("UNAUTHENTICATED");
      // The receiver's URL shows only as a hint in errors.
      assertThat(answered.detail()).doesNotContain("/api/v1/alerts/rules");
    } finally {
      sender.close();
    }
  }

  @Test
  void aReceiverThatIsNotThereIsRetryable() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    WebhookSender.Http sender = new WebhookSender.Http(Duration.ofSeconds(2));
    try {
      WebhookSender.Result r =
          sender.send(target("http://127.0.0.1:" + port + "/hook", null), BODY);
      assertThat(r.delivered()).isFalse();
      assertThat(r.retryable()).isTrue();
      assertThat(r.detail()).contains("ConnectException");
    } finally {
      sender.close();
    }
  }

  @Test
  void aHugeErrorBodyIsCutToAnExcerptAndNotReadToItsEnd() throws Exception {
    long huge = 256L * 1024 * 1024;
    try (TestReceiver receiver = TestReceiver.start(new TestReceiver.Huge(500, huge))) {
      WebhookSender.Http sender = new WebhookSender.Http(Duration.ofSeconds(5));
      try {
        WebhookSender.Result r =
            assertTimeoutPreemptively(
                Duration.ofSeconds(20),
                () -> sender.send(target(receiver.url("/hook"), null), BODY));
        assertThat(r.delivered()).isFalse();
        assertThat(r.retryable()).isTrue();
        assertThat(r.detail()).startsWith("HTTP 500: " + TestReceiver.ERROR_PREFIX.strip());
        assertThat(r.detail().length()).isLessThan(400);
        // The sender hangs up after a few KB: the receiver's writes fail once the socket buffers
        // are full, long before its 256 MB are out.
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> receiver.answersCut() + receiver.answersComplete() == 1);
        assertThat(receiver.bodyBytesWritten())
            .as("body bytes the receiver could write")
            .isLessThan(32L * 1024 * 1024);
        assertThat(receiver.answersCut()).isEqualTo(1);
      } finally {
        sender.close();
      }
    }
  }

  @Test
  void aDrippedErrorBodyIsGivenUpAtTheDeadline() throws Exception {
    try (TestReceiver receiver =
        TestReceiver.start(new TestReceiver.Drip(500, Duration.ofSeconds(1)))) {
      WebhookSender.Http sender = new WebhookSender.Http(Duration.ofSeconds(2));
      try {
        long start = System.nanoTime();
        WebhookSender.Result r =
            assertTimeoutPreemptively(
                Duration.ofSeconds(15),
                () -> sender.send(target(receiver.url("/hook"), null), BODY));
        Duration took = TestReceiver.since(start);
        assertThat(took).isBetween(Duration.ofMillis(1900), Duration.ofSeconds(4));
        assertThat(r.delivered()).isFalse();
        assertThat(r.retryable()).isTrue();
        assertThat(r.detail()).startsWith("HTTP 500").contains("2s");
        // The connection is closed: the receiver cannot keep dripping into it.
        await().atMost(Duration.ofSeconds(10)).until(() -> receiver.answersCut() == 1);
      } finally {
        sender.close();
      }
    }
  }

  @Test
  void aSuccessWhoseBodyNeverEndsIsDeliveredWithoutWaitingForIt() throws Exception {
    try (TestReceiver receiver =
        TestReceiver.start(new TestReceiver.Drip(200, Duration.ofSeconds(1)))) {
      WebhookSender.Http sender = new WebhookSender.Http(Duration.ofSeconds(2));
      try {
        WebhookSender.Result r =
            assertTimeoutPreemptively(
                Duration.ofSeconds(15),
                () -> sender.send(target(receiver.url("/hook"), null), BODY));
        assertThat(r.delivered()).isTrue();
        assertThat(receiver.requests()).hasSize(1);
      } finally {
        sender.close();
      }
    }
  }
}
