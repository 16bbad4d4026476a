package io.edgefleet.controller.pki;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The controller's Ed25519 keys that sign desired state, and where each stands in a rotation:
 *
 * <ul>
 *   <li>{@code CURRENT}: signs the documents of every device that trusts it; exactly one.
 *   <li>{@code NEXT}: created by {@link #startRotation}; announced to devices in documents signed
 *       by a key they trust, not used to sign yet; at most one.
 *   <li>{@code PREVIOUS}: the current key before {@link #finishRotation}; still signs for devices
 *       that have not reported trusting the current key (offline during the announcement, or agents
 *       that know one key only), so none of them is stranded.
 *   <li>{@code RETIRED}: never used again; its private key is deleted.
 * </ul>
 *
 * <p>Kept in the controller's key directory, not in the database, like the other keys: {@code
 * signing-keys.json} lists the keys and their states, each private key is a file of mode 0600
 * ({@code signing.key} for the key the controller had before rotation existed, {@code
 * signing-<id>.key} for later ones). A change writes the new private key first, then replaces the
 * list atomically, so a crash leaves the old list or the new one. A database restored from a backup
 * therefore never brings back a retired key or loses a new one.
 *
 * <p>Thread-safe: readers take the immutable {@link #ring()}; changes are serialised.
 */
public final class SigningKeys {
  static final String LIST = "signing-keys.json";
  static final String FIRST_KEY = "signing.key";
  static final String FIRST_PUB = "signing.pub";

  /** Where a key stands in a rotation. */
  public enum State {
    NEXT,
    CURRENT,
    PREVIOUS,
    RETIRED
  }

  /** One key as people and devices see it. */
  public record Key(
      String id,
      String fingerprint,
      State state,
      Instant createdAt,
      Instant activatedAt,
      Instant retiredAt,
      PublicKey publicKey) {
    public String publicKeyPem() {
      return Signatures.publicKeyPem(publicKey);
    }
  }

  /** What {@code signing-keys.json} holds per key. */
  record Entry(
      String id,
      State state,
      Instant createdAt,
      Instant activatedAt,
      Instant retiredAt,
      String publicKeyPem,
      String privateKeyFile) {}

  /**
   * What {@code signing-keys.json} holds.
   *
   * @param preRotationKey the key the controller had before keys could be rotated, which every
   *     device enrolled until then trusts
   */
  record ListFile(String preRotationKey, List<Entry> keys) {}

  /**
   * Which key signs a device's next document and which keys that document announces.
   *
   * @param announced the current and next keys other than the signer, current first
   */
  public record Plan(Key signer, List<Key> announced) {
    /** The announced key ids joined by commas, as stored next to the document. */
    public String announcedIds() {
      return String.join(",", announced.stream().map(Key::id).toList());
    }
  }

  /** An immutable view of the keys, with the private keys of those not retired. */
  public static final class Ring {
    private final List<Key> keys;
    private final String preRotationKey;
    private final Map<String, PrivateKey> privateKeys;
    private final Map<String, String> files;

    Ring(
        List<Key> keys,
        String preRotationKey,
        Map<String, PrivateKey> privateKeys,
        Map<String, String> files) {
      this.keys = List.copyOf(keys);
      this.preRotationKey = preRotationKey;
      this.privateKeys = Map.copyOf(privateKeys);
      this.files = files;
    }

    /** Every key, retired ones included, newest first. */
    public List<Key> keys() {
      return keys;
    }

    public Key current() {
      return keys.stream().filter(k -> k.state() == State.CURRENT).findFirst().orElseThrow();
    }

    public Optional<Key> next() {
      return keys.stream().filter(k -> k.state() == State.NEXT).findFirst();
    }

    public Optional<Key> byId(String id) {
      return keys.stream().filter(k -> k.id().equals(id)).findFirst();
    }

    /** The key the controller had before keys could be rotated. */
    public String preRotationKey() {
      return preRotationKey;
    }

    /** The private key of a key that is not retired. */
    public PrivateKey privateKey(String id) {
      PrivateKey k = privateKeys.get(id);
      if (k == null) {
        throw new IllegalStateException("signing key " + id + " is retired or unknown");
      }
      return k;
    }

    /**
     * The plan for a device that trusts {@code trusted} (key ids): signed with a key it trusts that
     * is not retired — the current key if it trusts that, else the most recently used previous key
     * it trusts, else the next key — and announcing the current and next keys besides the signer. A
     * device that trusts none of them gets the current key: it will refuse the document and report
     * so, and has to be enrolled again.
     */
    public Plan plan(Set<String> trusted) {
      Key current = current();
      Key signer = current;
      if (!trusted.contains(current.id())) {
        signer =
            keys.stream()
                .filter(k -> k.state() == State.PREVIOUS && trusted.contains(k.id()))
                .max(Comparator.comparing(Key::activatedAt))
                .or(() -> next().filter(k -> trusted.contains(k.id())))
                .orElse(current);
      }
      List<Key> announced = new ArrayList<>();
      for (Key k : next().map(n -> List.of(current, n)).orElse(List.of(current))) {
        if (!k.id().equals(signer.id())) {
          announced.add(k);
        }
      }
      return new Plan(signer, announced);
    }
  }

  private final Path dir;
  private final Clock clock;
  private volatile Ring ring;

  private SigningKeys(Path dir, Clock clock, Ring ring) {
    this.dir = dir;
    this.clock = clock;
    this.ring = ring;
  }

  /**
   * Loads the keys from {@code dir}. On the first start with rotation, the key in {@code
   * signing.key} becomes the current key; on the very first start that key is created.
   *
   * @throws IllegalStateException if the list is inconsistent or a private key is missing
   */
  public static SigningKeys open(Path dir, Clock clock) {
    try {
      SecureFiles.createPrivateDirectories(dir);
      Path list = dir.resolve(LIST);
      if (!Files.exists(list)) {
        adoptFirstKey(dir, clock);
      }
      ListFile f = Json.mapper().readValue(Files.readString(list), ListFile.class);
      return new SigningKeys(dir, clock, load(dir, f));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the signing keys in " + dir, e);
    }
  }

  /** The keys now. */
  public Ring ring() {
    return ring;
  }

  /**
   * Creates the next key. Devices learn it from their next documents, still signed with a key they
   * trust.
   *
   * @throws ControllerException {@code SIGNING_KEY_STATE_CONFLICT} if a rotation is under way
   */
  public synchronized Key startRotation() {
    Ring r = ring;
    r.next()
        .ifPresent(
            n -> {
              throw new ControllerException(
                  ErrorCode.SIGNING_KEY_STATE_CONFLICT,
                  "a rotation is under way already: key "
                      + n.id()
                      + " is the next key; finish it with 'edgefleet signing-key rotate --finish'"
                      + " or abandon it with 'edgefleet signing-key retire "
                      + n.id()
                      + "'");
            });
    KeyPair pair;
    try {
      pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot create an Ed25519 key", e);
    }
    String id = Signatures.keyId(pair.getPublic());
    String file = "signing-" + id + ".key";
    SecureFiles.writeSecret(dir.resolve(file), Pem.privateKey(pair.getPrivate()));
    Instant now = clock.instant();
    List<Entry> entries = new ArrayList<>(entries(r));
    entries.add(
        new Entry(
            id, State.NEXT, now, null, null, Signatures.publicKeyPem(pair.getPublic()), file));
    return save(new ListFile(r.preRotationKey(), entries)).byId(id).orElseThrow();
  }

  /**
   * Makes the next key current; the current key becomes previous and goes on signing for devices
   * that do not trust the new one yet.
   *
   * @throws ControllerException {@code SIGNING_KEY_STATE_CONFLICT} if no rotation is under way
   */
  public synchronized Key finishRotation() {
    Ring r = ring;
    Key next =
        r.next()
            .orElseThrow(
                () ->
                    new ControllerException(
                        ErrorCode.SIGNING_KEY_STATE_CONFLICT,
                        "no rotation is under way; start one with 'edgefleet signing-key rotate'"));
    Instant now = clock.instant();
    List<Entry> entries = new ArrayList<>();
    for (Entry e : entries(r)) {
      if (e.id().equals(next.id())) {
        e = with(e, State.CURRENT, now, null);
      } else if (e.state() == State.CURRENT) {
        e = with(e, State.PREVIOUS, e.activatedAt(), null);
      }
      entries.add(e);
    }
    return save(new ListFile(r.preRotationKey(), entries)).byId(next.id()).orElseThrow();
  }

  /**
   * Retires a next key (abandoning the rotation) or a previous key: nothing is signed with it any
   * more, and its private key is deleted. Whether devices still depend on it is the caller's to
   * check.
   *
   * @throws ControllerException {@code NOT_FOUND} for an unknown id, {@code
   *     SIGNING_KEY_STATE_CONFLICT} for the current key or a retired one
   */
  public synchronized Key retire(String id) {
    Ring r = ring;
    Key key = r.byId(id).orElseThrow(() -> ControllerException.notFound("signing key", id));
    switch (key.state()) {
      case CURRENT ->
          throw new ControllerException(
              ErrorCode.SIGNING_KEY_STATE_CONFLICT,
              "key "
                  + id
                  + " is the current signing key; rotate to a new key first ('edgefleet"
                  + " signing-key rotate', then 'rotate --finish')");
      case RETIRED ->
          throw new ControllerException(
              ErrorCode.SIGNING_KEY_STATE_CONFLICT, "key " + id + " is retired already");
      default -> {}
    }
    Instant now = clock.instant();
    List<Entry> entries = new ArrayList<>();
    String file = null;
    for (Entry e : entries(r)) {
      if (e.id().equals(id)) {
        file = e.privateKeyFile();
        e =
            new Entry(
                e.id(), State.RETIRED, e.createdAt(), e.activatedAt(), now, e.publicKeyPem(), null);
      }
      entries.add(e);
    }
    Key retired = save(new ListFile(r.preRotationKey(), entries)).byId(id).orElseThrow();
    // Only once the list no longer needs it.
    try {
      Files.deleteIfExists(dir.resolve(file));
    } catch (IOException e) {
      throw new UncheckedIOException(
          "key " + id + " is retired but its private key " + dir.resolve(file) + " is left", e);
    }
    return retired;
  }

  private Ring save(ListFile f) {
    Ring loaded = load(dir, f);
    SecureFiles.writeSecret(dir.resolve(LIST), Json.pretty(f) + "\n");
    ring = loaded;
    return loaded;
  }

  private static Entry with(Entry e, State state, Instant activatedAt, Instant retiredAt) {
    return new Entry(
        e.id(), state, e.createdAt(), activatedAt, retiredAt, e.publicKeyPem(), e.privateKeyFile());
  }

  /** The list as stored, in the order keys were created. */
  private static List<Entry> entries(Ring r) {
    List<Entry> out = new ArrayList<>();
    for (Key k : r.keys().reversed()) {
      out.add(
          new Entry(
              k.id(),
              k.state(),
              k.createdAt(),
              k.activatedAt(),
              k.retiredAt(),
              k.publicKeyPem(),
              r.files.get(k.id())));
    }
    return out;
  }

  /** Checks the list and loads the private keys it names. */
  private static Ring load(Path dir, ListFile f) {
    if (f == null || f.keys() == null || f.keys().isEmpty()) {
      throw new IllegalStateException(dir.resolve(LIST) + " lists no signing key");
    }
    List<Key> keys = new ArrayList<>();
    Map<String, PrivateKey> privateKeys = new HashMap<>();
    Map<String, String> files = new LinkedHashMap<>();
    for (Entry e : f.keys()) {
      PublicKey pub = Signatures.publicKey(e.publicKeyPem());
      if (!Signatures.keyId(pub).equals(e.id())) {
        throw new IllegalStateException(
            dir.resolve(LIST) + ": key " + e.id() + " is not the key its id names");
      }
      keys.add(
          new Key(
              e.id(),
              Signatures.fingerprint(pub),
              e.state(),
              e.createdAt(),
              e.activatedAt(),
              e.retiredAt(),
              pub));
      files.put(e.id(), e.privateKeyFile());
      if (e.state() != State.RETIRED) {
        privateKeys.put(e.id(), privateKey(dir, e, pub));
      }
    }
    long current = keys.stream().filter(k -> k.state() == State.CURRENT).count();
    long next = keys.stream().filter(k -> k.state() == State.NEXT).count();
    if (current != 1 || next > 1) {
      throw new IllegalStateException(
          dir.resolve(LIST)
              + " must list exactly one CURRENT key and at most one NEXT key; it lists "
              + current
              + " and "
              + next);
    }
    return new Ring(keys.reversed(), f.preRotationKey(), privateKeys, files);
  }

  private static PrivateKey privateKey(Path dir, Entry e, PublicKey pub) {
    Path file = e.privateKeyFile() == null ? null : dir.resolve(e.privateKeyFile());
    if (file == null || !Files.exists(file)) {
      throw new IllegalStateException(
          "the private key of signing key "
              + e.id()
              + " ("
              + e.state()
              + ") is missing from "
              + dir
              + "; restore "
              + (file == null ? "it" : file.getFileName())
              + " from a backup of the data directory");
    }
    try {
      PrivateKey priv = Pem.privateKey(Files.readString(file), "Ed25519");
      byte[] probe = e.id().getBytes(StandardCharsets.UTF_8);
      if (!Signatures.verify(pub, probe, Signatures.sign(priv, probe))) {
        throw new IllegalStateException(file + " is not the private key of signing key " + e.id());
      }
      return priv;
    } catch (IOException ex) {
      throw new UncheckedIOException("cannot read " + file, ex);
    }
  }

  /** The first start with rotation: the existing key (or a new one) becomes the current key. */
  private static void adoptFirstKey(Path dir, Clock clock) throws IOException {
    Path key = dir.resolve(FIRST_KEY);
    Path pub = dir.resolve(FIRST_PUB);
    PublicKey publicKey;
    Instant created;
    if (Files.exists(key) && Files.exists(pub)) {
      publicKey = Signatures.publicKey(Files.readString(pub));
      created = Files.getLastModifiedTime(key).toInstant();
    } else {
      KeyPair pair;
      try {
        pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("cannot create an Ed25519 key", e);
      }
      SecureFiles.writeSecret(key, Pem.privateKey(pair.getPrivate()));
      SecureFiles.writePublic(pub, Signatures.publicKeyPem(pair.getPublic()));
      publicKey = pair.getPublic();
      created = clock.instant();
    }
    String id = Signatures.keyId(publicKey);
    ListFile f =
        new ListFile(
            id,
            List.of(
                new Entry(
                    id,
                    State.CURRENT,
                    created,
                    created,
                    null,
                    Signatures.publicKeyPem(publicKey),
                    FIRST_KEY)));
    SecureFiles.writeSecret(dir.resolve(LIST), Json.pretty(f) + "\n");
  }
}
