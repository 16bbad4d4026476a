package io.edgefleet.controller.trust;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class MeasurementsTest {
  @Test
  void aQuarantineReasonAgreesWithTheNumberOfPcrs() {
    assertThat(Measurements.differ(List.of(7))).isEqualTo("PCR 7 differs");
    assertThat(Measurements.differ(List.of(4, 7))).isEqualTo("PCRs 4, 7 differ");
  }
}
