package io.edgefleet.simulator;

import io.edgefleet.protocol.Durations;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Fleet-wide outages: every {@code every}, a share of the devices loses its link for {@code for}.
 * Written {@code every=10m,for=1m,share=20%}; {@code share} defaults to 100%.
 */
public record OutageSpec(Duration every, Duration duration, double share) {
  public OutageSpec {
    if (every.isNegative() || every.isZero()) {
      throw new IllegalArgumentException("outages: every must be positive");
    }
    if (duration.isNegative() || duration.isZero() || duration.compareTo(every) >= 0) {
      throw new IllegalArgumentException("outages: for must be positive and shorter than every");
    }
    if (!(share > 0 && share <= 1)) {
      throw new IllegalArgumentException("outages: share must be between 0% (excluded) and 100%");
    }
  }

  public static OutageSpec parse(String text) {
    Map<String, String> parts = new LinkedHashMap<>();
    for (String part : text.split(",")) {
      int eq = part.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException(
            "outages: '" + part + "' is not key=value (e.g. every=10m,for=1m,share=20%)");
      }
      String k = part.substring(0, eq).trim();
      if (parts.put(k, part.substring(eq + 1).trim()) != null) {
        throw new IllegalArgumentException("outages: '" + k + "' given twice");
      }
    }
    for (String k : parts.keySet()) {
      if (!k.equals("every") && !k.equals("for") && !k.equals("share")) {
        throw new IllegalArgumentException("outages: unknown key '" + k + "' (every, for, share)");
      }
    }
    if (!parts.containsKey("every") || !parts.containsKey("for")) {
      throw new IllegalArgumentException("outages: every= and for= are required");
    }
    return new OutageSpec(
        duration(parts.get("every")), duration(parts.get("for")), share(parts.get("share")));
  }

  private static Duration duration(String s) {
    try {
      return Durations.parse(s);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("outages: '" + s + "' is not a duration (e.g. 10m)");
    }
  }

  private static double share(String s) {
    if (s == null) {
      return 1;
    }
    String v = s.endsWith("%") ? s.substring(0, s.length() - 1) : s;
    try {
      double d = Double.parseDouble(v);
      return s.endsWith("%") ? d / 100 : d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("outages: share '" + s + "' is not a percentage");
    }
  }
}
