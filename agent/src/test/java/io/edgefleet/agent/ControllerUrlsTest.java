package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ControllerUrlsTest {
  static final List<String> THREE = List.of("https://a:7443", "https://b:7443", "https://c:7443");

  @Test
  void aFleetSpreadsOverTheReplicas() {
    SplittableRandom seeds = new SplittableRandom(7);
    Map<String, Integer> used = new HashMap<>();
    for (int i = 0; i < 3000; i++) {
      used.merge(new ControllerUrls(seeds.split()).current(THREE), 1, Integer::sum);
    }
    assertThat(used).containsOnlyKeys(THREE);
    assertThat(used.values()).allSatisfy(n -> assertThat(n).isBetween(850, 1150));
  }

  @Test
  void aFailedUrlGivesWayToTheNextAndOnlyAWholeRoundOfFailuresBacksOff() {
    ControllerUrls urls = new ControllerUrls(new SplittableRandom(1));
    String first = urls.current(THREE);
    assertThat(urls.failed(first)).isTrue();
    String second = urls.current(THREE);
    assertThat(second).isNotEqualTo(first);
    assertThat(urls.failed(second)).isTrue();
    String third = urls.current(THREE);
    assertThat(third).isNotIn(first, second);
    assertThat(urls.failed(third)).as("every URL failed in a row: back off").isFalse();
    assertThat(urls.current(THREE)).isEqualTo(first);

    // One that works starts a new round.
    urls.worked();
    assertThat(urls.failed(first)).isTrue();
    // A failure reported late, for a URL no longer in use, moves nothing.
    assertThat(urls.failed(first)).isFalse();
  }

  @Test
  void aChangedListKeepsTheUrlInUseIfItIsStillThere() {
    ControllerUrls urls = new ControllerUrls(new SplittableRandom(3));
    String now = urls.current(THREE);
    List<String> more = new java.util.ArrayList<>(THREE);
    more.add("https://d:7443");
    assertThat(urls.current(more)).isEqualTo(now);
    assertThat(urls.current(List.of("https://e:7443"))).isEqualTo("https://e:7443");
    assertThat(urls.failed("https://e:7443")).as("one URL: always back off").isFalse();
  }
}
