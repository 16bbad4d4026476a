package io.edgefleet.protocol.json;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.RenewalRequest;
import io.edgefleet.protocol.RenewalResponse;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.TpmQuote;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The codec and the controller's databind configuration ({@link Json}) agree on every protocol type
 * reachable from the messages, documents and files the agent and the controller exchange: the codec
 * reads what databind writes back into an equal object, and writes exactly the bytes databind
 * writes. Types are discovered from the roots through record components and sealed subtypes;
 * instances are random (fixed seeds) and fill every component, nulls and empty collections
 * included.
 */
class JsonCodecEquivalenceTest {
  static final int PER_TYPE = 300;

  static final List<Class<?>> ROOTS =
      List.of(
          AgentMessage.class,
          ControllerMessage.class,
          DesiredState.class,
          SignedDesiredState.class,
          EnrollmentRequest.class,
          EnrollmentResponse.class,
          RenewalRequest.class,
          RenewalResponse.class,
          Bootstrap.class,
          Telemetry.class,
          DeviceFacts.class,
          AgentRelease.class,
          AgentReleaseManifest.class,
          TpmEnrollment.class,
          TpmQuote.class,
          TpmChallenge.class,
          TpmKeyProof.class,
          ClusterSpec.class,
          ApiError.class,
          DeviceSecret.class,
          ArtifactRef.class,
          AppState.class);

  /** Values for components whose record validates them. */
  static final Map<String, Function<Random, Object>> HINTS =
      Map.of(
          "Bootstrap.version", r -> Bootstrap.CURRENT_VERSION,
          "Bootstrap.controllerUrl", r -> "https://c" + r.nextInt(1000) + ".example:8443/",
          "Bootstrap.caFingerprint",
              r -> {
                byte[] b = new byte[32];
                r.nextBytes(b);
                return "sha256:" + HexFormat.of().formatHex(b);
              },
          "ApiError.code", r -> ErrorCode.values()[r.nextInt(ErrorCode.values().length)].name());

  static Stream<Class<?>> types() {
    Set<Class<?>> all = Instances.reachable(ROOTS);
    assertThat(all)
        .as("the walk finds nested records and every sealed subtype")
        .contains(
            AgentMessage.Hello.class,
            AgentMessage.KubeNode.class,
            AgentMessage.AgentUpdate.class,
            ControllerMessage.Ack.class,
            Telemetry.Stat.class,
            DesiredState.DesiredApp.class,
            ClusterSpec.Removal.class)
        .hasSizeGreaterThan(45);
    return all.stream();
  }

  @ParameterizedTest
  @MethodSource("types")
  void theCodecReadsWhatDatabindWritesAndWritesTheSameBytes(Class<?> type) throws Exception {
    Instances gen = new Instances(type.getName().hashCode(), HINTS);
    for (int i = 0; i < PER_TYPE; i++) {
      Object value = gen.of(type);
      String expected = Json.write(value);
      String why = type.getSimpleName() + " #" + i + ": " + expected;

      // (a) databind-written JSON, read by the codec, is the original object.
      assertThat(JsonCodec.read(expected, type)).as(why).isEqualTo(value);
      assertThat(JsonCodec.read(Json.writeBytes(value), type)).as(why).isEqualTo(value);
      Class<?> declared = sealedRoot(type);
      if (declared != type) {
        assertThat(JsonCodec.read(expected, declared)).as(why).isEqualTo(value);
      }
      // Databind itself agrees (so the instance is a fair one).
      assertThat(Json.mapper().readValue(expected, declared)).as(why).isEqualTo(value);

      // (b) codec-written JSON is databind's, byte for byte and so as a tree.
      String written = JsonCodec.write(value);
      assertThat(written).as(why).isEqualTo(expected);
      assertThat(Json.mapper().readTree(written))
          .as(why)
          .isEqualTo(Json.mapper().readTree(expected));
      assertThat(JsonCodec.writeBytes(value)).as(why).isEqualTo(Json.writeBytes(value));
      assertThat(JsonCodec.pretty(value)).as(why).isEqualTo(Json.pretty(value));

      // Trees: the codec's tree of the text is databind's.
      assertThat(JsonCodec.readTree(expected)).as(why).isEqualTo(Json.mapper().readTree(expected));
      assertThat(JsonCodec.toTree(value)).as(why).isEqualTo(Json.mapper().readTree(expected));
    }
  }

  private static Class<?> sealedRoot(Class<?> type) {
    for (Class<?> i : type.getInterfaces()) {
      if (i.isSealed()) {
        return i;
      }
    }
    return type;
  }
}
