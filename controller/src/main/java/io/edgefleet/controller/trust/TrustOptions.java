package io.edgefleet.controller.trust;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;

/**
 * How the controller checks devices with a TPM.
 *
 * @param tpmCa directory of the TPM manufacturers' EK root and intermediate certificates (PEM or
 *     DER); without it no device can enroll with a TPM
 * @param pcrs the SHA-256 PCRs quoted at enrollment and in every attestation
 * @param interval how often a connected TPM device is challenged besides at each connect
 * @param answerWithin how long a device has to answer a challenge
 * @param missedLimit challenges in a row a device may leave unanswered before it is quarantined
 * @param verifiers threads that verify quotes
 * @param queue quotes waiting for a verifier at most; more are shed and challenged again later
 */
public record TrustOptions(
    Optional<Path> tpmCa,
    List<Integer> pcrs,
    Duration interval,
    Duration answerWithin,
    int missedLimit,
    int verifiers,
    int queue) {

  /** PCRs 0 to 9: firmware, its configuration, option ROMs, boot loader, Secure Boot policy. */
  public static final List<Integer> DEFAULT_PCRS = IntStream.rangeClosed(0, 9).boxed().toList();

  public static final Duration DEFAULT_INTERVAL = Duration.ofHours(4);

  public TrustOptions {
    pcrs = validPcrs(pcrs);
    if (interval.compareTo(Duration.ofSeconds(10)) < 0) {
      throw new IllegalArgumentException("the attestation interval must be at least 10s");
    }
    if (missedLimit < 1 || verifiers < 1 || queue < 1) {
      throw new IllegalArgumentException("missedLimit, verifiers and queue must be positive");
    }
  }

  public static TrustOptions defaults() {
    return new TrustOptions(
        Optional.empty(),
        DEFAULT_PCRS,
        DEFAULT_INTERVAL,
        Duration.ofMinutes(2),
        3,
        Math.max(1, Runtime.getRuntime().availableProcessors() / 2),
        1024);
  }

  public TrustOptions withTpmCa(Path dir) {
    return new TrustOptions(
        Optional.of(dir), pcrs, interval, answerWithin, missedLimit, verifiers, queue);
  }

  public TrustOptions withPcrs(List<Integer> list) {
    return new TrustOptions(tpmCa, list, interval, answerWithin, missedLimit, verifiers, queue);
  }

  public TrustOptions withInterval(Duration d) {
    return new TrustOptions(tpmCa, pcrs, d, answerWithin, missedLimit, verifiers, queue);
  }

  public TrustOptions withAnswerWithin(Duration d) {
    return new TrustOptions(tpmCa, pcrs, interval, d, missedLimit, verifiers, queue);
  }

  public TrustOptions withQueue(int verifierThreads, int capacity) {
    return new TrustOptions(
        tpmCa, pcrs, interval, answerWithin, missedLimit, verifierThreads, capacity);
  }

  /** Sorted, distinct PCR indexes 0 to 23, at least one. */
  static List<Integer> validPcrs(List<Integer> pcrs) {
    if (pcrs == null || pcrs.isEmpty()) {
      throw new IllegalArgumentException("at least one PCR must be attested (0 to 23)");
    }
    for (Integer p : pcrs) {
      if (p == null || p < 0 || p > 23) {
        throw new IllegalArgumentException("PCR " + p + " does not exist: use 0 to 23");
      }
    }
    return pcrs.stream().distinct().sorted().toList();
  }
}
