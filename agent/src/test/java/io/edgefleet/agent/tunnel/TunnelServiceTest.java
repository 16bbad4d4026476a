package io.edgefleet.agent.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tunnel.TunnelException;
import io.edgefleet.protocol.tunnel.TunnelMux;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TunnelServiceTest {
  private final ExecutorService wire = Executors.newFixedThreadPool(2);
  private TunnelMux agent;
  private final TunnelMux controller =
      TunnelMux.controller(
          f -> CompletableFuture.runAsync(() -> agent.received(ByteBuffer.wrap(f)), wire),
          Clock.systemUTC(),
          TunnelMux.MAX_STREAMS);

  private void agentOffers(Map<String, StreamHandler> handlers) {
    ExecutorService back = Executors.newSingleThreadExecutor();
    agent =
        TunnelMux.agent(
            f -> CompletableFuture.runAsync(() -> controller.received(ByteBuffer.wrap(f)), back),
            new TunnelService(handlers, new PrintStream(new ByteArrayOutputStream())),
            Clock.systemUTC(),
            TunnelMux.MAX_STREAMS);
  }

  @AfterEach
  void stop() {
    wire.shutdownNow();
  }

  @Test
  void aTcpStreamReachesAServerOnTheDeviceAndEndsWhenItCloses() throws Exception {
    agentOffers(Map.of("tcp", new TcpHandler(List.of(), Duration.ofSeconds(5))));
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Thread.ofVirtual()
          .start(
              () -> {
                try (Socket s = server.accept()) {
                  byte[] got = s.getInputStream().readNBytes(5);
                  s.getOutputStream()
                      .write(
                          ("echo " + new String(got, StandardCharsets.UTF_8))
                              .getBytes(StandardCharsets.UTF_8));
                } catch (Exception e) {
                  throw new RuntimeException(e);
                }
              });
      TunnelStream c =
          controller.open("tcp", Map.of("host", "127.0.0.1", "port", "" + server.getLocalPort()));
      c.output().write("hello".getBytes(StandardCharsets.UTF_8));
      c.output().close();
      assertThat(new String(c.input().readAllBytes(), StandardCharsets.UTF_8))
          .isEqualTo("echo hello");
      assertThat(c.ended().get(5, TimeUnit.SECONDS).clean()).isTrue();
    }
  }

  @Test
  void aTcpStreamToAnotherHostIsRefusedUnlessTheDeviceAllowsIt() throws Exception {
    agentOffers(Map.of("tcp", new TcpHandler(List.of(), Duration.ofSeconds(5))));
    TunnelStream c = controller.open("tcp", Map.of("host", "192.0.2.1", "port", "80"));
    TunnelStream.Ended e = c.ended().get(5, TimeUnit.SECONDS);
    assertThat(e.code()).isEqualTo(ErrorCode.TUNNEL_REFUSED);
    assertThat(e.message()).contains("--tunnel-host");
  }

  @Test
  void aClosedPortIsReportedAsUnreachable() throws Exception {
    agentOffers(Map.of("tcp", new TcpHandler(List.of(), Duration.ofSeconds(5))));
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    TunnelStream c = controller.open("tcp", Map.of("host", "127.0.0.1", "port", "" + port));
    TunnelStream.Ended e = c.ended().get(5, TimeUnit.SECONDS);
    assertThat(e.code()).isEqualTo(ErrorCode.TUNNEL_TARGET_UNREACHABLE);
    assertThatThrownBy(() -> c.input().read()).isInstanceOf(TunnelException.class);
  }

  @Test
  void aKindTheDeviceDoesNotOfferIsRefusedNamingWhatItOffers() throws Exception {
    agentOffers(Map.of("tcp", s -> {}));
    TunnelStream c = controller.open("shell", Map.of());
    TunnelStream.Ended e = c.ended().get(5, TimeUnit.SECONDS);
    assertThat(e.code()).isEqualTo(ErrorCode.TUNNEL_REFUSED);
    assertThat(e.message()).isEqualTo("this device offers no 'shell' tunnels (it offers tcp)");
  }

  @Test
  void theKubeHeadCarriesTheDevicesCredentialsAndTheImpersonationOnly() throws Exception {
    byte[] head =
        ("GET /api/v1/pods?watch=true HTTP/1.1\r\nHost: controller:6443\r\nAuthorization: Bearer"
                + " operator\r\nImpersonate-User: system:admin\r\nimpersonate-group:"
                + " system:masters\r\nAccept: application/json\r\nConnection: keep-alive\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1);
    assertThat(KubeHandler.readHead(new ByteArrayInputStream(head))).isEqualTo(head);
    KubeHandler.Api api =
        new KubeHandler.Api(
            URI.create("https://127.0.0.1:6444"), null, Optional.of("device-token"));
    String out =
        new String(
            KubeHandler.rewrite(head, api, "edgefleet:alice", List.of("edgefleet:viewer")),
            StandardCharsets.ISO_8859_1);
    assertThat(out)
        .isEqualTo(
            "GET /api/v1/pods?watch=true HTTP/1.1\r\nHost: 127.0.0.1:6444\r\nAccept:"
                + " application/json\r\nAuthorization: Bearer device-token\r\nImpersonate-User:"
                + " edgefleet:alice\r\nImpersonate-Group: edgefleet:viewer\r\nConnection:"
                + " close\r\n\r\n");
    byte[] upgrade =
        ("POST /api/v1/namespaces/a/pods/p/exec HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade:"
                + " SPDY/3.1\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1);
    assertThat(
            new String(
                KubeHandler.rewrite(upgrade, api, "edgefleet:a", List.of()),
                StandardCharsets.ISO_8859_1))
        .contains("Upgrade: SPDY/3.1\r\n")
        .endsWith("Connection: Upgrade\r\n\r\n");
    assertThatThrownBy(() -> KubeHandler.rewrite("hello\r\n\r\n".getBytes(), api, "u", List.of()))
        .hasMessageContaining("not an HTTP/1.1 request line");
    assertThatThrownBy(() -> KubeHandler.rewrite(head, api, "a\r\nX: y", List.of()))
        .hasMessageContaining("not a user or group name");
  }
}
