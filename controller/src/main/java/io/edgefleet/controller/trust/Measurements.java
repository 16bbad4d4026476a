package io.edgefleet.controller.trust;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.protocol.Json;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;

/** PCR values as stored (JSON of index → lowercase hex) and compared. */
final class Measurements {
  private static final TypeReference<TreeMap<Integer, String>> PCRS = new TypeReference<>() {};

  private Measurements() {}

  static String write(Map<Integer, String> pcrs) {
    return Json.write(new TreeMap<>(pcrs));
  }

  static Map<Integer, String> read(String json) {
    if (json == null) {
      return null;
    }
    try {
      return Json.mapper().readValue(json, PCRS);
    } catch (java.io.IOException e) {
      throw new IllegalStateException("stored PCR values are unreadable", e);
    }
  }

  static Map<Integer, String> hex(Map<Integer, byte[]> pcrs) {
    Map<Integer, String> out = new TreeMap<>();
    pcrs.forEach((i, v) -> out.put(i, HexFormat.of().formatHex(v)));
    return out;
  }

  /** The PCRs of {@code selection} whose values differ, in order. */
  static List<Integer> differing(
      List<Integer> selection, Map<Integer, String> reference, Map<Integer, String> now) {
    List<Integer> out = new ArrayList<>();
    for (int pcr : selection) {
      if (!Objects.equals(reference.get(pcr), now.get(pcr))) {
        out.add(pcr);
      }
    }
    return out;
  }

  static String selection(List<Integer> pcrs) {
    return pcrs.stream().map(String::valueOf).collect(Collectors.joining(","));
  }

  static List<Integer> selection(String text) {
    return Arrays.stream(text.split(",")).map(String::strip).map(Integer::valueOf).toList();
  }

  /** "PCR 4" or "PCRs 4, 7". */
  /** "PCR 7 differs" or "PCRs 4, 7 differ": the start of a quarantine's reason. */
  static String differ(List<Integer> pcrs) {
    return names(pcrs) + (pcrs.size() == 1 ? " differs" : " differ");
  }

  static String names(List<Integer> pcrs) {
    return (pcrs.size() == 1 ? "PCR " : "PCRs ")
        + pcrs.stream().map(String::valueOf).collect(Collectors.joining(", "));
  }
}
