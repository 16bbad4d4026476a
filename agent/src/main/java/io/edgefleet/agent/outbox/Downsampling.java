package io.edgefleet.agent.outbox;

import io.edgefleet.protocol.Telemetry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Merges metric summaries so that an outbox that is full keeps a coarser view of old windows
 * instead of dropping them: minimum of minimums, maximum of maximums, count-weighted mean, last of
 * the later summary, counts added. Pure.
 */
public final class Downsampling {
  private Downsampling() {}

  /**
   * One summary covering both windows; it takes the later summary's seq, so it sorts where the
   * later one did and never collides with a record the controller may already hold under the
   * earlier seq. It is partial if either was: sampling stopped somewhere inside it.
   */
  public static Telemetry.Metrics merge(Telemetry.Metrics a, Telemetry.Metrics b) {
    Telemetry.Metrics early = a.seq() <= b.seq() ? a : b;
    Telemetry.Metrics late = early == a ? b : a;
    Map<String, Telemetry.Stat> out = new TreeMap<>(early.metrics());
    late.metrics().forEach((name, s) -> out.merge(name, s, Downsampling::merge));
    return new Telemetry.Metrics(
        late.seq(),
        early.from().isBefore(late.from()) ? early.from() : late.from(),
        early.at().isAfter(late.at()) ? early.at() : late.at(),
        out,
        early.partial() || late.partial());
  }

  /** {@code early} and {@code late} merged; the last value is the later one's. */
  public static Telemetry.Stat merge(Telemetry.Stat early, Telemetry.Stat late) {
    long count = early.count() + late.count();
    double mean =
        count == 0
            ? (early.mean() + late.mean()) / 2
            : (early.mean() * early.count() + late.mean() * late.count()) / count;
    return new Telemetry.Stat(
        Math.min(early.min(), late.min()),
        Math.max(early.max(), late.max()),
        mean,
        late.last(),
        count);
  }

  /** Merges neighbours pairwise (first with second, third with fourth, ...), halving the list. */
  static List<Telemetry.Metrics> halve(List<Telemetry.Metrics> bySeq) {
    List<Telemetry.Metrics> out = new ArrayList<>((bySeq.size() + 1) / 2);
    for (int i = 0; i < bySeq.size(); i += 2) {
      out.add(i + 1 < bySeq.size() ? merge(bySeq.get(i), bySeq.get(i + 1)) : bySeq.get(i));
    }
    return out;
  }
}
