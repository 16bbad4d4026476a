package io.edgefleet.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.io.InputStream;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Every operator route needs a permission from the fixed list. */
class RoutePermissionsTest {

  @Test
  void everyOperatorRouteOfTheWholeRouteTableNeedsAKnownPermission() {
    Map<String, String> unknown = new TreeMap<>();
    int checked = 0;
    for (Router.Route r : routes().routes()) {
      if (r.access() != Router.Access.ADMIN) {
        continue;
      }
      checked++;
      String needed = Permissions.required(r.method(), r.template());
      if (!Permissions.KNOWN.contains(needed)) {
        unknown.put(r.method() + " " + r.template(), needed);
      }
    }
    assertThat(unknown).as("operator routes whose permission is not known").isEmpty();
    assertThat(checked).isGreaterThan(80);
  }

  @Test
  void everyOverrideNamesARouteThatExists() {
    List<String> served = new ArrayList<>();
    routes().routes().forEach(r -> served.add(r.method() + " " + r.template()));
    assertThat(served).containsAll(Permissions.OVERRIDES.keySet());
  }

  @Test
  void theMethodDecidesTheVerbAndThePathTheResource() {
    assertThat(Permissions.required("GET", "/api/v1/rollouts/{id}")).isEqualTo("rollouts:read");
    assertThat(Permissions.required("POST", "/api/v1/rollouts/{id}/pause"))
        .isEqualTo("rollouts:write");
    assertThat(Permissions.required("DELETE", "/api/v1/repos/{name}")).isEqualTo("sources:write");
    assertThat(Permissions.required("PATCH", "/api/v1/devices/{id}/tags"))
        .isEqualTo("devices:write");
    assertThat(Permissions.required("GET", "/api/v1/catalog/apps")).isEqualTo("apps:read");
    assertThat(Permissions.required("POST", "/api/v1/devices/{id}/attestation/accept"))
        .isEqualTo("trust:write");
    assertThat(Permissions.required("GET", "/api/v1/whoami")).isEqualTo("account:read");
    assertThat(Permissions.required("GET", "/metrics")).isEqualTo("metrics:read");
    assertThat(Permissions.required("GET", "/other")).isEqualTo("unknown:read");
    assertThat(Permissions.required("POST", "/api/v1/brand-new")).isEqualTo("brand-new:write");
  }

  @Test
  void theDocumentListsExactlyTheKnownPermissions() throws Exception {
    JsonNode doc;
    try (InputStream in = RoutePermissionsTest.class.getResourceAsStream("/openapi.yaml")) {
      doc = new ObjectMapper(new YAMLFactory()).readTree(in);
    }
    List<String> documented = new ArrayList<>();
    doc.at("/components/schemas/Permission/enum").forEach(n -> documented.add(n.asText()));
    assertThat(documented).containsExactlyElementsOf(Permissions.KNOWN);
  }

  private static Router routes() {
    List<Routes> features =
        new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.edgefleet.controller")
                .stream()
                .filter(c -> c.isAssignableTo(Routes.class) && !c.isInterface())
                .map(c -> withoutServices(c.reflect()))
                .toList();
    return Router.of(features);
  }

  private static Routes withoutServices(Class<?> type) {
    RecordComponent[] parts = type.getRecordComponents();
    Class<?>[] types = Arrays.stream(parts).map(RecordComponent::getType).toArray(Class<?>[]::new);
    try {
      return (Routes) type.getDeclaredConstructor(types).newInstance(new Object[types.length]);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError("cannot build " + type, e);
    }
  }
}
