package io.edgefleet.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import io.edgefleet.protocol.ErrorCode;
import java.io.InputStream;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The OpenAPI document describes exactly the routes the controller serves. */
class OpenApiContractTest {

  @Test
  void documentMatchesTheRouteTable() throws Exception {
    JsonNode doc = document();
    Set<String> documented = new TreeSet<>();
    Iterator<Map.Entry<String, JsonNode>> paths = doc.path("paths").fields();
    while (paths.hasNext()) {
      Map.Entry<String, JsonNode> p = paths.next();
      p.getValue()
          .fieldNames()
          .forEachRemaining(m -> documented.add(m.toUpperCase(Locale.ROOT) + " " + p.getKey()));
    }
    Router router = routes();
    Set<String> served =
        router.routes().stream()
            .map(r -> r.method() + " " + r.template())
            .collect(Collectors.toCollection(TreeSet::new));
    assertThat(documented).isEqualTo(served);
  }

  @Test
  void everyOperationHasAUniqueCamelCaseOperationId() throws Exception {
    List<String> missing = new ArrayList<>();
    Map<String, List<String>> byId = new TreeMap<>();
    Iterator<Map.Entry<String, JsonNode>> paths = document().path("paths").fields();
    while (paths.hasNext()) {
      Map.Entry<String, JsonNode> p = paths.next();
      Iterator<Map.Entry<String, JsonNode>> operations = p.getValue().fields();
      while (operations.hasNext()) {
        Map.Entry<String, JsonNode> o = operations.next();
        String operation = o.getKey().toUpperCase(Locale.ROOT) + " " + p.getKey();
        String id = o.getValue().path("operationId").asText("");
        if (id.isEmpty()) {
          missing.add(operation);
        } else {
          assertThat(id).as(operation).matches("[a-z][a-zA-Z0-9]*");
          byId.computeIfAbsent(id, k -> new ArrayList<>()).add(operation);
        }
      }
    }
    assertThat(missing).as("operations without an operationId").isEmpty();
    assertThat(byId)
        .as("operationIds used more than once")
        .allSatisfy((id, ops) -> assertThat(ops).hasSize(1));
    assertThat(byId).hasSizeGreaterThan(60).containsKeys("listDevices", "renameDevice");
  }

  @Test
  void everySchemaPropertyIsASchema() throws Exception {
    // An unquoted comma in a flow-style description splits it into a stray property of no schema.
    List<String> stray = new ArrayList<>();
    document()
        .path("components")
        .path("schemas")
        .fields()
        .forEachRemaining(
            schema ->
                schema
                    .getValue()
                    .path("properties")
                    .fields()
                    .forEachRemaining(
                        p -> {
                          if (!p.getValue().isObject()) {
                            stray.add(schema.getKey() + "." + p.getKey());
                          }
                        }));
    assertThat(stray).isEmpty();
  }

  @Test
  void serversNameNoHostSoTheDocumentFitsEveryController() throws Exception {
    JsonNode servers = document().path("servers");
    assertThat(servers.size()).isPositive();
    servers.forEach(s -> assertThat(s.path("url").asText()).startsWith("/"));
  }

  @Test
  void theServedDocumentNamesTheControllersAdvertisedUrlFirst() throws Exception {
    byte[] json = new ObjectMapper().writeValueAsBytes(document());

    JsonNode served = ApiRoutes.servedBy(json, "https://edge.example.com:7443");

    assertThat(served.path("servers").findValuesAsText("url"))
        .containsExactly("https://edge.example.com:7443", "/");
    assertThat(served.path("paths")).isEqualTo(document().path("paths"));
  }

  @Test
  void theDeviceListDocumentsItsFiltersAndPaging() throws Exception {
    JsonNode list = document().path("paths").path("/api/v1/devices").path("get");
    Set<String> parameters = new TreeSet<>();
    for (JsonNode p : list.path("parameters")) {
      parameters.add(
          p.has("$ref")
              ? document()
                  .at("/components/parameters/" + p.path("$ref").asText().replaceAll(".*/", ""))
                  .path("name")
                  .asText()
              : p.path("name").asText());
    }
    assertThat(parameters)
        .containsExactly(
            "after", "count", "limit", "offset", "project", "selector", "sort", "status");
    assertThat(list.at("/responses/200/content/application~1json/schema/properties").fieldNames())
        .toIterable()
        .containsExactlyInAnyOrder("items", "next", "total");
  }

  @Test
  void everyErrorCodeIsDocumented() throws Exception {
    Set<String> documented = new TreeSet<>();
    document()
        .path("components")
        .path("schemas")
        .path("Error")
        .path("properties")
        .path("code")
        .path("enum")
        .forEach(n -> documented.add(n.asText()));
    Set<String> codes =
        Arrays.stream(ErrorCode.values())
            .map(Enum::name)
            .collect(Collectors.toCollection(TreeSet::new));
    assertThat(documented).isEqualTo(codes);
  }

  @Test
  void routesOutsideHealthAndEnrollmentNeedATokenOrADeviceCertificate() {
    Router router = routes();
    assertThat(router.routes())
        .filteredOn(r -> r.access() == Router.Access.OPEN)
        .extracting(Router.Route::template)
        .containsExactlyInAnyOrder(
            "/healthz",
            "/device/v1/enrollments",
            "/api/v1/hooks/git/{name}",
            "/api/v1/auth/oidc/config",
            "/api/v1/auth/oidc/login",
            "/api/v1/auth/oidc/callback",
            "/api/v1/auth/oidc/token");
    assertThat(router.routes())
        .filteredOn(r -> r.access() == Router.Access.DEVICE)
        .extracting(Router.Route::template)
        .containsExactlyInAnyOrder(
            "/device/v1/renewals",
            "/device/v1/desired",
            "/device/v1/bundles/{digest}",
            "/device/v1/signing-key",
            "/device/v1/secrets/{name}",
            "/device/v1/artifacts/{digest}",
            "/device/v1/artifacts/{digest}/chunks",
            "/device/v1/clusters/{name}/token");
  }

  private static JsonNode document() throws Exception {
    try (InputStream in = OpenApiContractTest.class.getResourceAsStream("/openapi.yaml")) {
      return new ObjectMapper(new YAMLFactory()).readTree(in);
    }
  }

  /**
   * The route table: the routes of every feature, each a record of the services behind its routes.
   * Handlers are not called, so the services can be absent.
   */
  private static Router routes() {
    List<Routes> features =
        new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.edgefleet.controller")
                .stream()
                .filter(c -> c.isAssignableTo(Routes.class) && !c.isInterface())
                .map(c -> withoutServices(c.reflect()))
                .toList();
    assertThat(features).hasSizeGreaterThan(10);
    return Router.of(features);
  }

  private static Routes withoutServices(Class<?> type) {
    assertThat(type.isRecord()).as(type + " is a record of its services").isTrue();
    RecordComponent[] parts = type.getRecordComponents();
    Class<?>[] types = Arrays.stream(parts).map(RecordComponent::getType).toArray(Class<?>[]::new);
    try {
      return (Routes) type.getDeclaredConstructor(types).newInstance(new Object[types.length]);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError("cannot build " + type, e);
    }
  }
}
