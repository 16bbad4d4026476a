package io.edgefleet.agent.airgap;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.artifacts.BlobCache;
import io.edgefleet.agent.desiredstate.DesiredStateStore;
import io.edgefleet.device.desiredstate.DesiredStateCheck;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.ExportManifest;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.io.InputStream;
import java.security.PublicKey;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Reads an export bundle ({@link ExportManifest}) for this device from a stream, in one pass and
 * with bounded memory, and verifies it with the rules of a document from the link: the manifest's
 * signature by a key the device trusts, then this device's document by {@link
 * DesiredStateCheck#verify} (trusted key, this device's id, a generation above the one held). The
 * bundles and blobs that document needs are checked against their digests as they are copied into
 * the desired-state store and the blob cache. Sizes in the manifest are never trusted: a blob must
 * have exactly the size the signed document gives it.
 *
 * <p>A refused bundle leaves the document in effect unchanged. Blobs and bundles copied before the
 * refusal stay only as verified, content-addressed files no document references; the caches drop
 * them. One importer serves one import at a time.
 */
public final class BundleImporter {
  /** Bounds on what an archive may make the importer read into memory or walk through. */
  public record Limits(
      int maxEntries, int maxManifestBytes, int maxDocumentBytes, int maxBundleBytes) {
    public static Limits defaults() {
      return new Limits(100_000, 16 << 20, 4 << 20, 64 << 20);
    }
  }

  /** What was imported, for the device's report to the controller. */
  public record Imported(Verified verified, ExportManifest manifest, int bundles, int blobs) {
    /** One line for people and for the audit log. */
    public String summary() {
      return "imported desired state generation "
          + verified.state().generation()
          + " from an export bundle written "
          + manifest.createdAt()
          + " ("
          + verified.state().apps().size()
          + " app(s), "
          + bundles
          + " bundle(s) and "
          + blobs
          + " artifact(s) copied, signed by "
          + verified.signer()
          + ")";
    }
  }

  private static final Pattern NAMES =
      Pattern.compile(
          "manifest\\.json|manifest\\.sig|devices/[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\.json"
              + "|bundles/[0-9a-f]{64}|blobs/[0-9a-f]{64}");
  private static final int MAX_SIGNATURE_BYTES = 4096;

  private final DesiredStateStore store;
  private final BlobCache blobs;
  private final Limits limits;

  public BundleImporter(DesiredStateStore store, BlobCache blobs, Limits limits) {
    this.store = store;
    this.blobs = blobs;
    this.limits = limits;
  }

  /**
   * A source for {@link Agent#importDocument} reading the bundle from {@code in}; the result of the
   * read is handed to {@code done} once the document is verified and its parts are stored.
   */
  public Agent.DocumentSource from(InputStream in, java.util.function.Consumer<Imported> done) {
    return (deviceId, trusted, held) -> {
      Imported i = read(in, deviceId, trusted, held);
      done.accept(i);
      return i.verified();
    };
  }

  /**
   * Reads and verifies the bundle for {@code deviceId}.
   *
   * @throws Refused with a message saying what is wrong and what to do
   */
  public Imported read(InputStream in, String deviceId, TrustedKeys trusted, long held)
      throws Refused, IOException {
    TarReader tar = new TarReader(in, NAMES, limits.maxEntries());
    try {
      return read(tar, deviceId, trusted, held);
    } catch (TarReader.Malformed | java.io.EOFException e) {
      throw new Refused(
          "import-malformed",
          "refused the export bundle: " + e.getMessage() + "; copy the file again from the source");
    }
  }

