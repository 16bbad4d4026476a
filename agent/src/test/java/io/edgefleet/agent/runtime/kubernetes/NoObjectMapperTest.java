package io.edgefleet.agent.runtime.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * At run time, too, the agent's JSON paths load no {@code ObjectMapper}: the architecture test sees
 * only what the code names, not what a library call does behind it ({@code JsonNode.toString()},
 * {@code valueToTree}). A fresh JVM (nothing the test JVM loaded counts) reads and writes protocol
 * messages, turns manifests into trees, fingerprints managed fields, judges readiness and writes
 * the trees as requests; its class-loading log must name no ObjectMapper and no Java-time module.
 */
class NoObjectMapperTest {

  static final String MANIFESTS =
      """
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: web, labels: {app: web}}
      data: {port: "8080", when: 2026-12-07}
      ---
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web}
      spec:
        replicas: 2
        template:
          spec:
            containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
      """;

  /** The agent's JSON paths, run in the forked JVM. */
  public static void main(String[] args) throws Exception {
    String welcome =
        "{\"t\":\"welcome\",\"deviceId\":\"d\",\"heartbeatSeconds\":30,\"generation\":4,"
            + "\"catchUp\":true,\"telemetryEncodings\":[\"c1\"]}";
    ControllerMessage m = JsonCodec.read(welcome, ControllerMessage.class);
    String hello = JsonCodec.write(new AgentMessage.Hello("1.0", 7L, 4L, List.of("shell")));
    byte[] report =
        JsonCodec.writeBytes(
            new AgentMessage.AppReport(
                4, List.of(new AppState("web", "r1", AppState.Phase.READY, null))));
    byte[] tel =
        JsonCodec.writeBytes(
            new AgentMessage.TelemetryBatch(
                List.of(
                    new Telemetry.Metrics(
                        1,
                        Instant.EPOCH,
                        Instant.now(),
                        Map.of("cpu", new Telemetry.Stat(1, 2, 1.5, 2, 3))))));
    Manifests.Parsed parsed = Manifests.parse(MANIFESTS);
    int bytes = 0;
    for (Manifests.Document d : ((Manifests.Parsed.Objects) parsed).objects()) {
      bytes += JsonCodec.writeBytes(d.object()).length;
    }
    ObjectNode live =
        (ObjectNode)
            JsonCodec.readTree(
                "{\"metadata\":{\"name\":\"web\",\"generation\":2,\"managedFields\":[{\"manager\":"
                    + "\"edgefleet\",\"operation\":\"Apply\",\"fieldsV1\":{\"f:spec\":{}}}]},"
                    + "\"kind\":\"Deployment\",\"spec\":{\"replicas\":1},\"status\":{"
                    + "\"observedGeneration\":2,\"replicas\":1,\"updatedReplicas\":1,"
                    + "\"availableReplicas\":1}}");
    String fields = KubernetesRuntime.fieldsOf(live);
    AppHealth health = Readiness.of(live);
    JsonNode back = JsonCodec.readTree(JsonCodec.write(live));
    System.out.println(
        "probe: "
            + m.getClass().getSimpleName()
            + " "
            + hello.length()
            + " "
            + report.length
            + " "
            + tel.length
            + " "
            + bytes
            + " "
            + fields
            + " "
            + health.state()
            + " "
            + back.equals(live));
  }

  @Test
  void theAgentsJsonPathsLoadNoObjectMapper() throws IOException, InterruptedException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process p =
        new ProcessBuilder(
                java.toString(),
                "-Xshare:off",
                "-Xlog:class+load=info",
                "-cp",
                System.getProperty("java.class.path"),
                NoObjectMapperTest.class.getName())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out)
        .as("the probe ran its paths")
        .contains("probe: Welcome ")
        .contains(" READY true")
        .contains("io.edgefleet.protocol.json.JsonCodec ")
        .contains("com.fasterxml.jackson.databind.node.ObjectNode ");
    assertThat(out.lines().filter(l -> l.contains("com.fasterxml.jackson.databind.ObjectMapper ")))
        .isEmpty();
    assertThat(out.lines().filter(l -> l.contains("com.fasterxml.jackson.datatype."))).isEmpty();
    assertThat(out.lines().filter(l -> l.contains("io.edgefleet.protocol.Json "))).isEmpty();
  }
}
