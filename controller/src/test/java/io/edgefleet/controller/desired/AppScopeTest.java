package io.edgefleet.controller.desired;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AppScopeTest {
  private final AppCatalog.Target prod = tags -> "prod".equals(tags.get("env"));

  @Test
  void deviceScopeKeepsTheTarget() {
    AppCatalog.Target t = AppScope.target(prod, AppScope.DEVICE);
    assertThat(t.matches(Map.of("env", "prod"))).isTrue();
    assertThat(t.matches(Map.of("env", "dev"))).isFalse();
  }

  @Test
  void clusterScopeSelectsOnlyTheApplierOfMatchingClusters() {
    AppCatalog.Target t = AppScope.target(prod, AppScope.CLUSTER);
    assertThat(t.matches(Map.of("env", "prod"))).isFalse();
    assertThat(t.matches(Map.of("env", "prod", ClusterTags.APPLIER, "false"))).isFalse();
    assertThat(t.matches(Map.of("env", "prod", ClusterTags.APPLIER, "true"))).isTrue();
    assertThat(t.matches(Map.of("env", "dev", ClusterTags.APPLIER, "true"))).isFalse();
  }

  @Test
  void parsesKnownScopesAndRefusesOthersNamingTheField() {
    assertThat(AppScope.parse("scope", null)).isEqualTo(AppScope.DEVICE);
    assertThat(AppScope.parse("scope", " ")).isEqualTo(AppScope.DEVICE);
    assertThat(AppScope.parse("scope", "Cluster")).isEqualTo(AppScope.CLUSTER);
    assertThatThrownBy(() -> AppScope.parse("scope", "node"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED))
        .hasMessageContaining("'scope'")
        .hasMessageContaining("'node'");
  }
}
