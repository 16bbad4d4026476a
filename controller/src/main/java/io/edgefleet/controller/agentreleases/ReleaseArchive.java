package io.edgefleet.controller.agentreleases;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Checks that an agent release file is what a device can stage: a gzip tar whose entries are
 * regular files and directories only (no links, devices or FIFOs), with relative paths without
 * {@code ..}, at most {@link #MAX_ENTRIES} entries and {@link #MAX_BYTES} unpacked, holding a
 * {@code release.json} at its root and the jars under {@code lib/}. Streams the file; stateless.
 */
public final class ReleaseArchive {
  /** The most bytes a release may hold unpacked: 256 MiB. */
  public static final long MAX_BYTES = 256L * 1024 * 1024;

  /** The most entries a release may hold. */
  public static final int MAX_ENTRIES = 2000;

  /** The largest release.json read. */
  static final int MAX_MANIFEST = 64 * 1024;

  private static final Pattern MAIN_CLASS =
      Pattern.compile("[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)*");

  private ReleaseArchive() {}

  /**
   * Reads and checks the release file.
   *
   * @return its release.json
   * @throws ControllerException {@code AGENT_RELEASE_MALFORMED} naming what is wrong
   */
  public static AgentReleaseManifest check(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return check(in);
    }
  }

  /** Reads and checks a release file from a stream (closed by the caller). */
  public static AgentReleaseManifest check(InputStream raw) throws IOException {
    AgentReleaseManifest manifest = null;
    int entries = 0;
    long bytes = 0;
    int jars = 0;
    Set<String> seen = new HashSet<>();
    try (TarArchiveInputStream tar =
        new TarArchiveInputStream(new GZIPInputStream(new BufferedInputStream(raw), 65536))) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        entries++;
        if (entries > MAX_ENTRIES) {
          throw malformed("it holds more than " + MAX_ENTRIES + " entries");
        }
        String name = normalize(e.getName());
        if (e.isSymbolicLink() || e.isLink()) {
          throw malformed("entry '" + name + "' is a link; a release holds regular files only");
        }
        byte flag = e.getLinkFlag();
        boolean regular = flag == TarArchiveEntry.LF_NORMAL || flag == TarArchiveEntry.LF_OLDNORM;
        if (!(regular && !e.getName().endsWith("/")) && !e.isDirectory()) {
          throw malformed(
              "entry '"
                  + name
                  + "' is not a regular file or directory; a release holds only those");
        }
        if (!seen.add(name)) {
          throw malformed("entry '" + name + "' appears twice");
        }
        if (e.isDirectory()) {
          continue;
        }
        bytes += Math.max(0, e.getSize());
        if (bytes > MAX_BYTES) {
          throw malformed("it unpacks to more than " + MAX_BYTES + " bytes");
        }
        if (name.equals(AgentReleaseManifest.FILE)) {
          if (e.getSize() > MAX_MANIFEST) {
            throw malformed(
                AgentReleaseManifest.FILE + " is larger than " + MAX_MANIFEST + " bytes");
          }
          byte[] json = tar.readNBytes(MAX_MANIFEST + 1);
          try {
            manifest = Json.mapper().readValue(json, AgentReleaseManifest.class);
          } catch (IOException ex) {
            throw malformed(
                AgentReleaseManifest.FILE + " is not a valid release manifest: " + ex.getMessage());
          }
        } else if (name.startsWith("lib/") && name.endsWith(".jar") && name.indexOf('/', 4) < 0) {
          jars++;
        } else {
          throw malformed(
              "entry '"
                  + name
                  + "' does not belong in a release: only release.json and lib/*.jar do");
        }
      }
    } catch (ZipException ex) {
      throw malformed("it is not gzip-compressed (" + ex.getMessage() + ")");
    } catch (IllegalArgumentException | IOException ex) {
      if (ex instanceof ControllerException c) {
        throw c;
      }
      throw malformed("it is not a readable tar.gz (" + ex.getMessage() + ")");
    }
    if (manifest == null) {
      throw malformed("it has no " + AgentReleaseManifest.FILE + " at its root");
    }
    if (manifest.format() != AgentReleaseManifest.FORMAT) {
      throw malformed(
          AgentReleaseManifest.FILE
              + " has format "
              + manifest.format()
              + "; this controller reads format "
              + AgentReleaseManifest.FORMAT);
    }
    if (manifest.mainClass() == null || !MAIN_CLASS.matcher(manifest.mainClass()).matches()) {
      throw malformed(AgentReleaseManifest.FILE + " names no valid mainClass");
    }
    if (jars == 0) {
      throw malformed("it holds no jar under lib/");
    }
    return manifest;
  }

  private static String normalize(String raw) {
    if (raw == null || raw.isEmpty()) {
      throw malformed("an entry has no name");
    }
    String name = raw.startsWith("./") ? raw.substring(2) : raw;
    if (name.endsWith("/")) {
      name = name.substring(0, name.length() - 1);
    }
    if (name.startsWith("/") || name.matches("^[A-Za-z]:.*")) {
      throw malformed("entry '" + raw + "' has an absolute path");
    }
    for (String part : name.split("/", -1)) {
      if (part.equals("..")) {
        throw malformed("entry '" + raw + "' leaves the release directory (..)");
      }
      if (part.isEmpty() && !name.isEmpty()) {
        throw malformed("entry '" + raw + "' has an empty path segment");
      }
    }
    if (name.indexOf('\\') >= 0 || name.indexOf('\0') >= 0) {
      throw malformed("entry '" + raw + "' has a backslash or NUL in its name");
    }
    return name;
  }

  static ControllerException malformed(String why) {
    return new ControllerException(
        ErrorCode.AGENT_RELEASE_MALFORMED,
        "the file is not a valid agent release: "
            + why
            + "; build it with the agent's packaging (edgefleet-agent-<version>-linux-<arch>.tar.gz)");
  }
}
