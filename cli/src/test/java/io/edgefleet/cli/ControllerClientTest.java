package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.tls.PinnedCaTrustManager.PinMismatchException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

class ControllerClientTest {
  private static final Connection CONNECTION =
      new Connection(
          URI.create("https://ctl.example:7443"), "t", "sha256:" + "a".repeat(64), "--server");

  @Test
  void apiErrorsReadMessageThenCode() {
    CliException e =
        ControllerClient.apiError(404, "{\"code\":\"NOT_FOUND\",\"message\":\"no device d-9\"}");

    assertThat(e.getMessage()).isEqualTo("no device d-9 (NOT_FOUND)");
    assertThat(e.exitCode()).isEqualTo(1);
  }

  @Test
  void refusedApiTokenGetsAHint() {
    CliException e =
        ControllerClient.apiError(401, "{\"code\":\"UNAUTHENTICATED\",\"message\":\"bad token\"}");

    assertThat(e.getMessage()).startsWith("bad token (UNAUTHENTICATED)\n").contains("--token");
  }

  @Test
  void errorsWithoutApiErrorBodyStillSayWhatHappened() {
    assertThat(ControllerClient.apiError(502, "<html>Bad Gateway</html>").getMessage())
        .isEqualTo("the controller answered HTTP 502: <html>Bad Gateway</html> (HTTP_502)");
    assertThat(ControllerClient.apiError(500, "").getMessage())
        .isEqualTo("the controller answered HTTP 500 (HTTP_500)");
  }

  @Test
  void refusedConnectionNamesTheUrlAndTheNestedReason() {
    // The JDK client throws a message-less ConnectException wrapping the real one.
    IOException e = new ConnectException();
    e.initCause(new ConnectException("Connection refused"));

    assertThat(ControllerClient.failure(e, CONNECTION).getMessage())
        .startsWith("cannot reach the controller at https://ctl.example:7443: Connection refused");
  }

  @Test
  void refusedConnectionWithoutAnyMessageSaysSo() {
    IOException e = new ConnectException();
    e.initCause(new java.nio.channels.ClosedChannelException());

    assertThat(ControllerClient.failure(e, CONNECTION).getMessage())
        .startsWith(
            "cannot reach the controller at https://ctl.example:7443: connection refused\n");
  }

  @Test
  void unknownHostAndTimeoutsAreNamed() {
    IOException unresolved = new ConnectException();
    unresolved.initCause(new UnresolvedAddressException());

    assertThat(ControllerClient.failure(unresolved, CONNECTION).getMessage())
        .startsWith(
            "cannot reach the controller at https://ctl.example:7443: unknown host ctl.example");
    assertThat(
            ControllerClient.failure(new HttpConnectTimeoutException("x"), CONNECTION).getMessage())
        .contains("no connection within 10s");
    assertThat(ControllerClient.failure(new HttpTimeoutException("x"), CONNECTION).getMessage())
        .contains("did not answer within 30s");
  }

  @Test
  void pinMismatchSaysTheCaDoesNotMatch() {
    SSLHandshakeException e = new SSLHandshakeException("certificate_unknown");
    e.initCause(new PinMismatchException("presented [sha256:bbb]"));

    assertThat(ControllerClient.failure(new IOException(e), CONNECTION).getMessage())
        .startsWith(
            "the controller's CA does not match the pinned fingerprint sha256:"
                + "a".repeat(64)
                + ": the controller at https://ctl.example:7443 presented [sha256:bbb]\n");
  }

  @Test
  void pathSegmentsAreEncoded() {
    assertThat(ControllerClient.segment("SN 1/2")).isEqualTo("SN%201%2F2");
  }
}
