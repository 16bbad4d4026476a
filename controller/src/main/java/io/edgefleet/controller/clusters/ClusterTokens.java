package io.edgefleet.controller.clusters;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.secrets.MasterKeyRing;
import io.edgefleet.controller.secrets.MasterKeyUsers;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.protocol.ErrorCode;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.Set;
import org.jdbi.v3.core.Jdbi;

/**
 * Cluster join tokens: random, sealed at rest under the secrets' master key (bound to the cluster's
 * name and token version), re-sealed under a new master key when it rotates. Thread-safe.
 */
public final class ClusterTokens implements MasterKeyUsers {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Jdbi jdbi;
  private final ClusterStore store;
  private final MasterKeyRing ring;

  /** A token as stored: the master key's id and the sealed token. */
  public record Sealed(String keyId, String sealed) {}

  public ClusterTokens(Jdbi jdbi, ClusterStore store, MasterKeyRing ring) {
    this.jdbi = jdbi;
    this.store = store;
    this.ring = ring;
  }

  /** A fresh token for {@code version} of the cluster's token, sealed. */
  public Sealed fresh(String cluster, long version) {
    String token = generate();
    SecretBox key = ring.current();
    return new Sealed(key.keyId(), key.seal(token, context(cluster, version)));
  }

  /** The token in the clear. */
  public String open(String cluster, long version, Sealed stored) {
    SecretBox key =
        ring.byId(stored.keyId())
            .orElseThrow(
                () ->
                    new ControllerException(
                        ErrorCode.INTERNAL,
                        "the join token of cluster "
                            + cluster
                            + " is sealed by master key "
                            + stored.keyId()
                            + ", which the master key file does not hold; rotate the token"));
    return key.open(stored.sealed(), context(cluster, version));
  }

  /** 32 random bytes, base64url: a plain K3s token (not the {@code K10...} secure format). */
  static String generate() {
    while (true) {
      byte[] raw = new byte[32];
      RANDOM.nextBytes(raw);
      String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
      if (!token.startsWith("K10")) {
        return token;
      }
    }
  }

  /** The plaintext a device receives: the token as a secret value (base64 of its UTF-8). */
  static java.util.Map<String, String> asSecretData(String token) {
    return java.util.Map.of(
        "token", Base64.getEncoder().encodeToString(token.getBytes(StandardCharsets.UTF_8)));
  }

  @Override
  public Set<String> keyIdsInUse(SecretBox next) {
    return jdbi.inTransaction(
        h -> {
          for (ClusterStore.Row r : store.all(h)) {
            if (r.tokenKeyId().equals(next.keyId())) {
              continue;
            }
            String token =
                open(r.name(), r.tokenVersion(), new Sealed(r.tokenKeyId(), r.tokenSealed()));
            store.setToken(
                h,
                r.name(),
                next.keyId(),
                next.seal(token, context(r.name(), r.tokenVersion())),
                r.tokenVersion(),
                r.updatedAt().toEpochMilli());
          }
          return new LinkedHashSet<>(store.tokenKeyIds(h));
        });
  }

  private static String context(String cluster, long version) {
    return "cluster-token:" + cluster + ":" + version;
  }
}
