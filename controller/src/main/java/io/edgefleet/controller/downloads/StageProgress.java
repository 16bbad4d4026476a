package io.edgefleet.controller.downloads;

import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ByteSizes;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * How far a device is with the artifacts it was told to stage, from its latest report.
 *
 * @param held how many of the required artifacts the device holds (verified)
 * @param count how many artifacts are required
 * @param bytes bytes of the required artifacts on the device (held in full, or fetched so far)
 * @param total bytes of the required artifacts
 * @param waiting why the device's downloads do not run now, as it says; null when they run or it
 *     did not say
 * @param known whether the device's desired state says yet what it stages (false while its new
 *     desired state is being computed: then the device is not released either)
 */
public record StageProgress(
    int held, int count, long bytes, long total, String waiting, boolean known) {

  /** Nothing to stage. */
  public static final StageProgress NONE = new StageProgress(0, 0, 0, 0, null, true);

  /** Not known yet: the device's desired state is being computed. */
  public static final StageProgress PREPARING = new StageProgress(0, 0, 0, 0, null, false);

  /** The progress of {@code required} according to {@code report} (empty report: none held). */
  public static StageProgress of(List<ArtifactRef> required, ArtifactReports.Report report) {
    Map<String, Long> fetched =
        report.fetching().stream()
            .collect(
                Collectors.toMap(
                    ArtifactReports.Fetch::digest,
                    ArtifactReports.Fetch::bytes,
                    Math::max,
                    java.util.HashMap::new));
    java.util.Set<String> held = new java.util.HashSet<>(report.held());
    int h = 0;
    long bytes = 0;
    long total = 0;
    Map<String, ArtifactRef> unique =
        required.stream()
            .collect(
                Collectors.toMap(
                    ArtifactRef::digest,
                    Function.identity(),
                    (a, b) -> a,
                    java.util.LinkedHashMap::new));
    for (ArtifactRef a : unique.values()) {
      total += a.size();
      if (held.contains(a.digest())) {
        h++;
        bytes += a.size();
      } else {
        bytes += Math.min(a.size(), fetched.getOrDefault(a.digest(), 0L));
      }
    }
    return new StageProgress(h, unique.size(), bytes, total, report.waiting(), true);
  }

  /** Whether every required artifact is on the device. */
  public boolean complete() {
    return known && held == count;
  }

  /**
   * How an operator reads it: {@code held}, or {@code staging 40 MiB of 100 MiB (1 of 3 artifacts)}
   * followed by the device's waiting reason as it gave it.
   */
  public String describe() {
    if (!known) {
      return "waiting for its desired state to say what to download ahead";
    }
    if (complete()) {
      return "held";
    }
    return "staging "
        + ByteSizes.human(bytes)
        + " of "
        + ByteSizes.human(total)
        + " ("
        + held
        + " of "
        + count
        + " artifacts held)"
        + (waiting == null ? "" : ": " + waiting);
  }
}
