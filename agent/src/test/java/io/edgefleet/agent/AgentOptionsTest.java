package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.device.Timeouts;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class AgentOptionsTest {
  private static final AgentOptions DEFAULTS =
      AgentOptions.of(Path.of("bootstrap.json"), Path.of("state"));

  @Test
  void defaultsBackOffAsTheDeviceCoreSaysAndShowTheQrCode() {
    assertThat(DEFAULTS)
        .isEqualTo(
            new AgentOptions(
                Path.of("bootstrap.json"),
                Path.of("state"),
                Optional.empty(),
                Timeouts.MAX_BACKOFF,
                Timeouts.REFUSED_BACKOFF,
                true,
                Duration.ofSeconds(10),
                Transfers.Limits.defaults().progressWindow(),
                Optional.empty(),
                Duration.ofMinutes(5)));
  }

  @Test
  void eachCopyChangesOnlyItsOwnOption() {
    Duration d = Duration.ofMillis(1234);
    assertThat(DEFAULTS.withSerial("SN-1"))
        .isEqualTo(copy(Optional.of("SN-1"), null, null, null, null, null));
    assertThat(DEFAULTS.withSerial(null)).isEqualTo(DEFAULTS);
    assertThat(DEFAULTS.withMaxBackoff(d)).isEqualTo(copy(null, d, null, null, null, null));
    assertThat(DEFAULTS.withRefusedBackoff(d)).isEqualTo(copy(null, null, d, null, null, null));
    assertThat(DEFAULTS.withQr(false)).isEqualTo(copy(null, null, null, false, null, null));
    assertThat(DEFAULTS.withReconcileInterval(d)).isEqualTo(copy(null, null, null, null, d, null));
    assertThat(DEFAULTS.withStallTimeout(d)).isEqualTo(copy(null, null, null, null, null, d));
    assertThat(DEFAULTS.withClusterCheckInterval(d).clusterCheckInterval()).isEqualTo(d);
    assertThat(DEFAULTS.withClusterCheckInterval(d).withClusterCheckInterval(Duration.ofMinutes(5)))
        .isEqualTo(DEFAULTS);
    assertThat(DEFAULTS.withName("till-3").name()).contains("till-3");
    assertThat(DEFAULTS.withName("till-3").withName(null)).isEqualTo(DEFAULTS);
    assertThat(DEFAULTS.withName("till-3").withSerial("SN-1").name()).contains("till-3");
    assertThat(DEFAULTS.withQr(false).withMaxBackoff(d))
        .isEqualTo(copy(null, d, null, false, null, null));
  }

  /** The defaults with the options given (not null) replaced. */
  private static AgentOptions copy(
      Optional<String> serial,
      Duration maxBackoff,
      Duration refusedBackoff,
      Boolean showQr,
      Duration reconcileInterval,
      Duration stallTimeout) {
    return new AgentOptions(
        DEFAULTS.bootstrapFile(),
        DEFAULTS.stateDir(),
        serial != null ? serial : DEFAULTS.serial(),
        maxBackoff != null ? maxBackoff : DEFAULTS.maxBackoff(),
        refusedBackoff != null ? refusedBackoff : DEFAULTS.refusedBackoff(),
        showQr != null ? showQr : DEFAULTS.showQr(),
        reconcileInterval != null ? reconcileInterval : DEFAULTS.reconcileInterval(),
        stallTimeout != null ? stallTimeout : DEFAULTS.stallTimeout(),
        DEFAULTS.name(),
        DEFAULTS.clusterCheckInterval());
  }
}
