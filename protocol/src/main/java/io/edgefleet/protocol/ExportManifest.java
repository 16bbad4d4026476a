package io.edgefleet.protocol;

import java.time.Instant;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The table of contents of an export bundle ({@code .efb}): a tar archive for sites without a link
 * to the controller. Its entries, in this order:
 *
 * <ol>
 *   <li>{@value #MANIFEST}: this record as JSON;
 *   <li>{@value #SIGNATURE}: a {@link Signature} of the manifest's exact bytes by the controller's
 *       desired-state signing key;
 *   <li>{@code devices/<device id>.json}: each device's {@link SignedDesiredState}, exactly the
 *       document the controller serves that device;
 *   <li>{@code bundles/<hex>}: the app bundles those documents reference, named by their digest;
 *   <li>{@code blobs/<hex>}: the artifacts (images, disks) the apps use or stage, by digest.
 * </ol>
 *
 * A reader trusts none of the sizes here: every entry is checked against its digest while read.
 *
 * @param format {@value #FORMAT}
 * @param createdAt when the controller wrote the bundle
 * @param devices the devices in the bundle and the generation of each one's document
 * @param bundles the app bundles, digest and size
 * @param blobs the artifacts, digest and size
 */
public record ExportManifest(
    int format,
    Instant createdAt,
    List<Device> devices,
    List<ArtifactRef> bundles,
    List<ArtifactRef> blobs) {
  public static final int FORMAT = 1;
  public static final String MANIFEST = "manifest.json";
  public static final String SIGNATURE = "manifest.sig";
  public static final String DEVICES = "devices/";
  public static final String BUNDLES = "bundles/";
  public static final String BLOBS = "blobs/";
  public static final String EXTENSION = ".efb";

  /** What a device id in an entry name may look like (it names a file). */
  public static final Pattern DEVICE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  public ExportManifest {
    devices = devices == null ? List.of() : List.copyOf(devices);
    bundles = bundles == null ? List.of() : List.copyOf(bundles);
    blobs = blobs == null ? List.of() : List.copyOf(blobs);
  }

  /** One device of the bundle. */
  public record Device(String deviceId, long generation) {}

  /**
   * The controller's signature of the manifest's bytes.
   *
   * @param keyId the signing key's id, as in {@link SignedDesiredState#keyId()}
   * @param signature base64 Ed25519 signature
   */
  public record Signature(String keyId, String signature) {}

  /** The entry name of a device's document. */
  public static String deviceEntry(String deviceId) {
    return DEVICES + deviceId + ".json";
  }

  /** The entry name of a digest under {@code folder} ({@link #BUNDLES} or {@link #BLOBS}). */
  public static String digestEntry(String folder, String digest) {
    return folder + digest.substring("sha256:".length());
  }
}
