package io.edgefleet.protocol.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class JsonCodecTest {
  static final Instant T = Instant.parse("2026-12-07T10:00:00.123Z");

  @Test
  void unknownFieldsOfAnyShapeAreIgnored() throws Exception {
    String json =
        "{\"deviceId\":\"d1\",\"future\":{\"a\":[1,{\"b\":null}],\"c\":\"x\"},\"generation\":7,"
            + "\"more\":[[],[{}]],\"issuedAt\":\"2026-12-07T10:00:00.123Z\",\"apps\":[{\"name\":\"web\","
            + "\"size\":3,\"new\":true}],\"last\":1.5}";
    DesiredState d = JsonCodec.read(json, DesiredState.class);
    assertThat(d).isEqualTo(Json.mapper().readValue(json, DesiredState.class));
    assertThat(d.generation()).isEqualTo(7);
    assertThat(d.apps()).singleElement().extracting(DesiredState.DesiredApp::size).isEqualTo(3L);
  }

  @Test
  void theTypeIdIsReadWhereverItStands() throws Exception {
    String json = "{\"seq\":3,\"x\":{\"t\":\"no\"},\"t\":\"hb\"}";
    assertThat(JsonCodec.read(json, AgentMessage.class)).isEqualTo(new AgentMessage.Heartbeat(3));
    String nested =
        "{\"records\":[{\"seq\":1,\"at\":\"2026-12-07T10:00:00.123Z\",\"events\":2,\"k\":\"l\"}],"
            + "\"t\":\"tel\"}";
    assertThat(JsonCodec.read(nested, AgentMessage.class))
        .isEqualTo(new AgentMessage.TelemetryBatch(List.of(new Telemetry.Loss(1, T, 2, null))));
  }

  @Test
  void aWrongTypeNamesTheFieldAndTheProblem() {
    assertThatThrownBy(
            () ->
                JsonCodec.read(
                    "{\"deviceId\":\"d\",\"apps\":[{\"name\":\"a\"},{\"name\":\"b\",\"size\":\"big\"}]}",
                    DesiredState.class))
        .isInstanceOf(JsonCodecException.class)
        .isInstanceOf(JsonProcessingException.class)
        .hasMessageContaining("$.apps[1].size")
        .hasMessageContaining("expected a whole number, got the string \"big\"")
        .satisfies(
            e ->
                assertThat(((JsonCodecException) e).kind())
                    .isEqualTo(JsonCodecException.Kind.MISMATCH));
    assertThatThrownBy(() -> JsonCodec.read("{\"generation\":{}}", DesiredState.class))
        .hasMessageContaining("$.generation: expected a whole number, got an object");
    assertThatThrownBy(() -> JsonCodec.read("{\"apps\":{}}", DesiredState.class))
        .hasMessageContaining("$.apps: expected an array, got an object");
    assertThatThrownBy(() -> JsonCodec.read("{\"issuedAt\":\"yesterday\"}", DesiredState.class))
        .hasMessageContaining("$.issuedAt: expected an ISO-8601 instant");
    assertThatThrownBy(() -> JsonCodec.read("{\"generation\":1e30}", DesiredState.class))
        .hasMessageContaining("$.generation: out of range");
    assertThatThrownBy(() -> JsonCodec.read("[1]", DesiredState.class))
        .hasMessageContaining("$: expected an object (DesiredState), got an array");
  }

  @Test
  void unknownEnumValuesAndTypeIdsListWhatIsKnown() {
    assertThatThrownBy(() -> JsonCodec.read("{\"phase\":\"SLEEPING\"}", AppState.class))
        .hasMessageContaining("$.phase: expected one of APPLIED, PROGRESSING, READY, FAILED");
    assertThatThrownBy(() -> JsonCodec.read("{\"t\":\"party\"}", ControllerMessage.class))
        .hasMessageContaining("$.t: unknown ControllerMessage \"party\"; expected one of")
        .hasMessageContaining("welcome");
    assertThatThrownBy(() -> JsonCodec.read("{\"seq\":1}", AgentMessage.class))
        .hasMessageContaining("the type property \"t\" of AgentMessage is missing");
  }

  @Test
  void aRecordThatRefusesItsValuesSaysWhyAndKeepsTheCause() {
    assertThatThrownBy(
            () ->
                JsonCodec.read(
                    "{\"version\":2,\"controllerUrl\":\"https://c\",\"caFingerprint\":\"x\"}",
                    Bootstrap.class))
        .isInstanceOfSatisfying(
            JsonCodecException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(JsonCodecException.Kind.REFUSED);
              assertThat(e.getCause()).isInstanceOf(IllegalArgumentException.class);
              assertThat(e.getMessage())
                  .isEqualTo("$: not a valid Bootstrap: " + e.getCause().getMessage());
            });
  }

  @Test
  void whatIsNotJsonIsASyntaxErrorWithItsPlace() {
    for (String bad : List.of("", "  ", "{\"a\":", "{\"a\" 1}", "<html>", "{} {}", "[1,]")) {
      assertThatThrownBy(() -> JsonCodec.readTree(bad))
          .as(bad)
          .isInstanceOfSatisfying(
              JsonCodecException.class,
              e -> assertThat(e.kind()).isEqualTo(JsonCodecException.Kind.SYNTAX));
    }
    assertThatThrownBy(() -> JsonCodec.readTree("{\"a\":\n tru}"))
        .hasMessageContaining("not valid JSON")
        .hasMessageContaining("line 2");
  }

  @Test
  void nestingDeeperThanTheLimitIsRefusedAsALimit() throws Exception {
    String ok = "[".repeat(JsonCodec.MAX_DEPTH) + "]".repeat(JsonCodec.MAX_DEPTH);
    assertThat(JsonCodec.readTree(ok).isArray()).isTrue();
    for (String deep :
        List.of(
            "[".repeat(JsonCodec.MAX_DEPTH + 1) + "]".repeat(JsonCodec.MAX_DEPTH + 1),
            "{\"a\":".repeat(JsonCodec.MAX_DEPTH + 1)
                + "1"
                + "}".repeat(JsonCodec.MAX_DEPTH + 1))) {
      assertThatThrownBy(() -> JsonCodec.readTree(deep))
          .isInstanceOfSatisfying(
              JsonCodecException.class,
              e -> {
                assertThat(e.kind()).isEqualTo(JsonCodecException.Kind.LIMIT);
                assertThat(e.getMessage()).contains("too large").contains("depth");
              });
      // Into a record too (unknown fields are skipped, but still parsed within the bound).
      assertThatThrownBy(() -> JsonCodec.read("{\"x\":" + deep + "}", DesiredState.class))
          .isInstanceOfSatisfying(
              JsonCodecException.class,
              e -> assertThat(e.kind()).isEqualTo(JsonCodecException.Kind.LIMIT));
    }
  }

  @Test
  void aStringLongerThanTheLimitIsRefusedAsALimit() {
    String huge = "{\"deviceId\":\"" + "a".repeat(JsonCodec.MAX_STRING_CHARS + 1) + "\"}";
    assertThatThrownBy(() -> JsonCodec.read(huge, DesiredState.class))
        .isInstanceOfSatisfying(
            JsonCodecException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(JsonCodecException.Kind.LIMIT);
              assertThat(e.getMessage()).contains("String value length");
            });
  }

  @Test
  void treesAreReadAsDatabindReadsThem() throws Exception {
    String json =
        "{\"i\":1,\"l\":5000000000,\"b\":123456789012345678901234567890,\"d\":1.5,\"e\":1e400,"
            + "\"s\":\"x\\u0000y\",\"n\":null,\"t\":true,\"a\":[{},[],-0.0],\"dup\":1,\"dup\":2}";
    JsonNode lean = JsonCodec.readTree(json);
    assertThat(lean).isEqualTo(Json.mapper().readTree(json));
    assertThat(JsonCodec.write(lean)).isEqualTo(Json.write(Json.mapper().readTree(json)));
    assertThat(JsonCodec.readTree("null").isNull()).isTrue();
  }

  @Test
  void treesBuiltByHandAreWrittenAsDatabindWritesThem() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("size", 12L).put("name", "a\"b").put("f", 1.25f).put("d", new BigDecimal("1.50"));
    o.putArray("list").add(1).add("two").addNull().add(false);
    o.putObject("empty");
    o.putNull("nothing");
    o.put("bytes", new byte[] {1, 2, 3});
    assertThat(JsonCodec.write(o)).isEqualTo(Json.write(o));
    assertThat(JsonCodec.pretty(o)).isEqualTo(Json.pretty(o));
    assertThat(JsonCodec.writeBytes(o)).isEqualTo(Json.writeBytes(o));
  }

  @Test
  void yamlStyleValuesBecomeTheTreeTheirJsonReadsAs() throws Exception {
    Map<Object, Object> m = new LinkedHashMap<>();
    m.put("apiVersion", "v1");
    m.put(8080, List.of(1, 5_000_000_000L, 2.5, true, "x"));
    m.put("nested", Map.of("k", Set.of("only")));
    m.put("none", null);
    JsonNode tree = JsonCodec.toTree(m);
    assertThat(tree).isEqualTo(new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(m));
    assertThat(tree.path("8080").get(1).isLong()).isTrue();
  }

  record Extras(
      Duration d,
      Duration zero,
      Duration whole,
      byte[] bytes,
      Set<String> names,
      TreeSet<Integer> sorted,
      Map<AppState.Phase, Long> byPhase,
      Map<Long, String> byNumber,
      JsonNode node,
      BigDecimal amount,
      Character c,
      float f,
      short s,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) int nonDefault,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) Boolean boxedNonDefault,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) String nonEmpty,
      @JsonInclude(JsonInclude.Include.ALWAYS) String always) {}

  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  record ClassLevel(String a, List<String> b, @JsonInclude(JsonInclude.Include.ALWAYS) String c) {}

  @Test
  void otherSupportedTypesMatchDatabind() throws Exception {
    Extras x =
        new Extras(
            Duration.ofSeconds(90, 5),
            Duration.ZERO,
            Duration.ofMinutes(2),
            new byte[] {0, -1, 42},
            Set.of("a"),
            new TreeSet<>(List.of(3, 1, 2)),
            Map.of(AppState.Phase.READY, 4L),
            Map.of(7L, "seven"),
            JsonNodeFactory.instance.objectNode().put("k", 1),
            new BigDecimal("12.340"),
            'q',
            1.5f,
            (short) -3,
            0,
            false,
            "",
            null);
    String expected = Json.write(x);
    assertThat(JsonCodec.write(x)).isEqualTo(expected);
    assertThat(expected)
        .doesNotContain("nonDefault")
        .doesNotContain("nonEmpty")
        .contains("\"always\":null");
    Extras back = JsonCodec.read(expected, Extras.class);
    Extras viaDatabind = Json.mapper().readValue(expected, Extras.class);
    assertThat(JsonCodec.write(back)).isEqualTo(expected);
    assertThat(back).usingRecursiveComparison().isEqualTo(viaDatabind);

    ClassLevel c = new ClassLevel("", List.of(), null);
    assertThat(JsonCodec.write(c)).isEqualTo(Json.write(c)).isEqualTo("{\"c\":null}");
  }

  @Test
  void genericTypesAreReadThroughATypeReference() throws Exception {
    Map<String, List<Instant>> m =
        JsonCodec.read(
            "{\"a\":[\"2026-12-07T10:00:00.123Z\"],\"b\":[]}",
            new TypeReference<Map<String, List<Instant>>>() {});
    assertThat(m).containsExactly(Map.entry("a", List.of(T)), Map.entry("b", List.of()));
    List<DesiredState.SigningKey> keys =
        JsonCodec.read(
            "[{\"id\":\"k1\",\"publicKeyPem\":\"p\"}]",
            new TypeReference<List<DesiredState.SigningKey>>() {});
    assertThat(keys).containsExactly(new DesiredState.SigningKey("k1", "p"));
  }

  @Test
  void scalarsAreCoercedAsDatabindCoercesThem() throws Exception {
    String json =
        "{\"seq\":\"12\",\"from\":null,\"at\":\"2026-12-07T10:00:00.123Z\","
            + "\"metrics\":{\"cpu\":{\"min\":\"NaN\",\"max\":3,\"mean\":\"1.5\",\"last\":null,"
            + "\"count\":4.0}},\"partial\":\"true\",\"k\":\"m\"}";
    assertThat(JsonCodec.read(json, Telemetry.class))
        .isEqualTo(Json.mapper().readValue(json, Telemetry.class));
    String nulls = "{\"t\":\"hb\",\"seq\":null}";
    assertThat(JsonCodec.read(nulls, AgentMessage.class))
        .isEqualTo(Json.mapper().readValue(nulls, AgentMessage.class));
  }
}
