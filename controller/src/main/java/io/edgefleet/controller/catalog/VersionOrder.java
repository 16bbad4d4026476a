package io.edgefleet.controller.catalog;

import java.math.BigInteger;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Orders the versions of one app newest first: by semantic version (pre-releases before their
 * release, as semver.org §11 says) when every version parses as one, else by creation time. A
 * leading {@code v} is allowed ({@code v1.2.0}). Stateless.
 */
final class VersionOrder {
  private static final Pattern SEMVER =
      Pattern.compile("v?(\\d+)\\.(\\d+)\\.(\\d+)(?:-([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?");

  private VersionOrder() {}

  /** A parsed semantic version. */
  record SemVer(BigInteger major, BigInteger minor, BigInteger patch, List<String> preRelease)
      implements Comparable<SemVer> {

    static Optional<SemVer> parse(String text) {
      Matcher m = SEMVER.matcher(text);
      if (!m.matches()) {
        return Optional.empty();
      }
      List<String> pre = m.group(4) == null ? List.of() : List.of(m.group(4).split("\\."));
      return Optional.of(
          new SemVer(
              new BigInteger(m.group(1)),
              new BigInteger(m.group(2)),
              new BigInteger(m.group(3)),
              pre));
    }

    @Override
    public int compareTo(SemVer o) {
      int c = major.compareTo(o.major);
      if (c == 0) {
        c = minor.compareTo(o.minor);
      }
      if (c == 0) {
        c = patch.compareTo(o.patch);
      }
      if (c != 0) {
        return c;
      }
      if (preRelease.isEmpty() || o.preRelease.isEmpty()) {
        // A release is newer than any of its pre-releases.
        return Boolean.compare(preRelease.isEmpty(), o.preRelease.isEmpty());
      }
      for (int i = 0; i < Math.min(preRelease.size(), o.preRelease.size()); i++) {
        c = identifier(preRelease.get(i), o.preRelease.get(i));
        if (c != 0) {
          return c;
        }
      }
      return Integer.compare(preRelease.size(), o.preRelease.size());
    }

    private static int identifier(String a, String b) {
      boolean na = a.chars().allMatch(Character::isDigit);
      boolean nb = b.chars().allMatch(Character::isDigit);
      if (na && nb) {
        return new BigInteger(a).compareTo(new BigInteger(b));
      }
      if (na != nb) {
        return na ? -1 : 1;
      }
      return a.compareTo(b);
    }
  }

  /**
   * The items newest first.
   *
   * @param version the version string of an item
   * @param createdAt when an item was created
   */
  static <T> List<T> newestFirst(
      List<T> items, Function<T, String> version, Function<T, Instant> createdAt) {
    List<T> out = new ArrayList<>(items);
    boolean semver = out.stream().allMatch(i -> SemVer.parse(version.apply(i)).isPresent());
    Comparator<T> byTime =
        Comparator.comparing(createdAt).thenComparing(version, Comparator.naturalOrder());
    Comparator<T> order =
        semver
            ? Comparator.<T, SemVer>comparing(i -> SemVer.parse(version.apply(i)).orElseThrow())
                .thenComparing(byTime)
            : byTime;
    out.sort(order.reversed());
    return out;
  }
}
