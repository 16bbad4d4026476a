package io.edgefleet.controller.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Newest first: by semantic version when every version is one, else by push time. */
class VersionOrderTest {
  record V(String version, Instant at) {}

  private static List<String> order(V... versions) {
    return VersionOrder.newestFirst(List.of(versions), V::version, V::at).stream()
        .map(V::version)
        .toList();
  }

  private static Instant t(int seconds) {
    return Instant.ofEpochSecond(1_700_000_000L + seconds);
  }

  @Test
  void semanticVersionsAreOrderedNumericallyWithPreReleasesBeforeTheirRelease() {
    assertThat(
            order(
                new V("1.2.0", t(1)),
                new V("1.10.0", t(2)),
                new V("1.2.0-rc.1", t(3)),
                new V("1.2.0-rc.10", t(4)),
                new V("1.2.0-rc.2", t(5)),
                new V("1.2.0-alpha", t(6)),
                new V("v0.9.9", t(7)),
                new V("2.0.0-beta", t(8))))
        .containsExactly(
            "2.0.0-beta",
            "1.10.0",
            "1.2.0",
            "1.2.0-rc.10",
            "1.2.0-rc.2",
            "1.2.0-rc.1",
            "1.2.0-alpha",
            "v0.9.9");
  }

  @Test
  void aVersionPushedLaterButLowerIsNotTheLatest() {
    assertThat(order(new V("2.0.0", t(1)), new V("1.5.0", t(2)))).containsExactly("2.0.0", "1.5.0");
  }

  @Test
  void anyNonSemanticVersionMakesTheOrderByPushTime() {
    assertThat(order(new V("2.0.0", t(1)), new V("stable", t(3)), new V("1.0.0", t(2))))
        .containsExactly("stable", "1.0.0", "2.0.0");
    assertThat(order(new V("2024.06", t(1)), new V("2024.05", t(2))))
        .containsExactly("2024.05", "2024.06");
  }

  @Test
  void semverParsing() {
    assertThat(VersionOrder.SemVer.parse("1.2.3")).isPresent();
    assertThat(VersionOrder.SemVer.parse("v1.2.3-rc.1")).isPresent();
    assertThat(VersionOrder.SemVer.parse("1.2")).isEmpty();
    assertThat(VersionOrder.SemVer.parse("1.2.3.4")).isEmpty();
    assertThat(VersionOrder.SemVer.parse("latest")).isEmpty();
  }
}