  private Imported read(TarReader tar, String deviceId, TrustedKeys trusted, long held)
      throws Refused, IOException {
    TarReader.Entry first = expect(tar, ExportManifest.MANIFEST);
    byte[] manifestBytes = bounded(first, limits.maxManifestBytes(), "the manifest");
    TarReader.Entry second = expect(tar, ExportManifest.SIGNATURE);
    ExportManifest.Signature sig =
        json(bounded(second, MAX_SIGNATURE_BYTES, "the signature"), ExportManifest.Signature.class);
    verifyManifest(manifestBytes, sig, trusted);
    ExportManifest manifest = json(manifestBytes, ExportManifest.class);
    if (manifest.format() != ExportManifest.FORMAT) {
      throw new Refused(
          "import-malformed",
          "refused an export bundle of format "
              + manifest.format()
              + "; this agent reads format "
              + ExportManifest.FORMAT
              + ": update the agent or export with a matching controller");
    }
    if (manifest.devices().stream().noneMatch(d -> deviceId.equals(d.deviceId()))) {
      throw new Refused(
          "import-not-for-this-device",
          "the export bundle holds no desired state for this device ("
              + deviceId
              + "); it holds "
              + manifest.devices().stream()
                  .map(ExportManifest.Device::deviceId)
                  .limit(10)
                  .collect(Collectors.joining(", "))
              + (manifest.devices().size() > 10 ? ", …" : "")
              + ". Export again with a selector that matches this device");
    }
    Verified verified = null;
    Map<String, Long> neededBlobs = new LinkedHashMap<>();
    Map<String, Boolean> neededBundles = new LinkedHashMap<>();
    int bundlesCopied = 0;
    int blobsCopied = 0;
    String mine = ExportManifest.deviceEntry(deviceId);
    Optional<TarReader.Entry> next;
    while ((next = tar.next()).isPresent()) {
      TarReader.Entry e = next.get();
      String name = e.name();
      if (name.equals(ExportManifest.MANIFEST) || name.equals(ExportManifest.SIGNATURE)) {
        throw new Refused("import-malformed", "refused the export bundle: a second " + name);
      }
      if (name.startsWith(ExportManifest.DEVICES)) {
        if (!name.equals(mine)) {
          continue;
        }
        if (verified != null) {
          throw new Refused(
              "import-malformed", "refused the export bundle: two documents for this device");
        }
        SignedDesiredState doc =
            json(bounded(e, limits.maxDocumentBytes(), "the document"), SignedDesiredState.class);
        verified = DesiredStateCheck.verify(doc, trusted, deviceId, held);
        for (DesiredState.DesiredApp app : verified.state().apps()) {
          neededBundles.putIfAbsent(app.bundle(), store.hasBundle(app.bundle()));
          app.artifacts().forEach(a -> neededBlobs.putIfAbsent(a.digest(), a.size()));
        }
        verified.state().stage().forEach(a -> neededBlobs.putIfAbsent(a.digest(), a.size()));
        continue;
      }
      if (verified == null) {
        throw new Refused(
            "import-malformed",
            "refused the export bundle: "
                + name
                + " comes before this device's document, which a bundle lists first");
      }
      String digest = "sha256:" + name.substring(name.indexOf('/') + 1);
      if (name.startsWith(ExportManifest.BUNDLES)) {
        if (Boolean.FALSE.equals(neededBundles.get(digest))) {
          byte[] content = bounded(e, limits.maxBundleBytes(), "bundle " + digest);
          try {
            store.saveBundle(digest, content);
          } catch (Refused r) {
            throw new Refused(
                "import-digest-mismatch",
                "refused the export bundle: bundle "
                    + digest
                    + " does not match its digest, so the file is damaged or was altered; copy"
                    + " it again from the source or export a new one");
          }
          neededBundles.put(digest, true);
          bundlesCopied++;
        }
        continue;
      }
      Long size = neededBlobs.get(digest);
      if (size != null && !blobs.holds(digest, size)) {
        if (e.size() != size || !blobs.put(digest, size, e.content())) {
          throw new Refused(
              "import-digest-mismatch",
              "refused the export bundle: artifact "
                  + digest
                  + " does not match its digest or size, so the file is damaged or was altered;"
                  + " copy it again from the source or export a new one");
        }
        blobsCopied++;
      }
    }
    if (verified == null) {
      throw new Refused(
          "import-malformed",
          "refused the export bundle: its manifest lists this device but it holds no document"
              + " for it; the file is cut short or was altered");
    }
    for (Map.Entry<String, Boolean> b : neededBundles.entrySet()) {
      if (!b.getValue()) {
        throw new Refused(
            "import-incomplete",
            "refused the export bundle: it lacks bundle " + b.getKey() + " this device needs");
      }
    }
    for (Map.Entry<String, Long> b : neededBlobs.entrySet()) {
      if (!blobs.holds(b.getKey(), b.getValue())) {
        throw new Refused(
            "import-incomplete",
            "refused the export bundle: it lacks artifact " + b.getKey() + " this device needs");
      }
    }
    return new Imported(verified, manifest, bundlesCopied, blobsCopied);
  }

  private static void verifyManifest(
      byte[] manifest, ExportManifest.Signature sig, TrustedKeys trusted) throws Refused {
    if (sig == null || sig.keyId() == null || sig.signature() == null) {
      throw new Refused(
          "import-bad-signature", "refused the export bundle: its signature is empty");
    }
    Optional<PublicKey> key = trusted.get(sig.keyId());
    if (key.isEmpty()) {
      throw new Refused(
          "import-unknown-key",
          "refused the export bundle: it is signed with key "
              + sig.keyId()
              + ", which this device does not trust (it trusts "
              + (trusted.isEmpty() ? "no key" : trusted.toString())
              + "); export it from the controller this device is enrolled with");
    }
    if (!Signatures.verify(key.get(), manifest, sig.signature())) {
      throw new Refused(
          "import-bad-signature",
          "refused the export bundle: its manifest does not match the controller's signature, so"
              + " the file is damaged or was altered; copy it again from the source or export a"
              + " new one");
    }
  }

  private static TarReader.Entry expect(TarReader tar, String name) throws Refused, IOException {
    Optional<TarReader.Entry> e = tar.next();
    if (e.isEmpty() || !e.get().name().equals(name)) {
      throw new Refused(
          "import-malformed",
          "refused the file: it is not an export bundle (its entries do not start with "
              + ExportManifest.MANIFEST
              + " and "
              + ExportManifest.SIGNATURE
              + ")");
    }
    return e.get();
  }

  private static byte[] bounded(TarReader.Entry e, int max, String what)
      throws Refused, IOException {
    if (e.size() > max) {
      throw new Refused(
          "import-malformed",
          "refused the export bundle: "
              + what
              + " is "
              + e.size()
              + " bytes (at most "
              + max
              + ")");
    }
    return e.content().readNBytes((int) e.size());
  }

  private static <T> T json(byte[] bytes, Class<T> type) throws Refused {
    try {
      return JsonCodec.read(bytes, type);
    } catch (IOException | RuntimeException e) {
      throw new Refused(
          "import-malformed",
          "refused the export bundle: a " + type.getSimpleName() + " is not readable");
    }
  }
}
