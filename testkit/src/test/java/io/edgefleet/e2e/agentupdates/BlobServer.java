package io.edgefleet.e2e.agentupdates;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;

/**
 * Serves release files by digest with Range support, as the controller's artifacts route does; it
 * can hold a download after a number of bytes until released, so a test can kill the downloader
 * mid-file.
 */
final class BlobServer implements AutoCloseable {
  private final HttpServer server;
  private final java.util.Map<String, Path> blobs = new java.util.concurrent.ConcurrentHashMap<>();
  final List<String> ranges = new CopyOnWriteArrayList<>();
  volatile long holdAfter = -1;
  final CountDownLatch release = new CountDownLatch(1);

  BlobServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext(
        "/artifacts/",
        ex -> {
          try (ex) {
            String digest = ex.getRequestURI().getPath().substring("/artifacts/".length());
            Path f = blobs.get(digest);
            if (f == null) {
              ex.sendResponseHeaders(404, -1);
              return;
            }
            long size = Files.size(f);
            String range = ex.getRequestHeaders().getFirst("Range");
            ranges.add(range == null ? "" : range);
            long from = 0;
            if (range != null && range.matches("bytes=\\d+-")) {
              from = Long.parseLong(range.substring(6, range.length() - 1));
              ex.getResponseHeaders()
                  .add("Content-Range", "bytes " + from + "-" + (size - 1) + "/" + size);
              ex.sendResponseHeaders(206, size - from);
            } else {
              ex.sendResponseHeaders(200, size);
            }
            try (var in = Files.newInputStream(f);
                OutputStream out = ex.getResponseBody()) {
              in.skipNBytes(from);
              byte[] buf = new byte[8192];
              long sent = from;
              for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
                sent += n;
                if (holdAfter >= 0 && sent >= holdAfter) {
                  out.flush();
                  release.await();
                }
              }
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        });
    server.start();
  }

  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/artifacts/";
  }

  void put(String digest, Path file) {
    blobs.put(digest, file);
  }

  @Override
  public void close() {
    release.countDown();
    server.stop(0);
  }
}
