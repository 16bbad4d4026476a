package io.edgefleet.controller.common;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LruTest {
  @Test
  void theLeastRecentlyUsedEntryGoesFirst() {
    Lru<String, Integer> lru = Lru.ofEntries(2);
    lru.put("a", 1);
    lru.put("b", 2);
    assertThat(lru.get("a")).contains(1); // "b" is now the least recently used
    lru.put("c", 3);
    assertThat(lru.get("b")).isEmpty();
    assertThat(lru.get("a")).contains(1);
    assertThat(lru.get("c")).contains(3);
    assertThat(lru.size()).isEqualTo(2);
  }

  @Test
  void weightBoundsTheMapAndTooHeavyEntriesAreNotKept() {
    Lru<String, String> lru = new Lru<>(10, String::length);
    lru.put("a", "12345");
    lru.put("b", "123456");
    assertThat(lru.get("a")).isEmpty();
    assertThat(lru.weight()).isEqualTo(6);
    lru.put("c", "12345678901");
    assertThat(lru.get("c")).isEmpty();
    assertThat(lru.get("b")).contains("123456");
    lru.put("b", "1");
    assertThat(lru.weight()).isEqualTo(1);
  }
}
