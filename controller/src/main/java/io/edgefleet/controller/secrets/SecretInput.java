package io.edgefleet.controller.secrets;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The rules a secret's name, namespace and keys follow (those of Kubernetes, where devices
 * materialise them) and the bounds on its size. Pure functions; every violation is a {@link
 * ControllerException} naming the field and what is allowed.
 */
final class SecretInput {
  /** Most bytes of one secret: its values and key names together. */
  static final int MAX_BYTES = 64 * 1024;

  /** Most keys in one secret. */
  static final int MAX_KEYS = 256;

  private static final Pattern NAME =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Pattern LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern KEY = Pattern.compile("[-._a-zA-Z0-9]+");

  private SecretInput() {}

  /** A Kubernetes Secret name: a DNS subdomain of at most 253 characters. */
  static String name(String name) {
    if (name == null || name.length() > 253 || !NAME.matcher(name).matches()) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED,
          "name must be a Kubernetes Secret name: lower-case letters, digits, '-' and '.', starting"
              + " and ending with a letter or digit, at most 253 characters; got '"
              + abbreviate(name)
              + "'");
    }
    return name;
  }

  /** A Kubernetes namespace (a DNS label); {@code default} when absent. */
  static String namespace(String namespace) {
    if (namespace == null || namespace.isEmpty()) {
      return "default";
    }
    if (!LABEL.matcher(namespace).matches()) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED,
          "namespace must be a DNS label: lower-case letters, digits and '-', at most 63"
              + " characters; got '"
              + abbreviate(namespace)
              + "'");
    }
    return namespace;
  }

  /**
   * The secret's keys and values from {@code data} (base64 values) and {@code stringData} (text
   * values, UTF-8), sorted by key.
   */
  static Map<String, byte[]> values(Map<String, String> data, Map<String, String> stringData) {
    Map<String, byte[]> out = new TreeMap<>();
    if (data != null) {
      data.forEach(
          (k, v) -> {
            key(k);
            if (v == null) {
              throw invalid("data." + k + " has no value");
            }
            try {
              out.put(k, Base64.getDecoder().decode(v));
            } catch (IllegalArgumentException e) {
              throw invalid("data." + k + " must be base64 (use stringData for plain text)");
            }
          });
    }
    if (stringData != null) {
      stringData.forEach(
          (k, v) -> {
            key(k);
            if (v == null) {
              throw invalid("stringData." + k + " has no value");
            }
            if (out.put(k, v.getBytes(StandardCharsets.UTF_8)) != null) {
              throw invalid("key '" + k + "' is in both data and stringData; give it once");
            }
          });
    }
    if (out.isEmpty()) {
      throw invalid("a secret needs at least one key in data or stringData");
    }
    if (out.size() > MAX_KEYS) {
      throw new ControllerException(
          ErrorCode.SECRET_TOO_LARGE,
          "a secret holds at most " + MAX_KEYS + " keys, this one " + out.size());
    }
    long size = size(out);
    if (size > MAX_BYTES) {
      throw new ControllerException(
          ErrorCode.SECRET_TOO_LARGE,
          "a secret holds at most "
              + MAX_BYTES
              + " bytes (values and key names), this one "
              + size
              + "; keep large files out of secrets, or split them");
    }
    return out;
  }

  static long size(Map<String, byte[]> values) {
    long size = 0;
    for (var e : values.entrySet()) {
      size += e.getKey().length() + e.getValue().length;
    }
    return size;
  }

  private static void key(String k) {
    if (k == null
        || k.isEmpty()
        || k.length() > 253
        || k.equals(".")
        || k.equals("..")
        || !KEY.matcher(k).matches()) {
      throw invalid(
          "key '"
              + abbreviate(k)
              + "' is not a Kubernetes Secret key: letters, digits, '-', '_' and '.', at most 253"
              + " characters, not '.' or '..'");
    }
  }

  private static ControllerException invalid(String message) {
    return new ControllerException(ErrorCode.VALIDATION_FAILED, message);
  }

  private static String abbreviate(String s) {
    return s == null ? "" : s.length() > 80 ? s.substring(0, 80) + "..." : s;
  }
}
