package io.edgefleet.e2e.agentupdates;

import io.edgefleet.agent.update.Updater;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Downloads a release file by digest as the agent does from the controller: into {@code file.part},
 * resuming with a Range request from what an earlier, cut try left.
 */
final class RangeDownloader implements Updater.Downloader {
  private final String base;

  RangeDownloader(String base) {
    this.base = base;
  }

  @Override
  public void download(String digest, Path file, long maxBytes) throws IOException {
    Path part = file.resolveSibling(file.getFileName() + ".part");
    long have = Files.exists(part) ? Files.size(part) : 0;
    HttpURLConnection c = (HttpURLConnection) URI.create(base + digest).toURL().openConnection();
    if (have > 0) {
      c.setRequestProperty("Range", "bytes=" + have + "-");
    }
    int status = c.getResponseCode();
    if (status != 200 && status != 206) {
      throw new IOException("HTTP " + status);
    }
    boolean append = status == 206;
    try (InputStream in = c.getInputStream();
        OutputStream out =
            Files.newOutputStream(
                part,
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
      byte[] buf = new byte[8192];
      for (int n; (n = in.read(buf)) > 0; ) {
        out.write(buf, 0, n);
        // Flushed as it comes, so a kill leaves what arrived.
        out.flush();
      }
    }
    if (Files.size(part) > maxBytes) {
      throw new IOException("larger than " + maxBytes + " bytes");
    }
    Files.move(part, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
