package io.edgefleet.controller.agentreleases;

import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/** Builds agent release files for tests. */
final class ReleaseFiles {
  private ReleaseFiles() {}

  static KeyPair key() throws Exception {
    return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
  }

  static byte[] manifest(String version, String arch) {
    return Json.writeBytes(
        new AgentReleaseManifest(
            AgentReleaseManifest.FORMAT,
            version,
            arch,
            "io.edgefleet.agent.command.AgentMain",
            List.of()));
  }

  /** A well-formed release file of this version and architecture. */
  static byte[] release(String version, String arch) throws IOException {
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put("release.json", manifest(version, arch));
    files.put("lib/edgefleet-agent.jar", ("jar of " + version).getBytes());
    return tar(files, null);
  }

  /** A tar.gz of these regular files, plus one special entry when {@code special} is set. */
  static byte[] tar(Map<String, byte[]> files, TarArchiveEntry special) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(buf))) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Map.Entry<String, byte[]> f : files.entrySet()) {
        TarArchiveEntry e = new TarArchiveEntry(f.getKey(), true);
        e.setSize(f.getValue().length);
        tar.putArchiveEntry(e);
        tar.write(f.getValue());
        tar.closeArchiveEntry();
      }
      if (special != null) {
        tar.putArchiveEntry(special);
        tar.closeArchiveEntry();
      }
      tar.finish();
    }
    return buf.toByteArray();
  }

  static String digest(byte[] b) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  static AgentRelease sign(KeyPair key, String version, String arch, byte[] file) throws Exception {
    return AgentRelease.sign(
        key.getPrivate(), key.getPublic(), version, arch, digest(file), file.length);
  }
}
