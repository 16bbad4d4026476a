package io.edgefleet.controller.gitops;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class PatchesTest {
  @Test
  void aChangedResourceIsShownAsAUnifiedDiffWithContext() {
    String before = "a: 1\nb: 2\nc: 3\n";
    String after = "a: 1\nb: 20\nc: 3\n";

    assertThat(
            Patches.of(
                List.of("v1 ConfigMap x/y"),
                Map.of("v1 ConfigMap x/y", before),
                Map.of("v1 ConfigMap x/y", after)))
        .isEqualTo(
            """
            --- a/v1 ConfigMap x/y
            +++ b/v1 ConfigMap x/y
            @@ -1,3 +1,3 @@
             a: 1
            -b: 2
            +b: 20
             c: 3
            """);
  }

  @Test
  void removedResourcesDiffAgainstNothingAndUnchangedOnesAreLeftOut() {
    assertThat(
            Patches.of(
                List.of("gone", "same"),
                Map.of("gone", "k: v\n", "same", "s: 1\n"),
                Map.of("same", "s: 1\n")))
        .isEqualTo("--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-k: v\n");
  }

  @Test
  void aLargeDiffIsCutWithTheNumberOfLinesLeftOut() {
    String big =
        IntStream.range(0, 1000).mapToObj(i -> "line" + i).collect(Collectors.joining("\n"));

    String diff = Patches.of(List.of("big"), Map.of(), Map.of("big", big));

    List<String> lines = diff.lines().toList();
    assertThat(lines).hasSize(Patches.MAX_LINES);
    // 2 header lines, 1 hunk header and 1000 added lines, of which the first 296 are shown.
    assertThat(lines.getLast()).isEqualTo("… 704 more lines");
    assertThat(lines.get(3)).isEqualTo("+line0");
  }
}
