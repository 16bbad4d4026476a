package io.edgefleet.protocol.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TunnelMuxTest {
  private final ExecutorService toAgent = Executors.newSingleThreadExecutor();
  private final ExecutorService toController = Executors.newSingleThreadExecutor();
  private final List<TunnelStream> accepted = new CopyOnWriteArrayList<>();
  private Consumer<TunnelStream> onOpen =
      s -> {
        s.accept();
        accepted.add(s);
      };
  private final TunnelMux agent =
      TunnelMux.agent(
          f ->
              CompletableFuture.runAsync(
                  () -> controllerMux().received(ByteBuffer.wrap(f)), toController),
          s -> onOpen.accept(s),
          Clock.systemUTC(),
          TunnelMux.MAX_STREAMS);
  private final TunnelMux controller =
      TunnelMux.controller(
          f -> CompletableFuture.runAsync(() -> agent.received(ByteBuffer.wrap(f)), toAgent),
          Clock.systemUTC(),
          TunnelMux.MAX_STREAMS);

  private TunnelMux controllerMux() {
    return controller;
  }

  @AfterEach
  void stop() {
    toAgent.shutdownNow();
    toController.shutdownNow();
  }

  private TunnelStream agentSide(TunnelStream c) {
    await().until(() -> accepted.stream().anyMatch(s -> s.id() == c.id()));
    return accepted.stream().filter(s -> s.id() == c.id()).findFirst().orElseThrow();
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void bytesFlowBothWaysAndFinBothWaysEndsTheStreamCleanly() throws Exception {
    TunnelStream c = controller.open("tcp", Map.of("host", "127.0.0.1", "port", "80"));
    c.accepted().get(5, TimeUnit.SECONDS);
    TunnelStream a = agentSide(c);
    assertThat(a.kind()).isEqualTo("tcp");
    assertThat(a.params()).containsEntry("port", "80");

    byte[] up = random(300_000, 1); // several windows' worth
    byte[] down = random(200_000, 2);
    CompletableFuture<byte[]> atAgent = readAll(a.input());
    CompletableFuture<byte[]> atController = readAll(c.input());
    Thread w1 = Thread.ofVirtual().start(() -> write(c, up));
    Thread w2 = Thread.ofVirtual().start(() -> write(a, down));

    assertThat(atAgent.get(10, TimeUnit.SECONDS)).isEqualTo(up);
    assertThat(atController.get(10, TimeUnit.SECONDS)).isEqualTo(down);
    w1.join();
    w2.join();
    TunnelStream.Ended ended = c.ended().get(5, TimeUnit.SECONDS);
    assertThat(ended.clean()).isTrue();
    assertThat(a.ended().get(5, TimeUnit.SECONDS).clean()).isTrue();
    assertThat(c.bytesOut()).isEqualTo(up.length);
    assertThat(c.bytesIn()).isEqualTo(down.length);
    assertThat(controller.openStreams()).isZero();
    assertThat(agent.openStreams()).isZero();
  }

  private static void write(TunnelStream s, byte[] b) {
    try (var out = s.output()) {
      out.write(b);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  private static CompletableFuture<byte[]> readAll(InputStream in) {
    CompletableFuture<byte[]> f = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try {
                f.complete(in.readAllBytes());
              } catch (Throwable t) {
                f.completeExceptionally(t);
              }
            });
    return f;
  }

  @Test
  void aWriterWaitsWhileTheReadersWindowIsFullAndGoesOnWhenItReads() throws Exception {
    TunnelStream c = controller.open("tcp", Map.of());
    c.accepted().get(5, TimeUnit.SECONDS);
    TunnelStream a = agentSide(c);
    byte[] data = random(5 * TunnelFrame.DEFAULT_WINDOW, 3);
    Thread writer = Thread.ofVirtual().start(() -> write(c, data));

    // Nobody reads on the agent: the writer fills one window and waits; no more than the window
    // arrives (the link's pacing may hold part of it back while no credit comes).
    await().until(() -> writer.getState() == Thread.State.WAITING);
    assertThat(c.bytesOut()).isEqualTo(TunnelFrame.DEFAULT_WINDOW);
    await().until(() -> a.input().available() > 0);
    assertThat(a.input().available()).isLessThanOrEqualTo(TunnelFrame.DEFAULT_WINDOW);

    assertThat(a.input().readAllBytes()).isEqualTo(data);
    writer.join(Duration.ofSeconds(5));
    assertThat(writer.isAlive()).isFalse();
  }

  @Test
  void dataFramesAreTakenRoundRobinAndOnlyOneFrameIsInTheSocketAtATime() throws Exception {
    // A sink that holds every frame until the test lets it go.
    List<byte[]> handed = new CopyOnWriteArrayList<>();
    List<CompletableFuture<Void>> pending = new CopyOnWriteArrayList<>();
    TunnelMux mux =
        TunnelMux.controller(
            f -> {
              handed.add(f);
              CompletableFuture<Void> p = new CompletableFuture<>();
              pending.add(p);
              return p;
            },
            Clock.systemUTC(),
            TunnelMux.MAX_STREAMS);
    TunnelStream s1 = mux.open("tcp", Map.of());
    TunnelStream s2 = mux.open("tcp", Map.of());
    accept(mux, s1);
    accept(mux, s2);
    Thread.ofVirtual().start(() -> write(s1, random(4 * TunnelFrame.MAX_DATA, 4)));
    Thread.ofVirtual().start(() -> write(s2, random(4 * TunnelFrame.MAX_DATA, 5)));
    // Both writers have queued their first chunks... (the OPENs are the first frame in flight)
    await().until(() -> s1.bytesOut() > 0 && s2.bytesOut() > 0);
    assertThat(handed).hasSize(1); // only the first OPEN: nothing more while it is in flight

    List<Integer> dataOrder = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      int n = handed.size();
      pending.get(n - 1).complete(null);
      await().until(() -> handed.size() == n + 1 || allDone(pending, handed));
      if (handed.size() == n) {
        break;
      }
      assertThat(pending.stream().filter(p -> !p.isDone()).count()).isEqualTo(1);
      byte[] f = handed.get(n);
      if (f[1] == TunnelFrame.DATA) {
        int stream = ByteBuffer.wrap(f, 2, 4).getInt();
        dataOrder.add(stream);
        // The peer reads at once: its credit keeps the link's pacing out of the way.
        mux.received(ByteBuffer.wrap(TunnelFrame.credit(stream, f.length - TunnelFrame.HEADER)));
      }
    }
    // The two streams take turns.
    assertThat(dataOrder.size()).isGreaterThanOrEqualTo(6);
    for (int i = 1; i < dataOrder.size(); i++) {
      assertThat(dataOrder.get(i)).isNotEqualTo(dataOrder.get(i - 1));
    }
  }

  private static boolean allDone(List<CompletableFuture<Void>> pending, List<byte[]> handed) {
    return pending.size() == handed.size() && pending.stream().allMatch(CompletableFuture::isDone);
  }

  private static void accept(TunnelMux mux, TunnelStream s) {
    byte[] a = Json.writeBytes(Map.of("window", TunnelFrame.DEFAULT_WINDOW));
    mux.received(ByteBuffer.wrap(TunnelFrame.encode(TunnelFrame.ACCEPT, s.id(), a)));
  }

  @Test
  void smallFramesGoBeforeWaitingData() throws Exception {
    List<byte[]> handed = new CopyOnWriteArrayList<>();
    List<CompletableFuture<Void>> pending = new CopyOnWriteArrayList<>();
    TunnelMux mux =
        TunnelMux.controller(
            f -> {
              handed.add(f);
              CompletableFuture<Void> p = new CompletableFuture<>();
              pending.add(p);
              return p;
            },
            Clock.systemUTC(),
            TunnelMux.MAX_STREAMS);
    TunnelStream s1 = mux.open("tcp", Map.of());
    accept(mux, s1);
    Thread.ofVirtual().start(() -> write(s1, random(3 * TunnelFrame.MAX_DATA, 6)));
    await().until(() -> s1.bytesOut() >= 3 * TunnelFrame.MAX_DATA);
    s1.control(Json.mapper().readTree("{\"resize\":{\"cols\":80,\"rows\":24}}"));
    pending.getFirst().complete(null); // the OPEN left
    await().until(() -> handed.size() == 2);
    assertThat(handed.get(1)[1]).isEqualTo((byte) TunnelFrame.CONTROL);
  }

  @Test
  void theBudgetEndsAStreamOnBothEnds() throws Exception {
    TunnelStream c = controller.open("tcp", Map.of(TunnelMux.BUDGET, "100000"));
    c.accepted().get(5, TimeUnit.SECONDS);
    TunnelStream a = agentSide(c);
    assertThat(a.budget()).isEqualTo(100_000);
    CompletableFuture<byte[]> reader = readAll(a.input());
    assertThatThrownBy(() -> c.output().write(random(150_000, 7)))
        .isInstanceOf(TunnelException.class)
        .satisfies(
            e ->
                assertThat(((TunnelException) e).code())
                    .isEqualTo(ErrorCode.TUNNEL_BUDGET_EXCEEDED));
    TunnelStream.Ended atAgent = a.ended().get(5, TimeUnit.SECONDS);
    assertThat(atAgent.code()).isEqualTo(ErrorCode.TUNNEL_BUDGET_EXCEEDED);
    assertThat(atAgent.byPeer()).isTrue();
    assertThat(a.bytesIn()).isLessThanOrEqualTo(100_000);
    assertThatThrownBy(() -> reader.get(5, TimeUnit.SECONDS))
        .hasCauseInstanceOf(TunnelException.class);
  }

  @Test
  void aPeerSendingBeyondTheBudgetIsResetByTheReceiver() throws Exception {
    List<byte[]> handed = new CopyOnWriteArrayList<>();
    TunnelMux mux =
        TunnelMux.agent(
            f -> {
              handed.add(f);
              return CompletableFuture.completedFuture(null);
            },
            TunnelStream::accept,
            Clock.systemUTC(),
            TunnelMux.MAX_STREAMS);
    byte[] open =
        Json.writeBytes(Map.of("kind", "tcp", "params", Map.of("budget", "10"), "window", 65536));
    mux.received(ByteBuffer.wrap(TunnelFrame.encode(TunnelFrame.OPEN, 7, open)));
    TunnelStream s = mux.streams().getFirst();
    mux.received(ByteBuffer.wrap(TunnelFrame.encode(TunnelFrame.DATA, 7, new byte[11])));
    assertThat(s.ended().get(1, TimeUnit.SECONDS).code())
        .isEqualTo(ErrorCode.TUNNEL_BUDGET_EXCEEDED);
    assertThat(handed.getLast()[1]).isEqualTo((byte) TunnelFrame.RESET);
  }

  @Test
  void aPeerSendingBeyondTheWindowIsReset() throws Exception {
    List<byte[]> handed = new CopyOnWriteArrayList<>();
    TunnelMux mux =
        TunnelMux.agent(
            f -> {
              handed.add(f);
              return CompletableFuture.completedFuture(null);
            },
            TunnelStream::accept,
            Clock.systemUTC(),
            TunnelMux.MAX_STREAMS);
    byte[] open = Json.writeBytes(Map.of("kind", "tcp", "params", Map.of(), "window", 65536));
    mux.received(ByteBuffer.wrap(TunnelFrame.encode(TunnelFrame.OPEN, 3, open)));
    TunnelStream s = mux.streams().getFirst();
    for (int i = 0; i < 4; i++) {
      mux.received(ByteBuffer.wrap(TunnelFrame.encode(TunnelFrame.DATA, 3, new byte[16384])));
    }
    assertThat(s.ended()).isNotDone();
    mux.received(ByteBuffer.wrap(TunnelFrame.encode(TunnelFrame.DATA, 3, new byte[1])));
    TunnelStream.Ended e = s.ended().get(1, TimeUnit.SECONDS);
    assertThat(e.code()).isEqualTo(ErrorCode.TUNNEL_PROTOCOL_ERROR);
    assertThat(e.message()).contains("window");
  }

  @Test
  void linkLossEndsEveryStreamAndWakesBlockedReadersAndWriters() throws Exception {
    TunnelStream c1 = controller.open("kube", Map.of());
    TunnelStream c2 = controller.open("tcp", Map.of());
    c1.accepted().get(5, TimeUnit.SECONDS);
    c2.accepted().get(5, TimeUnit.SECONDS);
    TunnelStream a2 = agentSide(c2);
    CompletableFuture<byte[]> reader = readAll(c1.input());
    AtomicReference<Throwable> writeFailure = new AtomicReference<>();
    Thread writer =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    c2.output().write(random(10 * TunnelFrame.DEFAULT_WINDOW, 8));
                  } catch (IOException e) {
                    writeFailure.set(e);
                  }
                });
    await().until(() -> a2.input().available() > 0 && writer.getState() == Thread.State.WAITING);

    controller.linkLost(ErrorCode.DEVICE_DISCONNECTED, "link lost: the connection broke");
    agent.linkLost(ErrorCode.DEVICE_DISCONNECTED, "link lost: the connection broke");

    assertThat(c1.ended().get(1, TimeUnit.SECONDS).code()).isEqualTo(ErrorCode.DEVICE_DISCONNECTED);
    assertThat(c2.ended().get(1, TimeUnit.SECONDS).message()).startsWith("link lost");
    assertThat(a2.ended().get(1, TimeUnit.SECONDS).code()).isEqualTo(ErrorCode.DEVICE_DISCONNECTED);
    assertThatThrownBy(() -> reader.get(5, TimeUnit.SECONDS))
        .hasCauseInstanceOf(TunnelException.class)
        .hasMessageContaining("link lost");
    writer.join(Duration.ofSeconds(5));
    assertThat(writeFailure.get()).isInstanceOf(TunnelException.class);
    assertThatThrownBy(() -> controller.open("tcp", Map.of()))
        .isInstanceOf(TunnelException.class)
        .satisfies(
            e -> assertThat(((TunnelException) e).code()).isEqualTo(ErrorCode.DEVICE_DISCONNECTED));
  }

  @Test
  void atMostSixteenStreamsAreOpen() throws Exception {
    List<TunnelStream> open = new ArrayList<>();
    for (int i = 0; i < TunnelMux.MAX_STREAMS; i++) {
      open.add(controller.open("tcp", Map.of()));
    }
    assertThatThrownBy(() -> controller.open("tcp", Map.of()))
        .isInstanceOf(TunnelException.class)
        .satisfies(e -> assertThat(((TunnelException) e).code()).isEqualTo(ErrorCode.TUNNEL_LIMIT));
    open.getFirst().reset(ErrorCode.BAD_REQUEST, "done");
    assertThat(controller.open("tcp", Map.of())).isNotNull();
  }

  @Test
  void theAgentRefusesAKindItDoesNotOffer() throws Exception {
    onOpen =
        s -> s.reset(ErrorCode.TUNNEL_REFUSED, "this device offers no '" + s.kind() + "' tunnels");
    TunnelStream c = controller.open("warp", Map.of());
    assertThatThrownBy(() -> c.accepted().get(5, TimeUnit.SECONDS))
        .hasCauseInstanceOf(TunnelException.class)
        .hasMessageContaining("no 'warp' tunnels");
    assertThat(c.ended().get(1, TimeUnit.SECONDS).code()).isEqualTo(ErrorCode.TUNNEL_REFUSED);
    await().until(() -> agent.openStreams() == 0 && controller.openStreams() == 0);
  }

  @Test
  void controlMessagesReachTheOtherSideIncludingThoseBeforeAConsumer() throws Exception {
    TunnelStream c = controller.open("shell", Map.of());
    c.accepted().get(5, TimeUnit.SECONDS);
    TunnelStream a = agentSide(c);
    List<JsonNode> atController = new CopyOnWriteArrayList<>();
    c.onControl(atController::add);
    c.control(Json.mapper().readTree("{\"resize\":{\"cols\":120,\"rows\":40}}"));
    a.control(Json.mapper().readTree("{\"exit\":0}"));
    await().until(() -> atController.size() == 1);
    assertThat(atController.getFirst().path("exit").asInt(-1)).isZero();
    List<JsonNode> atAgent = new CopyOnWriteArrayList<>();
    await()
        .until(
            () -> {
              a.onControl(atAgent::add);
              return !atAgent.isEmpty();
            });
    assertThat(atAgent.getFirst().path("resize").path("cols").asInt()).isEqualTo(120);
  }

  @Test
  void malformedFramesAreRefusedByTheCodec() {
    assertThatThrownBy(() -> TunnelFrame.decode(ByteBuffer.wrap(new byte[] {0x10, 3, 0})))
        .isInstanceOf(TunnelFrame.MalformedException.class);
    assertThatThrownBy(
            () -> TunnelFrame.decode(ByteBuffer.wrap(TunnelFrame.encode(9, 1, new byte[0]))))
        .hasMessageContaining("unknown tunnel frame type 9");
    byte[] big = TunnelFrame.encode(TunnelFrame.DATA, 1, new byte[TunnelFrame.MAX_DATA + 1]);
    assertThatThrownBy(() -> TunnelFrame.decode(ByteBuffer.wrap(big)))
        .hasMessageContaining("at most");
  }

  @Test
  void theCodecRoundTrips() throws Exception {
    byte[] f = TunnelFrame.encode(TunnelFrame.DATA, 0xfffffffe, new byte[] {1, 2, 3});
    assertThat(TunnelFrame.isTunnelFrame(ByteBuffer.wrap(f))).isTrue();
    TunnelFrame d = TunnelFrame.decode(ByteBuffer.wrap(f));
    assertThat(d.type()).isEqualTo(TunnelFrame.DATA);
    assertThat(Integer.toUnsignedLong(d.stream())).isEqualTo(0xfffffffeL);
    assertThat(d.payload()).containsExactly(1, 2, 3);
    assertThat(TunnelFrame.decode(ByteBuffer.wrap(TunnelFrame.credit(5, 4096))).credit())
        .isEqualTo(4096);
    assertThat(Arrays.copyOf(f, 1)).containsExactly(0x10);
    assertThat(new ByteArrayOutputStream().size()).isZero();
  }
}
