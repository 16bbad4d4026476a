package io.edgefleet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ReplicaBenchTest {
  @Test
  void aFleetThatFitsEveryProcessIsAccepted() {
    assertThat(ReplicaBench.fits(2_000, 3, 2, 20_000)).isNull();
    assertThat(ReplicaBench.fits(90_000, 6, 6, 20_000)).isNull();
  }

  @Test
  void aSimulatorBeyondTheOpenFilesLimitIsRefusedWithWhatToAdd() {
    assertThat(ReplicaBench.fits(40_000, 3, 2, 20_000)).contains("add simulators");
  }

  @Test
  void aReplicaLikelyToHoldMoreThanTheLimitIsRefused() {
    // 100,000 on 5 replicas is 20,000 each on average: above 19,000 (20,000 less the reserve).
    assertThat(ReplicaBench.fits(100_000, 5, 6, 20_000)).contains("add replicas");
  }

  @Test
  void theBusiestReplicaAllowsForTheRandomSpread() {
    // 3 sigma of a binomial(90,000, 1/6): 3 * sqrt(90,000 * 1/6 * 5/6) = 335.
    assertThat(ReplicaBench.busiest(90_000, 6)).isEqualTo(15_335);
    assertThat(ReplicaBench.busiest(1_000, 1)).isEqualTo(1_000);
  }
}
