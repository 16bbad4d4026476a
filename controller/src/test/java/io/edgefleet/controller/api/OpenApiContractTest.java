package io.edgefleet.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.edgefleet.protocol.ErrorCode;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
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
            "/healthz", "/device/v1/enrollments", "/api/v1/hooks/git/{name}");
    assertThat(router.routes())
        .filteredOn(r -> r.access() == Router.Access.DEVICE)
        .extracting(Router.Route::template)
        .containsExactlyInAnyOrder(
            "/device/v1/renewals",
            "/device/v1/desired",
            "/device/v1/bundles/{digest}",
            "/device/v1/signing-key");
  }

  private static JsonNode document() throws Exception {
    try (InputStream in = OpenApiContractTest.class.getResourceAsStream("/openapi.yaml")) {
      return new ObjectMapper(new YAMLFactory()).readTree(in);
    }
  }

  /** The route table; handlers are not called, so the services can be absent. */
  private static Router routes() {
    return ApiRoutes.build(
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        new byte[0]);
  }
}
