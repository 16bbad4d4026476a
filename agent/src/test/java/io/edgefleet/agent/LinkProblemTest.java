package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.http.HttpConnectTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.CompletionException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** The agent says what went wrong, and tells a dead link from a controller that refuses. */
class LinkProblemTest {
  static final String URL = "https://ctl.example:7443";

  @Test
  void aRefusedConnectionIsTheControllersSideEvenWithoutAMessage() {
    // How the JDK's HTTP client reports a refused connection.
    ConnectException refused = new ConnectException();
    refused.initCause(new ClosedChannelException());
    LinkProblem p = LinkProblem.of(new CompletionException(refused), URL);
    assertThat(p.link()).isFalse();
    assertThat(p.message()).contains("refused the connection").contains(URL);
  }

  @Test
  void noRouteTimeoutsAndStallsAreTheLink() {
    assertThat(LinkProblem.of(new NoRouteToHostException("No route to host"), URL))
        .satisfies(p -> assertThat(p.link()).isTrue())
        .satisfies(p -> assertThat(p.message()).contains("no route to " + URL));
    assertThat(LinkProblem.of(new HttpConnectTimeoutException("HTTP connect timed out"), URL))
        .satisfies(p -> assertThat(p.link()).isTrue())
        .satisfies(p -> assertThat(p.message()).contains("timed out"));
    ConnectException unreachable = new ConnectException();
    unreachable.initCause(new SocketException("Network is unreachable"));
    assertThat(LinkProblem.of(unreachable, URL).link()).isTrue();
    assertThat(LinkProblem.of(new Transfers.Stalled("the transfer stalled"), URL))
        .satisfies(p -> assertThat(p.link()).isTrue())
        .satisfies(p -> assertThat(p.message()).contains("stalled"));
  }

  @Test
  void tlsFailuresAreNotTheLinkAndSaySo() {
    LinkProblem p =
        LinkProblem.of(new IOException(new SSLHandshakeException("PKIX path failed")), URL);
    assertThat(p.link()).isFalse();
    assertThat(p.message()).contains("TLS handshake with " + URL + " failed");
  }

  @Test
  void everyMessageCarriesTheStableCode() {
    assertThat(LinkProblem.of(new IOException("Connection reset"), URL).message())
        .startsWith("[CONTROLLER_UNREACHABLE]");
  }
}
