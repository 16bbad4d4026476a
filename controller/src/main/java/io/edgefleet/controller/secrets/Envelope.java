package io.edgefleet.controller.secrets;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Envelope encryption of one secret version: its values (a JSON object of keys to base64 values)
 * sealed under a fresh data key, the data key sealed under the master key ring's current key. Both
 * seals ({@link SecretBox}, AES-256-GCM) are bound to the secret's name and version. Thread-safe.
 */
final class Envelope {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final TypeReference<Map<String, String>> VALUES = new TypeReference<>() {};

  private final MasterKeyRing ring;

  /** One version as stored: the master key's id, the wrapped data key, the sealed values. */
  record Sealed(String masterKeyId, String wrapped, String sealed) {}

  Envelope(MasterKeyRing ring) {
    this.ring = ring;
  }

  Sealed seal(String name, long version, Map<String, byte[]> values) {
    byte[] dataKey = new byte[32];
    RANDOM.nextBytes(dataKey);
    Map<String, String> encoded = new LinkedHashMap<>();
    values.forEach((k, v) -> encoded.put(k, Base64.getEncoder().encodeToString(v)));
    String sealed = SecretBox.ofKey(dataKey).seal(Json.write(encoded), valueContext(name, version));
    SecretBox master = ring.current();
    String wrapped =
        master.seal(Base64.getEncoder().encodeToString(dataKey), keyContext(name, version));
    Arrays.fill(dataKey, (byte) 0);
    return new Sealed(master.keyId(), wrapped, sealed);
  }

  /** The values, base64 by key. */
  Map<String, String> open(String name, long version, Sealed stored) {
    byte[] dataKey =
        Base64.getDecoder()
            .decode(master(name, stored).open(stored.wrapped(), keyContext(name, version)));
    String json = SecretBox.ofKey(dataKey).open(stored.sealed(), valueContext(name, version));
    Arrays.fill(dataKey, (byte) 0);
    try {
      return Json.mapper().readValue(json, VALUES);
    } catch (IOException e) {
      throw new UncheckedIOException("secret " + name + " holds unreadable values", e);
    }
  }

  /** The data key wrapped under {@code next} instead; the values are not touched. */
  String rewrap(String name, long version, Sealed stored, SecretBox next) {
    String context = keyContext(name, version);
    return next.seal(master(name, stored).open(stored.wrapped(), context), context);
  }

  private SecretBox master(String name, Sealed stored) {
    return ring.byId(stored.masterKeyId())
        .orElseThrow(
            () ->
                new ControllerException(
                    ErrorCode.INTERNAL,
                    "secret "
                        + name
                        + " is wrapped by master key "
                        + stored.masterKeyId()
                        + ", which the master key file does not hold; every controller sharing"
                        + " a database needs the same master key file"));
  }

  private static String keyContext(String name, long version) {
    return "secret-data-key:" + name + ":" + version;
  }

  private static String valueContext(String name, long version) {
    return "secret-value:" + name + ":" + version;
  }
}
