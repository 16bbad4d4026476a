package io.edgefleet.bench.jmh;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The WebSocket messages as the gateway and the agent handle them: {@code Json.write} to a text
 * frame, {@code readValue(text, AgentMessage.class / ControllerMessage.class)} back.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class MessageBench {
  private final AgentMessage heartbeat = new AgentMessage.Heartbeat(123_456);
  private final ControllerMessage ack = new ControllerMessage.Ack();
  private final AgentMessage appReport = Fixtures.appReport();
  private final AgentMessage telemetry = Fixtures.telemetryBatch();
  private String heartbeatText;
  private String ackText;
  private String appReportText;
  private String telemetryText;

  @Setup
  public void setUp() {
    heartbeatText = Json.write(heartbeat);
    ackText = Json.write(ack);
    appReportText = Json.write(appReport);
    telemetryText = Json.write(telemetry);
  }

  @Benchmark
  public String encodeHeartbeat() {
    return Json.write(heartbeat);
  }

  @Benchmark
  public AgentMessage decodeHeartbeat() throws JsonProcessingException {
    return Json.mapper().readValue(heartbeatText, AgentMessage.class);
  }

  @Benchmark
  public String encodeAck() {
    return Json.write(ack);
  }

  @Benchmark
  public ControllerMessage decodeAck() throws JsonProcessingException {
    return Json.mapper().readValue(ackText, ControllerMessage.class);
  }

  @Benchmark
  public String encodeAppReport5() {
    return Json.write(appReport);
  }

  @Benchmark
  public AgentMessage decodeAppReport5() throws JsonProcessingException {
    return Json.mapper().readValue(appReportText, AgentMessage.class);
  }

  @Benchmark
  public String encodeTelemetry12() {
    return Json.write(telemetry);
  }

  @Benchmark
  public AgentMessage decodeTelemetry12() throws JsonProcessingException {
    return Json.mapper().readValue(telemetryText, AgentMessage.class);
  }

  /** Prints the size of each message, for the report. */
  public static void main(String[] args) {
    MessageBench b = new MessageBench();
    b.setUp();
    System.out.println("heartbeat " + b.heartbeatText.length() + " B: " + b.heartbeatText);
    System.out.println("ack " + b.ackText.length() + " B: " + b.ackText);
    System.out.println("appReport " + b.appReportText.length() + " B");
    System.out.println("telemetry " + b.telemetryText.length() + " B");
  }
}
