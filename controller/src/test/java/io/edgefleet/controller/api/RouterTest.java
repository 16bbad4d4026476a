package io.edgefleet.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RouterTest {
  private final Router router =
      new Router()
          .get("/api/v1/devices", Router.Access.ADMIN, c -> Reply.ok("list"))
          .get("/api/v1/devices/{id}", Router.Access.ADMIN, c -> Reply.ok(c.path("id")))
          .post("/api/v1/devices/{id}/approve", Router.Access.ADMIN, c -> Reply.ok("approve"))
          .post("/api/v1/onboarding-tokens/bootstrap", Router.Access.ADMIN, c -> Reply.ok("boot"))
          .delete("/api/v1/onboarding-tokens/{id}", Router.Access.ADMIN, c -> Reply.noContent());

  @Test
  void bindsPathParameters() {
    var m = router.match("GET", "/api/v1/devices/dev-1").orElseThrow();
    assertThat(m.route().template()).isEqualTo("/api/v1/devices/{id}");
    assertThat(m.pathParams()).containsEntry("id", "dev-1");
  }

  @Test
  void decodesEscapedSegments() {
    var m = router.match("GET", "/api/v1/devices/SN%2042").orElseThrow();
    assertThat(m.pathParams()).containsEntry("id", "SN 42");
  }

  @Test
  void literalSegmentsWinOverParameters() {
    router.post("/api/v1/onboarding-tokens/{id}", Router.Access.ADMIN, c -> Reply.ok("param"));
    var m = router.match("POST", "/api/v1/onboarding-tokens/bootstrap").orElseThrow();
    assertThat(m.route().template()).isEqualTo("/api/v1/onboarding-tokens/bootstrap");
  }

  @Test
  void noMatchForWrongMethodButTheAllowedMethodsAreKnown() {
    assertThat(router.match("DELETE", "/api/v1/devices")).isEmpty();
    assertThat(router.methodsFor("/api/v1/devices")).containsExactly("GET");
    assertThat(router.methodsFor("/api/v1/nothing")).isEmpty();
  }

  @Test
  void emptyAndExtraSegmentsDoNotMatch() {
    assertThat(router.match("GET", "/api/v1/devices/")).isEmpty();
    assertThat(router.match("GET", "/api/v1/devices/a/b")).isEmpty();
    assertThat(router.match("GET", "api/v1/devices")).isEmpty();
  }
}
