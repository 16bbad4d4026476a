package io.edgefleet.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code edgefleet cp DEVICE:PATH LOCAL}: copies one regular file from a device through the
 * controller. The file arrives in {@code LOCAL.part} and is renamed when it is whole; a failed copy
 * removes it.
 */
@Command(
    name = "cp",
    description = {
      "Copy a regular file from a device (needs tunnels:files and the device's agent started with"
          + " --allow-file-copy).",
      "LOCAL may be a directory: the file keeps its name there."
    })
final class CopyCommand extends TokenCommand {
  /** The default budget of one copy. */
  static final long DEFAULT_MAX = 64L << 20;

  @Parameters(index = "0", paramLabel = "DEVICE:PATH", description = "e.g. dev-1:/var/log/syslog")
  String source;

  @Parameters(index = "1", paramLabel = "LOCAL", description = "Where to write the file.")
  String local;

  @Option(
      names = "--max-bytes",
      paramLabel = "SIZE",
      description = "Refuse a file larger than this, e.g. 10MiB (default 64MiB).")
  String maxBytes;

  long max;
  String device;
  String path;

  @Override
  void validate() {
    int colon = source.indexOf(':');
    if (colon < 1 || colon == source.length() - 1) {
      throw badInput("the source is DEVICE:PATH, e.g. dev-1:/var/log/syslog, not '" + source + "'");
    }
    device = source.substring(0, colon);
    path = source.substring(colon + 1);
    if (!path.startsWith("/")) {
      throw badInput("the path on the device must be absolute: " + path);
    }
    max = maxBytes == null ? DEFAULT_MAX : size(maxBytes);
  }

  private long size(String text) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("([0-9]{1,15})\\s*(B|KiB|MiB|GiB|K|M|G)?")
            .matcher(text.strip());
    if (!m.matches()) {
      throw badInput("--max-bytes: '" + text + "' is not a size such as 500KiB or 10MiB");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT);
    long factor =
        switch (unit.charAt(0)) {
          case 'K' -> 1L << 10;
          case 'M' -> 1L << 20;
          case 'G' -> 1L << 30;
          default -> 1;
        };
    if (n < 1 || n > (Long.MAX_VALUE / factor)) {
      throw badInput("--max-bytes must be at least 1 byte");
    }
    return n * factor;
  }

  @Override
  void run(ControllerClient api) {
    Invocation caller = Invocation.current();
    Path target = caller.resolve(local);
    if (Files.isDirectory(target)) {
      String name = path.substring(path.lastIndexOf('/') + 1);
      if (name.isEmpty()) {
        throw CliException.usage("the path on the device names no file: " + path);
      }
      target = target.resolve(name);
    }
    Path parent = target.toAbsolutePath().getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      throw CliException.usage("the directory of " + target + " does not exist");
    }
    Path part = target.resolveSibling(target.getFileName() + ".part");
    URI uri =
        URI.create(
            api.server()
                + "/api/v1/devices/"
                + ControllerClient.segment(device)
                + "/files?path="
                + ControllerClient.segment(path)
                + "&maxBytes="
                + max);
    HttpRequest request =
        HttpRequest.newBuilder(uri)
            .header("Authorization", "Bearer " + api.connection().token())
            .GET()
            .build();
    HttpResponse<InputStream> response;
    try {
      response = api.http().send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw ControllerClient.failure(e, api.connection());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliException.failed("interrupted");
    }
    long expected =
        response
            .headers()
            .firstValueAsLong("x-edgefleet-file-size")
            .orElse(response.headers().firstValueAsLong("content-length").orElse(-1));
    PrintWriter err = spec.commandLine().getErr();
    boolean progress = caller.stdoutTerminal() && !json();
    long copied = 0;
    try (InputStream in = response.body()) {
      if (response.statusCode() / 100 != 2) {
        throw ControllerClient.apiError(
            response.statusCode(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
      try (OutputStream out = Files.newOutputStream(part)) {
        byte[] buf = new byte[64 * 1024];
        int n;
        long shown = 0;
        while ((n = in.read(buf)) >= 0) {
          out.write(buf, 0, n);
          copied += n;
          if (copied > max) {
            throw CliException.failed(
                "the device sent more than --max-bytes (" + max + " bytes): the copy was stopped");
          }
          if (progress && copied - shown >= (256 << 10)) {
            shown = copied;
            err.print("\r" + progressText(copied, expected));
            err.flush();
          }
        }
      }
      if (expected >= 0 && copied != expected) {
        throw CliException.failed(
            "the copy broke off after " + copied + " of " + expected + " bytes: run cp again");
      }
      Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      deleteQuietly(part);
      throw CliException.failed(
          "the copy broke off after "
              + copied
              + (expected >= 0 ? " of " + expected : "")
              + " bytes ("
              + (e.getMessage() == null ? e : e.getMessage())
              + "): run cp again");
    } catch (RuntimeException e) {
      deleteQuietly(part);
      throw e;
    } finally {
      if (progress) {
        err.print("\r");
        err.flush();
      }
    }
    if (json()) {
      out()
          .println(
              object()
                  .put("device", device)
                  .put("path", path)
                  .put("file", target.toString())
                  .put("bytes", copied)
                  .toString());
    } else {
      out().println("copied " + device + ":" + path + " to " + target + " (" + copied + " bytes)");
    }
  }

  static String progressText(long copied, long expected) {
    if (expected <= 0) {
      return copied + " bytes";
    }
    return copied + " of " + expected + " bytes (" + (copied * 100 / expected) + "%)";
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // left behind; named .part
    }
  }
}
