package io.edgefleet.controller.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The web console: a single-page app whose files are resources under one classpath prefix ({@code
 * index.html}, {@code assets/*} and a {@code .gz} sibling of each), read once when the controller
 * starts and served from memory. {@code /} and every console route answer the page; {@code
 * /assets/<file>} answers a file, which never changes under its name. Only the names read at start
 * can be served, so no path reaches anything else on the classpath. Thread-safe.
 */
public final class ConsoleAssets {
  /** Where the console module puts its bundle. */
  public static final String PREFIX = "io/edgefleet/console/";

  /** The first path segments of the console's own pages, all answered with the index page. */
  public static final Set<String> PAGES =
      Set.of("devices", "apps", "rollouts", "alerts", "audit", "signin");

  /** The route label of the page, whatever console route asked for it. */
  public static final String INDEX_ROUTE = "/";

  /** The route label of every asset. */
  public static final String ASSET_ROUTE = "/assets/{file}";

  /** What the pages may load and do: only this origin's files, no inline code. */
  public static final String CONTENT_SECURITY_POLICY =
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
          + " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

  static final String IMMUTABLE = "public, max-age=31536000, immutable";

  /** An asset name as the build writes it: no separators, no escapes, no leading dot. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}");

  private static final int MAX_ASSETS = 1000;

  private static final String MISSING =
      """
      edgefleet controller

      The web console is not part of this build of the controller. The REST API under /api/v1
      works as usual; it is described at /api/v1/openapi.json.

      To include the console, build the controller with its console module (it needs node 20
      and npm): run ./mvnw -B package in the source tree, without -Dconsole.skip=true.
      """;

  /** One file, ready to send: its bytes, compressed bytes (if built) and validators. */
  record File(String contentType, byte[] bytes, byte[] gzip, String etag, String cacheControl) {}

  private final File index;
  private final Map<String, File> assets;
  private final boolean built;

  private ConsoleAssets(File index, Map<String, File> assets, boolean built) {
    this.index = index;
    this.assets = Map.copyOf(assets);
    this.built = built;
  }

  /** The console bundled with the controller, if it was built. */
  public static ConsoleAssets bundled() {
    return load(ConsoleAssets.class.getClassLoader(), PREFIX);
  }

  /**
   * Reads the bundle under {@code prefix} (ending in {@code /}); without an {@code index.html}
   * there, the console answers a page saying it is not part of this build.
   */
  public static ConsoleAssets load(ClassLoader loader, String prefix) {
    byte[] page = read(loader, prefix + "index.html");
    if (page == null) {
      byte[] missing = MISSING.getBytes(StandardCharsets.UTF_8);
      return new ConsoleAssets(
          new File("text/plain; charset=utf-8", missing, null, etag(missing), "no-cache"),
          Map.of(),
          false);
    }
    File index =
        new File(
            "text/html; charset=utf-8",
            page,
            read(loader, prefix + "index.html.gz"),
            etag(page),
            "no-cache");
    Map<String, File> assets = new TreeMap<>();
    for (String name : assetNames(loader, prefix)) {
      if (name.endsWith(".gz") || !NAME.matcher(name).matches()) {
        continue;
      }
      if (assets.size() == MAX_ASSETS) {
        throw new IllegalStateException(
            "the console bundle has more than " + MAX_ASSETS + " assets");
      }
      byte[] bytes = read(loader, prefix + "assets/" + name);
      if (bytes != null) {
        assets.put(
            name,
            new File(
                contentType(name),
                bytes,
                read(loader, prefix + "assets/" + name + ".gz"),
                etag(bytes),
                IMMUTABLE));
      }
    }
    return new ConsoleAssets(index, assets, true);
  }

  /** Whether the console was built into this controller. */
  public boolean built() {
    return built;
  }

  /**
   * The route label of a path the console answers, if it is one: {@link #INDEX_ROUTE} for the page,
   * {@link #ASSET_ROUTE} for an asset it has. Works on the raw (still escaped) path.
   */
  public Optional<String> route(String rawPath) {
    return file(rawPath).map(f -> f == index ? INDEX_ROUTE : ASSET_ROUTE);
  }

  private Optional<File> file(String rawPath) {
    if (rawPath.equals("/")) {
      return Optional.of(index);
    }
    if (rawPath.startsWith("/assets/")) {
      String name = rawPath.substring("/assets/".length());
      return NAME.matcher(name).matches()
          ? Optional.ofNullable(assets.get(name))
          : Optional.empty();
    }
    int end = rawPath.indexOf('/', 1);
    String first = rawPath.substring(1, end < 0 ? rawPath.length() : end);
    return PAGES.contains(first) ? Optional.of(index) : Optional.empty();
  }

  /**
   * Answers a GET or HEAD for a console path.
   *
   * @return false when the path is not the console's (the caller answers it)
   */
  public boolean serve(Request request, Response response, Callback callback) {
    Optional<File> found = file(request.getHttpURI().getPath());
    if (found.isEmpty()) {
      return false;
    }
    File f = found.get();
    HttpFields.Mutable h = response.getHeaders();
    h.put("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    h.put(HttpHeader.CACHE_CONTROL, f.cacheControl());
    h.put(HttpHeader.ETAG, f.etag());
    h.put(HttpHeader.CONTENT_TYPE, f.contentType());
    byte[] body = f.bytes();
    if (f.gzip() != null) {
      h.put(HttpHeader.VARY, "Accept-Encoding");
      if (acceptsGzip(request)) {
        h.put(HttpHeader.CONTENT_ENCODING, "gzip");
        body = f.gzip();
      }
    }
    if (f.etag().equals(request.getHeaders().get(HttpHeader.IF_NONE_MATCH))) {
      response.setStatus(304);
      response.write(true, null, callback);
      return true;
    }
    response.setStatus(200);
    h.put(HttpHeader.CONTENT_LENGTH, body.length);
    boolean head = request.getMethod().equals("HEAD");
    response.write(true, head ? null : ByteBuffer.wrap(body), callback);
    return true;
  }

  static boolean acceptsGzip(Request request) {
    for (String value : request.getHeaders().getValuesList(HttpHeader.ACCEPT_ENCODING)) {
      for (String part : value.split(",")) {
        String[] coding = part.strip().split(";");
        if (coding[0].strip().equalsIgnoreCase("gzip")) {
          boolean refused = coding.length > 1 && coding[1].replace(" ", "").matches("q=0(\\.0*)?");
          return !refused;
        }
      }
    }
    return false;
  }

  static String contentType(String name) {
    String ext = name.substring(name.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
    return switch (ext) {
      case "js", "mjs" -> "text/javascript; charset=utf-8";
      case "css" -> "text/css; charset=utf-8";
      case "html" -> "text/html; charset=utf-8";
      case "json", "map" -> "application/json";
      case "svg" -> "image/svg+xml";
      case "png" -> "image/png";
      case "ico" -> "image/x-icon";
      case "woff2" -> "font/woff2";
      case "txt" -> "text/plain; charset=utf-8";
      default -> "application/octet-stream";
    };
  }

  private static String etag(byte[] bytes) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
      return "\"" + HexFormat.of().formatHex(digest, 0, 16) + "\"";
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] read(ClassLoader loader, String name) {
    try (InputStream in = loader.getResourceAsStream(name)) {
      return in == null ? null : in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + name, e);
    }
  }

  /**
   * The file names directly in the bundle's {@code assets/}, found next to its {@code index.html}
   * (in a directory or a jar, whether or not the jar has entries for directories).
   */
  private static List<String> assetNames(ClassLoader loader, String prefix) {
    List<String> names = new ArrayList<>();
    URL index = loader.getResource(prefix + "index.html");
    String dir = prefix + "assets/";
    if (index == null) {
      return names;
    }
    try {
      if (index.getProtocol().equals("file")) {
        Path assets = Path.of(index.toURI()).resolveSibling("assets");
        if (Files.isDirectory(assets)) {
          try (Stream<Path> files = Files.list(assets)) {
            files.filter(Files::isRegularFile).forEach(p -> names.add(p.getFileName().toString()));
          }
        }
      } else if (index.getProtocol().equals("jar")) {
        JarURLConnection c = (JarURLConnection) index.openConnection();
        c.setUseCaches(false);
        try (JarFile jar = c.getJarFile()) {
          for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
            String entry = e.nextElement().getName();
            if (entry.startsWith(dir)
                && entry.length() > dir.length()
                && entry.indexOf('/', dir.length()) < 0) {
              names.add(entry.substring(dir.length()));
            }
          }
        }
      }
    } catch (IOException | URISyntaxException e) {
      throw new IllegalStateException("cannot list the console's assets under " + dir, e);
    }
    return names;
  }
}
