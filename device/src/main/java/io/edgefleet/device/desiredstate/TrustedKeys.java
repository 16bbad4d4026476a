package io.edgefleet.device.desiredstate;

import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.tls.Signatures;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The controller's desired-state signing keys a device trusts, by key id. A device starts with the
 * key it received at enrollment; afterwards what it trusts changes only with a document it took:
 * the key that signed it and the keys that document announces ({@link DesiredState#signingKeys}).
 * So a key can only become trusted through a document signed by a key already trusted, and a key
 * the controller no longer announces stops being trusted once a document without it is taken.
 * Immutable.
 */
public final class TrustedKeys {
  /** More keys than a rotation ever has in flight: a document announcing more is refused. */
  static final int MAX_KEYS = 4;

  private final Map<String, PublicKey> keys;

  private TrustedKeys(Map<String, PublicKey> keys) {
    this.keys = java.util.Collections.unmodifiableMap(keys);
  }

  /** Exactly these keys. */
  public static TrustedKeys of(Collection<PublicKey> keys) {
    Map<String, PublicKey> m = new LinkedHashMap<>();
    for (PublicKey k : keys) {
      m.put(Signatures.keyId(k), k);
    }
    return new TrustedKeys(m);
  }

  public static TrustedKeys of(PublicKey key) {
    return of(List.of(key));
  }

  /**
   * Keys from their announced form (id and PEM).
   *
   * @throws IllegalArgumentException if a PEM is not an Ed25519 public key or its id is not the one
   *     given
   */
  public static TrustedKeys parse(Collection<DesiredState.SigningKey> announced) {
    Map<String, PublicKey> m = new LinkedHashMap<>();
    for (DesiredState.SigningKey k : announced) {
      if (k == null || k.id() == null || k.publicKeyPem() == null) {
        throw new IllegalArgumentException("a signing key without id or key");
      }
      PublicKey key = Signatures.publicKey(k.publicKeyPem());
      if (!Signatures.keyId(key).equals(k.id())) {
        throw new IllegalArgumentException(
            "signing key "
                + k.id()
                + " is not the key its id names ("
                + Signatures.keyId(key)
                + ")");
      }
      m.put(k.id(), key);
    }
    return new TrustedKeys(m);
  }

  public Optional<PublicKey> get(String id) {
    return Optional.ofNullable(keys.get(id));
  }

  public boolean isEmpty() {
    return keys.isEmpty();
  }

  /** Key ids, in the order the keys were given. */
  public List<String> ids() {
    return List.copyOf(keys.keySet());
  }

  public Collection<PublicKey> keys() {
    return keys.values();
  }

  /** The announced form, for storing. */
  public List<DesiredState.SigningKey> announced() {
    List<DesiredState.SigningKey> out = new ArrayList<>();
    keys.forEach((id, k) -> out.add(new DesiredState.SigningKey(id, Signatures.publicKeyPem(k))));
    return out;
  }

  /**
   * What a device trusts after taking a document signed by {@code signer} announcing {@code next}.
   */
  static TrustedKeys after(String signerId, PublicKey signer, TrustedKeys next) {
    Map<String, PublicKey> m = new LinkedHashMap<>();
    m.put(signerId, signer);
    next.keys.forEach(m::putIfAbsent);
    return new TrustedKeys(m);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TrustedKeys t && t.keys.keySet().equals(keys.keySet());
  }

  @Override
  public int hashCode() {
    return keys.keySet().hashCode();
  }

  @Override
  public String toString() {
    return String.join(", ", keys.keySet());
  }
}
