package io.edgefleet.bench.jmh;

import io.edgefleet.controller.selector.Selector;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * A selector parsed once and matched against the tags of 10,000 devices (what a recompute of every
 * device does per app). Scores are per device (per match); {@code parse} is per selector.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SelectorBench {
  static final int DEVICES = 10_000;

  /** A typical rollout target: three requirements, about a third of the fleet matches. */
  @Param({"env in (prod,stage),site!=lab-1,!decommissioning"})
  public String selector;

  private Selector parsed;
  private List<Map<String, String>> tags;

  @Setup
  public void setUp() {
    parsed = Selector.parse(selector);
    Random random = new Random(42);
    String[] envs = {"prod", "stage", "dev"};
    tags = new ArrayList<>(DEVICES);
    for (int i = 0; i < DEVICES; i++) {
      // Six tags per device, as a fleet labelled by site, environment, role, hardware, region.
      tags.add(
          Map.of(
              "env",
              envs[random.nextInt(envs.length)],
              "site",
              "site-" + random.nextInt(500),
              "role",
              random.nextBoolean() ? "pos" : "kiosk",
              "hw",
              "rpi" + (4 + random.nextInt(2)),
              "region",
              "eu-" + random.nextInt(4),
              "ring",
              Integer.toString(random.nextInt(10))));
    }
  }

  @Benchmark
  @OperationsPerInvocation(DEVICES)
  public int match() {
    int n = 0;
    for (Map<String, String> t : tags) {
      if (parsed.matches(t)) {
        n++;
      }
    }
    return n;
  }

  @Benchmark
  public Selector parse() {
    return Selector.parse(selector);
  }
}
