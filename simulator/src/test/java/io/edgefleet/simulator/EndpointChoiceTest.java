package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class EndpointChoiceTest {
  private static final List<Endpoint> THREE =
      List.of(
          Endpoint.of("https://127.0.0.1:7001"),
          Endpoint.of("https://127.0.0.1:7002"),
          Endpoint.of("https://127.0.0.1:7003"));

  @Test
  void devicesStartAtRandomUrlsSoAFleetSpreadsOverTheReplicas() {
    SplittableRandom random = new SplittableRandom(7);
    int[] count = new int[3];
    for (int i = 0; i < 3_000; i++) {
      count[THREE.indexOf(new EndpointChoice(THREE, random).current())]++;
    }
    // 1,000 expected each; a binomial spread of ±26 makes 850..1150 safe.
    for (int c : count) {
      assertThat(c).isBetween(850, 1_150);
    }
  }

  @Test
  void aFailedUrlMovesToTheNextAndOnlyAWholeFailedRoundBacksOff() {
    EndpointChoice c = new EndpointChoice(THREE, new SplittableRandom(1));
    Set<Endpoint> tried = new HashSet<>();
    tried.add(c.current());
    assertThat(c.failed()).as("a second URL is left").isTrue();
    tried.add(c.current());
    assertThat(c.failed()).as("a third URL is left").isTrue();
    tried.add(c.current());
    assertThat(tried).containsExactlyInAnyOrderElementsOf(THREE);
    assertThat(c.failed()).as("every URL failed in a row: back off").isFalse();
    // The round starts again after the back-off.
    assertThat(c.failed()).isTrue();
  }

  @Test
  void aUrlThatWorkedStartsANewRoundAndIsKept() {
    EndpointChoice c = new EndpointChoice(THREE, new SplittableRandom(3));
    assertThat(c.failed()).isTrue();
    Endpoint working = c.current();
    c.worked();
    assertThat(c.current()).isEqualTo(working);
    assertThat(c.failed()).isTrue();
    assertThat(c.failed()).isTrue();
    assertThat(c.failed()).isFalse();
  }

  @Test
  void oneUrlAlwaysBacksOff() {
    EndpointChoice c = new EndpointChoice(THREE.subList(0, 1), new SplittableRandom(5));
    assertThat(c.failed()).isFalse();
    assertThat(c.current()).isEqualTo(THREE.get(0));
  }

  @Test
  void noUrlIsRefused() {
    assertThatThrownBy(() -> new EndpointChoice(List.of(), new SplittableRandom(1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anEndpointDialsTheUrlsHostAndPort() {
    Endpoint e = Endpoint.of("https://ctl.example:8443");
    assertThat(e.host()).isEqualTo("ctl.example");
    assertThat(e.remote().getPort()).isEqualTo(8443);
    assertThat(e.hostHeader()).isEqualTo("ctl.example:8443");
    assertThat(Endpoint.of("https://ctl.example").remote().getPort()).isEqualTo(443);
  }
}
