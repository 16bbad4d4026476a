package io.edgefleet.controller.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChartCacheTest {
  @TempDir Path dir;

  private static Bundle chart(String treeId, int bytes) {
    SortedMap<String, byte[]> files = new TreeMap<>();
    files.put("Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n".getBytes());
    files.put("files/data.txt", "x".repeat(bytes).getBytes(StandardCharsets.UTF_8));
    return Bundle.parse("web", treeId, files);
  }

  private List<String> onDisk() throws IOException {
    if (!Files.exists(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void chartsAreWrittenOnceAndTheLeastRecentlyUsedAreDeletedBeyondTheEntryBound() throws Exception {
    ChartCache cache = new ChartCache(dir, 1 << 20, 2);
    Bundle a = chart("a", 10);
    Bundle b = chart("b", 10);
    Bundle c = chart("c", 10);

    Path pathA = cache.acquire(a);
    assertThat(pathA.resolve("files/data.txt")).hasContent("x".repeat(10));
    cache.release(a, false);
    cache.release(b, false); // never acquired: nothing happens
    cache.acquire(b);
    cache.release(b, false);
    cache.acquire(a); // a is now the most recently used
    cache.release(a, false);
    cache.acquire(c);
    cache.release(c, false);

    assertThat(onDisk()).containsExactly("a", "c");
    assertThat(cache.size()).isEqualTo(2);
    assertThat(cache.bytes()).isEqualTo(a.size() + c.size());
  }

  @Test
  void theByteBoundIsKeptAndAChartLargerThanTheBoundIsNotKept() throws Exception {
    Bundle small = chart("small", 1_000);
    long bound = 3 * small.size();
    ChartCache cache = new ChartCache(dir, bound, 100);
    for (String id : List.of("s1", "s2", "s3", "s4")) {
      Bundle b = chart(id, 1_000);
      cache.acquire(b);
      cache.release(b, false);
    }
    assertThat(onDisk()).containsExactly("s2", "s3", "s4");
    assertThat(cache.bytes()).isLessThanOrEqualTo(bound);

    Bundle huge = chart("huge", 10_000);
    Path p = cache.acquire(huge);
    assertThat(p).isDirectory(); // usable while in use, even though it does not fit
    cache.release(huge, false);
    assertThat(onDisk()).doesNotContain("huge");
    assertThat(cache.bytes()).isLessThanOrEqualTo(bound);
  }

  @Test
  void aFailedChartIsDeletedAtOnceAndAChartInUseIsNeverEvicted() throws Exception {
    ChartCache cache = new ChartCache(dir, 1 << 20, 1);
    Bundle a = chart("a", 10);
    Bundle b = chart("b", 10);

    cache.acquire(a);
    cache.acquire(b);
    cache.release(b, false); // over the bound; a is in use, so b goes
    assertThat(onDisk()).containsExactly("a");
    cache.release(a, false);
    assertThat(onDisk()).containsExactly("a");

    cache.acquire(a);
    cache.release(a, true);
    assertThat(onDisk()).isEmpty();
    assertThat(cache.size()).isZero();
    assertThat(cache.bytes()).isZero();
  }

  @Test
  void aPathLeavingTheChartIsRefusedAndLeavesNothing() throws Exception {
    SortedMap<String, byte[]> files = new TreeMap<>();
    files.put("Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n".getBytes());
    files.put("../escape.yaml", "a: 1\n".getBytes());
    Bundle bad = Bundle.parse("web", "bad", files);
    ChartCache cache = new ChartCache(dir, 1 << 20, 10);

    assertThatThrownBy(() -> cache.acquire(bad))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("leaves the chart");
    assertThat(onDisk()).isEmpty();
    assertThat(dir.resolve("escape.yaml")).doesNotExist();
  }
}
