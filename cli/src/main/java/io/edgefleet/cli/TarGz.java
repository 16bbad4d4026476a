package io.edgefleet.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes {@code .tar.gz} archives in the format the controller's catalog reads: regular files only,
 * in the order given, without owners or times (so the same files always give the same bytes), and
 * names longer than a tar header holds in pax headers. Written with Apache Commons Compress.
 * Stateless.
 */
public final class TarGz {
  private TarGz() {}

  /** The files, relative path to content, as a gzip-compressed tar archive in the map's order. */
  public static byte[] write(Map<String, byte[]> files) {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar =
        new TarArchiveOutputStream(new GZIPOutputStream(buf), StandardCharsets.UTF_8.name())) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Map.Entry<String, byte[]> file : files.entrySet()) {
        tar.putArchiveEntry(entry(file.getKey(), file.getValue().length));
        tar.write(file.getValue());
        tar.closeArchiveEntry();
      }
      tar.finish();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write a tar.gz in memory", e);
    }
    return buf.toByteArray();
  }

  /** A regular file's header without owner or time, so equal files give equal archives. */
  private static TarArchiveEntry entry(String name, long size) {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(size);
    e.setMode(0644);
    e.setModTime(0);
    e.setIds(0, 0);
    e.setUserName("");
    e.setGroupName("");
    return e;
  }
}
