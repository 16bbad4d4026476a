package io.edgefleet.controller.profiles;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LayersTest {
  private final List<String> checked = new ArrayList<>();
  private final Layers.AppCheck catalog =
      (app, version, values) -> {
        if (!app.equals("flannel") || !version.equals("1.0.0")) {
          throw new ControllerException(
              ErrorCode.NOT_FOUND, "no version " + version + " of app '" + app + "'");
        }
        checked.add(app + "@" + version + " " + values);
      };

  @Test
  void validLayersAreKeptInOrderAndTheirAppsChecked() {
    List<Layer> layers =
        Layers.validate(
            List.of(
                new Layer(
                    "k3s",
                    "Kubernetes",
                    "v1.20.2+k3s1",
                    Map.of("disable", "traefik"),
                    null,
                    null,
                    null),
                Layer.app("cni", "networking", "flannel", "1.0.0", Map.of("mtu", 1450))),
            catalog);

    assertThat(layers).extracting(Layer::name).containsExactly("k3s", "cni");
    assertThat(layers.get(0).kind()).isEqualTo("kubernetes");
    assertThat(checked).containsExactly("flannel@1.0.0 {mtu=1450}");
  }

  @Test
  void anAgentOwnedKeyIsRefusedNamingTheLayer() {
    assertThatThrownBy(
            () ->
                Layers.validate(
                    List.of(Layer.kubernetes("k3s", "v1.20.2+k3s1", Map.of("token", "x"))),
                    catalog))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("layer 'k3s'")
        .hasMessageContaining("'token' is set by the agent")
        .satisfies(
            e ->
                assertThat(((ControllerException) e).code())
                    .isEqualTo(ErrorCode.PROFILE_LAYER_INVALID));
  }

  @Test
  void anAppLayerPinningAMissingCatalogVersionIsRefusedNamingTheLayer() {
    assertThatThrownBy(
            () ->
                Layers.validate(
                    List.of(Layer.app("cni", "networking", "flannel", "9.9.9", Map.of())), catalog))
        .isInstanceOf(ControllerException.class)
        .hasMessage("layer 'cni': no version 9.9.9 of app 'flannel'")
        .satisfies(
            e ->
                assertThat(((ControllerException) e).code())
                    .isEqualTo(ErrorCode.PROFILE_LAYER_INVALID));
  }

  @Test
  void malformedLayersAreRefused() {
    assertRefused(List.of(), "needs 'layers'");
    assertRefused(
        List.of(Layer.app("cni", "mesh", "flannel", "1.0.0", null)), "'kind' must be one of");
    assertRefused(
        List.of(
            Layer.app("cni", "networking", "flannel", "1.0.0", null),
            Layer.app("cni", "addon", "flannel", "1.0.0", null)),
        "appears twice");
    assertRefused(
        List.of(
            Layer.kubernetes("a", "v1.20.2+k3s1", null), Layer.kubernetes("b", "v1.21.0", null)),
        "at most one kubernetes layer");
    assertRefused(List.of(Layer.kubernetes("k3s", "1.20", null)), "must look like v1.20.2+k3s1");
    assertRefused(List.of(Layer.app("Bad Name", "app", "x", "1", null)), "DNS label");
    assertRefused(
        List.of(Layer.app("cni", "networking", null, "1.0.0", null)), "'app' and 'version'");
    assertRefused(
        List.of(new Layer("cni", "app", "v1.20.2", null, "flannel", "1.0.0", null)),
        "only a kubernetes layer");
  }

  private void assertRefused(List<Layer> layers, String message) {
    assertThatThrownBy(() -> Layers.validate(layers, catalog))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining(message);
  }
}
