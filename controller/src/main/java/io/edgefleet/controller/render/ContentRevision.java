package io.edgefleet.controller.render;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.SortedMap;
import java.util.regex.Pattern;

/**
 * The revision of a Git application: {@code sha256:} and the first {@value #HEX_DIGITS} hex digits
 * of a SHA-256 of its content, so that a commit that does not change an application does not change
 * its revision, and devices neither re-apply it nor report it as updated.
 *
 * <ul>
 *   <li>Plain manifests render to the same YAML for every device: the revision is the start of the
 *       digest of that YAML, i.e. of the bundle every device receives. Comments, formatting, file
 *       layout and files that are not manifests do not count.
 *   <li>A Helm chart renders per device (overrides, {@code ${tag:KEY}}), so no single output stands
 *       for it: the revision is a digest of the chart's files, every one of them, since templates
 *       may read any file. Devices share the revision and may get different bundles, as devices do
 *       for one version of a catalog deployment.
 * </ul>
 *
 * <p>Applications recorded before content revisions have the commit SHA as revision ({@link
 * #isCommitSha}).
 */
public final class ContentRevision {
  /**
   * Hex digits of the digest kept: short enough to read, long enough never to collide in practice.
   */
  public static final int HEX_DIGITS = 12;

  private static final String PREFIX = "sha256:";
  private static final Pattern COMMIT_SHA = Pattern.compile("[0-9a-f]{40}|[0-9a-f]{64}");
  private static final Pattern REVISION = Pattern.compile("sha256:[0-9a-f]{" + HEX_DIGITS + "}");

  private ContentRevision() {}

  /** The revision of rendered output that is the same for every device (plain manifests). */
  static String ofRendered(RenderedApp rendered) {
    return shorten(rendered.digest());
  }

  /** The revision of a chart's files: each path and content, in path order. */
  static String ofFiles(SortedMap<String, byte[]> files) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (Map.Entry<String, byte[]> f : files.entrySet()) {
        // Length-prefixed, so that no two different sets of files feed the same bytes.
        byte[] path = f.getKey().getBytes(StandardCharsets.UTF_8);
        sha.update((path.length + ":").getBytes(StandardCharsets.US_ASCII));
        sha.update(path);
        sha.update((f.getValue().length + ":").getBytes(StandardCharsets.US_ASCII));
        sha.update(f.getValue());
      }
      return PREFIX + HexFormat.of().formatHex(sha.digest()).substring(0, HEX_DIGITS);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code sha256:<64 hex>} shortened to a revision. */
  static String shorten(String digest) {
    if (!digest.startsWith(PREFIX) || digest.length() < PREFIX.length() + HEX_DIGITS) {
      throw new IllegalArgumentException("not a sha256 digest: " + digest);
    }
    return digest.substring(0, PREFIX.length() + HEX_DIGITS);
  }

  /** Whether {@code revision} has the form of a content revision. */
  public static boolean isContentRevision(String revision) {
    return revision != null && REVISION.matcher(revision).matches();
  }

  /**
   * Whether {@code revision} is a full commit SHA: the revision of a Git application recorded
   * before revisions were content digests.
   */
  public static boolean isCommitSha(String revision) {
    return revision != null && COMMIT_SHA.matcher(revision).matches();
  }

  /** The first 12 hex digits of a commit SHA, as Git shows it in brief. */
  public static String shortSha(String sha) {
    return sha == null ? null : sha.substring(0, Math.min(12, sha.length()));
  }
}
