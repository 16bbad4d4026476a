package io.edgefleet.controller.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentMessage.LogLine;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class LogSessionsTest {
  private static final Instant T0 = Instant.parse("2025-06-01T12:00:00Z");
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final List<ControllerMessage> sent = new CopyOnWriteArrayList<>();
  private final Set<String> connected =
      new java.util.concurrent.CopyOnWriteArraySet<>(Set.of("d-1"));
  private final LogSessions.Link link =
      new LogSessions.Link() {
        @Override
        public boolean connected(String deviceId) {
          return connected.contains(deviceId);
        }

        @Override
        public boolean send(String deviceId, ControllerMessage message) {
          if (!connected.contains(deviceId)) {
            return false;
          }
          sent.add(message);
          return true;
        }
      };

  private LogSessions sessions(Duration answerTimeout) {
    return new LogSessions(
        link,
        LogSessions.Options.defaults()
            .withAnswerTimeout(answerTimeout)
            .withKeepAlive(Duration.ofMillis(100)));
  }

  private static LogLine line(int n) {
    return new LogLine(T0.plusMillis(n), "web-1", "web", "line " + n);
  }

  private ControllerMessage.LogsRequest request() {
    return await()
        .atMost(WAIT)
        .until(
            () ->
                sent.stream()
                    .filter(ControllerMessage.LogsRequest.class::isInstance)
                    .map(ControllerMessage.LogsRequest.class::cast)
                    .reduce((a, b) -> b),
            java.util.Optional::isPresent)
        .orElseThrow();
  }

  @Test
  void anAnswerGathersLinesAndNotesUntilTheDeviceSaysDone() {
    LogSessions logs = sessions(WAIT);
    LogSessions.Session s = logs.open("d-1", "web", 5, false);
    ControllerMessage.LogsRequest asked = request();
    assertThat(asked).isEqualTo(new ControllerMessage.LogsRequest(s.id(), "web", 5, false));

    CompletableFuture<LogSessions.Answer> answer = CompletableFuture.supplyAsync(s::answer);
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(), false, "from the ring"));
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(line(1), line(2)), false, null));
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(line(3)), true, null));

    LogSessions.Answer a = answer.join();
    assertThat(a.lines()).extracting(LogLine::line).containsExactly("line 1", "line 2", "line 3");
    assertThat(a.notes()).containsExactly("from the ring");
    assertThat(logs.active()).isEmpty();
    assertThat(sent).noneMatch(ControllerMessage.LogsCancel.class::isInstance);
  }

  @Test
  void anotherDeviceCannotAnswerForThisOne() {
    LogSessions logs = sessions(WAIT);
    LogSessions.Session s = logs.open("d-1", "web", 5, false);
    CompletableFuture<LogSessions.Answer> answer = CompletableFuture.supplyAsync(s::answer);

    logs.receive("d-2", new AgentMessage.LogLines(s.id(), List.of(line(9)), true, null));
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(line(1)), true, null));

    assertThat(answer.join().lines()).extracting(LogLine::line).containsExactly("line 1");
  }

  @Test
  void aSilentDeviceIsGivenUpOnAndToldToStop() {
    LogSessions logs = sessions(Duration.ofMillis(300));
    LogSessions.Session s = logs.open("d-1", "web", 5, false);

    assertThatThrownBy(s::answer)
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
        .hasMessageContaining("did not answer the log request within");
    assertThat(sent).contains(new ControllerMessage.LogsCancel(s.id()));
    assertThat(logs.active()).isEmpty();
  }

  @Test
  void aRefusalWithoutLinesIsAnError() {
    LogSessions logs = sessions(WAIT);
    LogSessions.Session s = logs.open("d-1", "web", 5, false);
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(), true, "too busy"));

    assertThatThrownBy(s::answer)
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
        .hasMessage("device d-1 could not answer: too busy");
  }

  @Test
  void anAnswerThatEndsEarlyKeepsItsLinesAndSaysWhy() {
    LogSessions logs = sessions(WAIT);
    LogSessions.Session s = logs.open("d-1", "web", 5, false);
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(line(1)), false, null));
    logs.disconnected("d-1");

    LogSessions.Answer a = s.answer();
    assertThat(a.lines()).hasSize(1);
    assertThat(a.notes()).containsExactly("the answer ended early: device d-1 disconnected");
  }

  @Test
  void aDisconnectedDeviceCannotBeAsked() {
    LogSessions logs = sessions(WAIT);
    connected.clear();

    assertThatThrownBy(() -> logs.open("d-1", "web", 5, false))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.DEVICE_NOT_CONNECTED));
    assertThat(logs.active()).isEmpty();
  }

  @Test
  void aDeviceServesOnlyAFewRequestsAtOnce() {
    LogSessions logs = sessions(WAIT);
    for (int i = 0; i < LogSessions.Options.defaults().maxPerDevice(); i++) {
      logs.open("d-1", "web", 5, true);
    }

    assertThatThrownBy(() -> logs.open("d-1", "web", 5, true))
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
        .hasMessageContaining("already serves 4 log requests");
  }

  @Test
  void aFollowedStreamIsNdjsonAndEndsWithTheReasonWhenTheDeviceGoes() throws Exception {
    LogSessions logs = sessions(WAIT);
    LogSessions.Session s = logs.open("d-1", "web", 5, true);
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(), false, null));
    s.awaitStart();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CompletableFuture<Void> streaming =
        CompletableFuture.runAsync(
            () -> {
              try {
                s.stream(out);
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });

    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(line(1), line(2)), false, null));
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(), false, "a note"));
    logs.disconnected("d-1");
    streaming.join();

    List<JsonNode> records =
        out.toString(StandardCharsets.UTF_8)
            .lines()
            .filter(l -> !l.isBlank())
            .map(LogSessionsTest::json)
            .toList();
    assertThat(records).hasSize(4);
    assertThat(records.get(0).path("line").asText()).isEqualTo("line 1");
    assertThat(records.get(0).path("at").asText()).isEqualTo("2025-06-01T12:00:00.001Z");
    assertThat(records.get(1).path("pod").asText()).isEqualTo("web-1");
    assertThat(records.get(2).path("note").asText()).isEqualTo("a note");
    assertThat(records.get(3).path("error").asText()).isEqualTo("device d-1 disconnected");
    assertThat(sent).noneMatch(ControllerMessage.LogsCancel.class::isInstance);
  }

  @Test
  void aReaderWhoLeavesIsNoticedByTheKeepAliveAndTheDeviceToldToStop() throws Exception {
    LogSessions logs = sessions(WAIT);
    LogSessions.Session s = logs.open("d-1", "web", 5, true);
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(line(1)), false, null));
    s.awaitStart();
    OutputStream gone =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            throw new IOException("broken pipe");
          }
        };

    assertThatThrownBy(() -> s.stream(gone)).isInstanceOf(IOException.class);

    assertThat(sent).contains(new ControllerMessage.LogsCancel(s.id()));
    assertThat(logs.active()).isEmpty();
  }

  @Test
  void aSlowReaderLosesTheOldestLinesAndIsTold() throws Exception {
    LogSessions logs =
        new LogSessions(link, new LogSessions.Options(WAIT, Duration.ofMillis(100), 64, 4, 3));
    LogSessions.Session s = logs.open("d-1", "web", 5, true);
    logs.receive(
        "d-1",
        new AgentMessage.LogLines(
            s.id(), List.of(line(1), line(2), line(3), line(4), line(5)), false, null));
    logs.receive("d-1", new AgentMessage.LogLines(s.id(), List.of(), true, null));
    ByteArrayOutputStream out = new ByteArrayOutputStream();

    s.stream(out);

    List<JsonNode> records =
        out.toString(StandardCharsets.UTF_8)
            .lines()
            .filter(l -> !l.isBlank())
            .map(LogSessionsTest::json)
            .toList();
    assertThat(records.getFirst().path("note").asText())
        .isEqualTo("2 line(s) dropped: this reader took them too slowly");
    assertThat(records.subList(1, records.size()))
        .extracting(r -> r.path("line").asText())
        .containsExactly("line 3", "line 4", "line 5");
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (IOException e) {
      throw new AssertionError(text, e);
    }
  }
}
