package io.edgefleet.agent.telemetry;

import io.edgefleet.protocol.Telemetry;
import java.util.Map;
import java.util.TreeMap;

/** Accumulates samples of one telemetry window into min, max, mean, last and count per metric. */
final class Window {
  private final Map<String, double[]> acc = new TreeMap<>();
  private final Map<String, Long> counts = new TreeMap<>();

  /** Adds one sample; non-finite values are ignored. */
  void add(Map<String, Double> sample) {
    sample.forEach(
        (name, v) -> {
          if (v == null || !Double.isFinite(v)) {
            return;
          }
          double[] a = acc.get(name);
          if (a == null) {
            acc.put(name, new double[] {v, v, v, v});
            counts.put(name, 1L);
          } else {
            a[0] = Math.min(a[0], v);
            a[1] = Math.max(a[1], v);
            a[2] += v;
            a[3] = v;
            counts.merge(name, 1L, Long::sum);
          }
        });
  }

  boolean isEmpty() {
    return acc.isEmpty();
  }

  /** The summary of the samples so far, at most {@code max} metrics (by name). */
  Map<String, Telemetry.Stat> summary(int max) {
    Map<String, Telemetry.Stat> out = new TreeMap<>();
    for (Map.Entry<String, double[]> e : acc.entrySet()) {
      if (out.size() >= max) {
        break;
      }
      double[] a = e.getValue();
      long n = counts.get(e.getKey());
      out.put(
          e.getKey(),
          new Telemetry.Stat(round(a[0]), round(a[1]), round(a[2] / n), round(a[3]), n));
    }
    return out;
  }

  static double round(double v) {
    return Telemetry.round(v);
  }

  void reset() {
    acc.clear();
    counts.clear();
  }
}
