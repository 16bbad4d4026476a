package io.edgefleet.controller.stream;

import java.util.List;

/**
 * What the fleet looks like now and what changed since it was last asked: read by the {@link
 * StreamHub}'s one thread for all streams, never once per stream.
 */
public interface ChangeSource {
  /**
   * What a new stream gets first (the summary); takes the baseline later changes are measured
   * against when there is none.
   */
  List<StreamMessage> current();

  /**
   * What changed since the previous call or the baseline; takes the baseline when there is none.
   */
  List<StreamMessage> changes();

  /** Forgets the baseline (no stream is open), so nothing is kept or read meanwhile. */
  void reset();
}
