package io.edgefleet.testkit.kube;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KubeletStandInTest {
  @Test
  void imageTagIgnoresRegistryPortAndDigest() {
    assertThat(KubeletStandIn.imageTag("nginx")).isEqualTo("latest");
    assertThat(KubeletStandIn.imageTag("nginx:never-ready")).isEqualTo("never-ready");
    assertThat(KubeletStandIn.imageTag("registry:5000/team/app")).isEqualTo("latest");
    assertThat(KubeletStandIn.imageTag("registry:5000/team/app:crash")).isEqualTo("crash");
    assertThat(KubeletStandIn.imageTag("registry:5000/app:fail@sha256:0123abcd")).isEqualTo("fail");
    assertThat(KubeletStandIn.imageTag(null)).isEqualTo("latest");
  }
}
