package io.edgefleet.controller.common;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToLongFunction;

/**
 * A least-recently-used map bounded by total weight (entries count 1 each unless a weigher says
 * otherwise). An entry heavier than the bound is not kept. Thread-safe (one lock; every operation
 * is O(1) amortized).
 */
public final class Lru<K, V> {
  private final long maxWeight;
  private final ToLongFunction<V> weigher;
  private final LinkedHashMap<K, V> map = new LinkedHashMap<>(64, 0.75f, true);
  private long weight;

  public Lru(long maxWeight, ToLongFunction<V> weigher) {
    if (maxWeight < 1) {
      throw new IllegalArgumentException("maxWeight must be positive");
    }
    this.maxWeight = maxWeight;
    this.weigher = weigher;
  }

  public static <K, V> Lru<K, V> ofEntries(int maxEntries) {
    return new Lru<>(maxEntries, v -> 1);
  }

  public synchronized Optional<V> get(K key) {
    return Optional.ofNullable(map.get(key));
  }

  public synchronized void put(K key, V value) {
    long w = weigher.applyAsLong(value);
    V old = map.remove(key);
    if (old != null) {
      weight -= weigher.applyAsLong(old);
    }
    if (w > maxWeight) {
      return;
    }
    map.put(key, value);
    weight += w;
    Iterator<Map.Entry<K, V>> it = map.entrySet().iterator();
    while (weight > maxWeight && it.hasNext()) {
      Map.Entry<K, V> eldest = it.next();
      weight -= weigher.applyAsLong(eldest.getValue());
      it.remove();
    }
  }

  public synchronized void clear() {
    map.clear();
    weight = 0;
  }

  public synchronized int size() {
    return map.size();
  }

  public synchronized long weight() {
    return weight;
  }
}
