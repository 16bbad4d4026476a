package io.edgefleet.e2e.telemetry;

import io.edgefleet.agent.IdentityStore;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A device's WebSocket driven by hand: the identity (key and certificate) of an enrolled agent,
 * real mutual TLS, and whatever text or binary messages a test wants to send, well-formed or not.
 */
public final class DeviceSocket implements AutoCloseable {
  final List<ControllerMessage> received = new CopyOnWriteArrayList<>();
  private final HttpClient client;
  private final WebSocket ws;
  private final StringBuilder partial = new StringBuilder();
  volatile Integer closeCode;

  public DeviceSocket(String controllerUrl, Path agentStateDir) throws Exception {
    IdentityStore.Identity id = new IdentityStore(agentStateDir).load().orElseThrow();
    client =
        HttpClient.newBuilder()
            .sslContext(
                TlsContexts.mutual(
                    id.key().getPrivate(),
                    new X509Certificate[] {id.certificate(), id.ca()},
                    new PinnedCaTrustManager(id.caFingerprint(), id.ca())))
            .build();
    ws =
        client
            .newWebSocketBuilder()
            .buildAsync(
                URI.create(controllerUrl.replaceFirst("^https", "wss") + DeviceApi.CONNECT),
                new WebSocket.Listener() {
                  @Override
                  public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                    partial.append(data);
                    if (last) {
                      try {
                        received.add(
                            Json.mapper().readValue(partial.toString(), ControllerMessage.class));
                      } catch (java.io.IOException e) {
                        // A message this test does not know; not what it looks for.
                      }
                      partial.setLength(0);
                    }
                    w.request(1);
                    return null;
                  }

                  @Override
                  public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
                    closeCode = code;
                    return null;
                  }
                })
            .get(20, TimeUnit.SECONDS);
  }

  public void send(AgentMessage message) throws Exception {
    sendText(Json.write(message));
  }

  void sendText(String text) throws Exception {
    ws.sendText(text, true).get(20, TimeUnit.SECONDS);
  }

  void sendBinary(byte[] message) throws Exception {
    ws.sendBinary(java.nio.ByteBuffer.wrap(message), true).get(20, TimeUnit.SECONDS);
  }

  boolean open() {
    return closeCode == null && !ws.isInputClosed() && !ws.isOutputClosed();
  }

  public <T extends ControllerMessage> List<T> received(Class<T> type) {
    return received.stream().filter(type::isInstance).map(type::cast).toList();
  }

  @Override
  public void close() {
    ws.abort();
    client.shutdownNow();
  }

  public static Duration patience() {
    return Duration.ofSeconds(20);
  }
}
