package io.edgefleet.controller.airgap;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.ExportManifest;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Predicate;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Export bundles for sites without a link to the controller ({@link ExportManifest} describes the
 * format). {@link #plan} picks the devices, their signed documents and everything those documents
 * need, and checks the bounds; {@link #write} streams the tar. Thread-safe.
 */
public final class Exports {

  /** Where the bundle's parts come from: the desired state, bundles, blobs and the signing key. */
  public interface Sources {
    /** Every device's tags, by id. */
    Map<String, Map<String, String>> tags();

    /** The signed document the controller serves {@code deviceId} now; empty if it has none. */
    Optional<SignedDesiredState> document(String deviceId);

    /** An app bundle's content, by digest. */
    Optional<String> bundle(String digest);

    /** The size of an artifact's bytes; empty if the controller does not hold them. */
    OptionalLong blobSize(String digest);

    /** Opens an artifact's bytes (held, as {@link #blobSize} said); the caller closes it. */
    InputStream openBlob(String digest) throws IOException;

    /** A signature of {@code data} by the key that signs desired states now. */
    ExportManifest.Signature sign(byte[] data);
  }

  /** What one bundle holds, checked against the limits and ready to write. */
  public record Plan(
      ExportManifest manifest,
      byte[] manifestBytes,
      ExportManifest.Signature signature,
      Map<String, SignedDesiredState> documents,
      Map<String, byte[]> bundles,
      Map<String, Long> blobs,
      long bytes) {}

  private final Sources sources;
  private final ExportLimits limits;
  private final Clock clock;

  public Exports(Sources sources, ExportLimits limits, Clock clock) {
    this.sources = sources;
    this.limits = limits;
    this.clock = clock;
  }

  public ExportLimits limits() {
    return limits;
  }

  /**
   * The bundle for the devices {@code selector} matches among those {@code visible} to the caller.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} for a bad selector, {@code
   *     EXPORT_NO_DEVICES} when no matched device has a desired state, {@code EXPORT_TOO_LARGE}
   *     above a limit, {@code EXPORT_INCOMPLETE} when a blob a document needs is missing
   */
  public Plan plan(String selectorText, Predicate<Map<String, String>> visible) {
    if (selectorText == null || selectorText.isBlank()) {
      throw ControllerException.invalid(
          "devices is required: a tag selector such as site=s1 (or * for every device)");
    }
    Selector selector = Selector.parse("devices", selectorText);
    List<String> ids = new ArrayList<>();
    sources
        .tags()
        .forEach(
            (id, tags) -> {
              if (selector.matches(tags) && visible.test(tags)) {
                ids.add(id);
              }
            });
    if (ids.size() > limits.maxDevices()) {
      throw new ControllerException(
          ErrorCode.EXPORT_TOO_LARGE,
          ids.size()
              + " devices match '"
              + selectorText
              + "', more than the "
              + limits.maxDevices()
              + " one export bundle holds; narrow the selector (for example by site)");
    }
    Map<String, SignedDesiredState> documents = new LinkedHashMap<>();
    Map<String, byte[]> bundles = new LinkedHashMap<>();
    Map<String, Long> blobSizes = new LinkedHashMap<>();
    List<ExportManifest.Device> devices = new ArrayList<>();
    for (String id : ids) {
      if (!ExportManifest.DEVICE_ID.matcher(id).matches()) {
        continue;
      }
      Optional<SignedDesiredState> doc = sources.document(id);
      if (doc.isEmpty()) {
        continue;
      }
      DesiredState state = decode(doc.get());
      documents.put(id, doc.get());
      devices.add(new ExportManifest.Device(id, state.generation()));
      for (DesiredState.DesiredApp app : state.apps()) {
        if (!bundles.containsKey(app.bundle())) {
          String content =
              sources
                  .bundle(app.bundle())
                  .orElseThrow(
                      () ->
                          new ControllerException(
                              ErrorCode.EXPORT_INCOMPLETE,
                              "bundle "
                                  + app.bundle()
                                  + " of app "
                                  + app.name()
                                  + " is missing; try again once the controller has rendered it"));
          bundles.put(app.bundle(), content.getBytes(StandardCharsets.UTF_8));
        }
        app.artifacts().forEach(a -> blobSizes.putIfAbsent(a.digest(), a.size()));
      }
      state.stage().forEach(a -> blobSizes.putIfAbsent(a.digest(), a.size()));
    }
    if (devices.isEmpty()) {
      throw new ControllerException(
          ErrorCode.EXPORT_NO_DEVICES,
          "no device matching '"
              + selectorText
              + "' has a desired state yet; check the selector with `edgefleet devices list`");
    }
    Map<String, Long> blobs = new LinkedHashMap<>();
    List<ArtifactRef> blobRefs = new ArrayList<>();
    long bytes = 0;
    for (SignedDesiredState d : documents.values()) {
      bytes += d.payload().length() + d.signature().length();
    }
    List<ArtifactRef> bundleRefs = new ArrayList<>();
    for (Map.Entry<String, byte[]> b : bundles.entrySet()) {
      bundleRefs.add(new ArtifactRef(b.getKey(), b.getValue().length));
      bytes += b.getValue().length;
    }
    for (Map.Entry<String, Long> b : blobSizes.entrySet()) {
      OptionalLong held = sources.blobSize(b.getKey());
      if (held.isEmpty()) {
        throw new ControllerException(
            ErrorCode.EXPORT_INCOMPLETE,
            "artifact "
                + b.getKey()
                + " is not in the controller's artifact store; push or mirror it again, then"
                + " export");
      }
      long size = held.getAsLong();
      blobs.put(b.getKey(), size);
      blobRefs.add(new ArtifactRef(b.getKey(), size));
      bytes += size;
    }
    if (bytes > limits.maxBytes()) {
      throw new ControllerException(
          ErrorCode.EXPORT_TOO_LARGE,
          "the bundle for '"
              + selectorText
              + "' would hold "
              + bytes
              + " bytes, more than the limit of "
              + limits.maxBytes()
              + "; export fewer devices at a time");
    }
    ExportManifest manifest =
        new ExportManifest(ExportManifest.FORMAT, clock.instant(), devices, bundleRefs, blobRefs);
    byte[] manifestBytes = Json.write(manifest).getBytes(StandardCharsets.UTF_8);
    return new Plan(
        manifest, manifestBytes, sources.sign(manifestBytes), documents, bundles, blobs, bytes);
  }

  /** Writes the plan's tar to {@code out}; the caller closes {@code out}. */
  public void write(Plan plan, OutputStream out) throws IOException {
    TarArchiveOutputStream tar = new TarArchiveOutputStream(out);
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_ERROR);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_ERROR);
    long mtime = plan.manifest().createdAt().toEpochMilli();
    entry(tar, ExportManifest.MANIFEST, plan.manifestBytes(), mtime);
    entry(
        tar,
        ExportManifest.SIGNATURE,
        Json.write(plan.signature()).getBytes(StandardCharsets.UTF_8),
        mtime);
    for (Map.Entry<String, SignedDesiredState> d : plan.documents().entrySet()) {
      entry(
          tar,
          ExportManifest.deviceEntry(d.getKey()),
          Json.write(d.getValue()).getBytes(StandardCharsets.UTF_8),
          mtime);
    }
    for (Map.Entry<String, byte[]> b : plan.bundles().entrySet()) {
      entry(
          tar, ExportManifest.digestEntry(ExportManifest.BUNDLES, b.getKey()), b.getValue(), mtime);
    }
    for (Map.Entry<String, Long> b : plan.blobs().entrySet()) {
      long size = b.getValue();
      TarArchiveEntry e =
          new TarArchiveEntry(ExportManifest.digestEntry(ExportManifest.BLOBS, b.getKey()));
      e.setSize(size);
      e.setModTime(mtime);
      tar.putArchiveEntry(e);
      try (InputStream in = sources.openBlob(b.getKey())) {
        long copied = in.transferTo(tar);
        if (copied != size) {
          throw new IOException("artifact " + b.getKey() + " changed size while it was exported");
        }
      }
      tar.closeArchiveEntry();
      out.flush();
    }
    tar.finish();
    out.flush();
  }

  private static void entry(TarArchiveOutputStream tar, String name, byte[] content, long mtime)
      throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(content.length);
    e.setModTime(mtime);
    tar.putArchiveEntry(e);
    tar.write(content);
    tar.closeArchiveEntry();
  }

  private static DesiredState decode(SignedDesiredState doc) {
    try {
      return Json.mapper().readValue(Base64.getDecoder().decode(doc.payload()), DesiredState.class);
    } catch (IOException | RuntimeException e) {
      throw new ControllerException(
          ErrorCode.INTERNAL, "a stored desired state cannot be read: " + e.getMessage(), e);
    }
  }
}
