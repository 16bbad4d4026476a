package io.edgefleet.controller.selector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ProjectScopeTest {
  private static final Map<String, String> ALL =
      Map.of("stores-eu", "region=eu", "stores-us", "region=us");

  private static Principal confined(Map<String, String> projects) {
    return new Principal(
        "lena",
        List.of(),
        Set.of("deployments:write"),
        false,
        Optional.empty(),
        Optional.of(List.copyOf(projects.values())),
        projects);
  }

  private static Principal fleetWide() {
    return new Principal(
        "root", List.of("admin"), Set.of(), false, Optional.empty(), Optional.empty(), ALL);
  }

  private static Call call(Principal p, String project) {
    return new Call(
        Map.of(),
        project == null ? Map.of() : Map.of("project", project),
        new byte[0],
        p.name(),
        Optional.empty(),
        "127.0.0.1",
        Map.of(),
        Optional.of(p));
  }

  @Test
  void aConfinedPrincipalSeesItsProjectsDevicesAndObjectsOnly() {
    ProjectScope s = ProjectScope.of(call(confined(Map.of("stores-eu", "region=eu")), null));
    assertThat(s.confined()).isTrue();
    assertThat(s.devices().test(Map.of("region", "eu"))).isTrue();
    assertThat(s.devices().test(Map.of("region", "us"))).isFalse();
    assertThat(s.sees("stores-eu")).isTrue();
    assertThat(s.sees("stores-us")).isFalse();
    assertThat(s.sees(null)).as("an object of no project is fleet-wide").isFalse();
    assertThat(s.filter(List.of("stores-eu", "stores-us", ""), p -> p))
        .containsExactly("stores-eu");
    assertThatThrownBy(
            () -> s.check("x", "stores-us", ControllerException.notFound("deployment", "x")))
        .isInstanceOf(ControllerException.class)
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void aFleetWidePrincipalSeesAllAndNarrowsWithTheProjectParameter() {
    ProjectScope all = ProjectScope.of(call(fleetWide(), null));
    assertThat(all.confined()).isFalse();
    assertThat(all.sees(null)).isTrue();
    assertThat(all.devices().test(Map.of())).isTrue();
    ProjectScope us = ProjectScope.of(call(fleetWide(), "stores-us"));
    assertThat(us.filter(List.of("stores-eu", "stores-us"), p -> p)).containsExactly("stores-us");
    assertThat(us.devices().test(Map.of("region", "us"))).isTrue();
    assertThat(us.devices().test(Map.of("region", "eu"))).isFalse();
    assertThat(ProjectScope.of(call(fleetWide(), "nope")).devices().test(Map.of())).isFalse();
  }

  @Test
  void aNewObjectBelongsToTheOnlyProjectOrTheNamedOne() {
    assertThat(
            ProjectScope.of(call(confined(Map.of("stores-eu", "region=eu")), null))
                .createIn("deployment")
                .map(ProjectScope.Project::name))
        .contains("stores-eu");
    assertThat(ProjectScope.of(call(fleetWide(), null)).createIn("deployment")).isEmpty();
    ProjectScope.Project named =
        ProjectScope.of(call(fleetWide(), "stores-us")).createIn("deployment").orElseThrow();
    assertThat(named.selector().toString()).isEqualTo("region=us");

    ProjectScope two = ProjectScope.of(call(confined(ALL), null));
    assertThatThrownBy(() -> two.createIn("deployment"))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("stores-eu, stores-us")
        .hasMessageContaining("--project")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.PROJECT_REQUIRED);
    assertThatThrownBy(
            () ->
                ProjectScope.of(call(confined(Map.of("stores-eu", "region=eu")), "stores-us"))
                    .createIn("deployment"))
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void selectorsAreAndedWithoutDuplicates() {
    Selector s = Selector.parse("shelf=1").and(Selector.parse("region=eu"));
    assertThat(s.toString()).isEqualTo("region=eu,shelf=1");
    assertThat(Selector.parse("*").and(Selector.parse("region=eu")).toString())
        .isEqualTo("region=eu");
    assertThat(Selector.parse("region=eu").and(Selector.parse("region=eu")).toString())
        .isEqualTo("region=eu");
    assertThat(s.matches(Map.of("region", "eu", "shelf", "1"))).isTrue();
    assertThat(s.matches(Map.of("region", "us", "shelf", "1"))).isFalse();
  }
}
