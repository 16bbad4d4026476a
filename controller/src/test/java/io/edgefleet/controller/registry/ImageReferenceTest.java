package io.edgefleet.controller.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ImageReferenceTest {
  private static final String DIGEST = "sha256:" + "ab".repeat(32);

  @Test
  void aHostARepositoryAndATag() {
    ImageReference r = ImageReference.parse("registry.example.com:5000/team/app:1.2.3");
    assertThat(r.registry()).isEqualTo("registry.example.com:5000");
    assertThat(r.repository()).isEqualTo("team/app");
    assertThat(r.tag()).contains("1.2.3");
    assertThat(r.digest()).isEmpty();
    assertThat(r.name()).isEqualTo("registry.example.com:5000/team/app");
    assertThat(r.manifestReference()).isEqualTo("1.2.3");
    assertThat(r).hasToString("registry.example.com:5000/team/app:1.2.3");
  }

  @Test
  void withoutATagItIsLatest() {
    ImageReference r = ImageReference.parse("localhost/app");
    assertThat(r.registry()).isEqualTo("localhost");
    assertThat(r.tag()).contains("latest");
  }

  @Test
  void aDigestPinsTheManifestAndATagBeforeItIsIgnored() {
    ImageReference r = ImageReference.parse("10.0.0.5:5000/app@" + DIGEST);
    assertThat(r.digest()).contains(DIGEST);
    assertThat(r.tag()).isEmpty();
    assertThat(r.manifestReference()).isEqualTo(DIGEST);
    assertThat(r).hasToString("10.0.0.5:5000/app@" + DIGEST);
    ImageReference both = ImageReference.parse("docker.io/library/busybox:1.36@" + DIGEST);
    assertThat(both.repository()).isEqualTo("library/busybox");
    assertThat(both.digest()).contains(DIGEST);
    assertThat(both.tag()).isEmpty();
  }

  @Test
  void theHostIsLowercasedAndAnIpv6HostIsBracketed() {
    assertThat(ImageReference.parse("Registry.Example.COM/app:v1").registry())
        .isEqualTo("registry.example.com");
    ImageReference v6 = ImageReference.parse("[::1]:5000/app:1");
    assertThat(v6.registry()).isEqualTo("[::1]:5000");
    assertThat(v6.repository()).isEqualTo("app");
  }

  @Test
  void aBareNameHasNoDefaultRegistry() {
    assertThatThrownBy(() -> ImageReference.parse("busybox:1.36"))
        .isInstanceOf(ControllerException.class)
        .satisfies(
            e ->
                assertThat(((ControllerException) e).code()).isEqualTo(ErrorCode.VALIDATION_FAILED))
        .hasMessageContaining("names no registry")
        .hasMessageContaining("registry.example.com/busybox:1.36");
    assertThatThrownBy(() -> ImageReference.parse("library/busybox"))
        .hasMessageContaining("names no registry");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "   ",
        "registry.example.com/",
        "registry.example.com/App:1",
        "registry.example.com/app:",
        "registry.example.com/app:-bad",
        "registry.example.com/app@sha256:abc",
        "registry.example.com/app@md5:" + "ab",
        "registry.example.com/a//b:1",
        "registry.example.com/app_:1",
        "registry.example.com:99999/app:1",
        "registry_example.com/app:1",
        "http://registry.example.com/app:1"
      })
  void malformedReferencesAreRefusedWithAReason(String text) {
    assertThatThrownBy(() -> ImageReference.parse(text))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("is not valid");
  }

  @Test
  void aVeryLongReferenceIsRefusedBeforeItIsParsed() {
    assertThatThrownBy(() -> ImageReference.parse("r.example/" + "a".repeat(600)))
        .hasMessageContaining("longer than 512");
  }

  @Test
  void theRecordHoldsATagOrADigest() {
    assertThatThrownBy(
            () -> new ImageReference("r.example", "app", Optional.of("1"), Optional.of(DIGEST)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
