package io.edgefleet.agent.telemetry;

import java.util.Map;

/** Takes one sample of gauges, by dotted metric name. */
@FunctionalInterface
public interface Sampler {
  /** The current values; a source that cannot be read is left out. */
  Map<String, Double> sample();
}
