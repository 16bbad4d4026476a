package io.edgefleet.agent;

import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Which of the controller's URLs (its replicas) the device uses. It starts at a random one, so a
 * fleet spreads over the replicas; keeps to the one that works; and moves to the next when it
 * fails. Only after a whole round of URLs failed does the caller back off, so a replica that died
 * costs its devices one quick retry, not a backoff. Thread-safe.
 */
final class ControllerUrls {
  private final RandomGenerator random;
  private List<String> urls = List.of();
  private int index;
  private int failedInRound;

  ControllerUrls(RandomGenerator random) {
    this.random = random;
  }

  /**
   * The URL to use now, of {@code now} (the controller's URLs as currently configured, not empty).
   * When the list changed, the URL in use stays if it is still listed.
   */
  synchronized String current(List<String> now) {
    if (now.isEmpty()) {
      throw new IllegalArgumentException("no controller URL");
    }
    if (!now.equals(urls)) {
      String kept = urls.isEmpty() ? null : urls.get(index);
      urls = List.copyOf(now);
      int at = kept == null ? -1 : urls.indexOf(kept);
      index = at >= 0 ? at : random.nextInt(urls.size());
      failedInRound = 0;
    }
    return urls.get(index);
  }

  /**
   * {@code url} failed: the next URL is used from now on.
   *
   * @return whether a URL not yet tried in this round remains (try it at once); false when every
   *     URL failed in a row (back off) or there is only one
   */
  synchronized boolean failed(String url) {
    if (urls.size() <= 1 || !url.equals(urls.get(index))) {
      return false;
    }
    index = (index + 1) % urls.size();
    failedInRound++;
    if (failedInRound >= urls.size()) {
      failedInRound = 0;
      return false;
    }
    return true;
  }

  /** The URL in use answered: a new round starts. */
  synchronized void worked() {
    failedInRound = 0;
  }
}
