package io.edgefleet.controller.gitops;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PublicKey;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPInputStream;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.keyprovider.KeyPairProvider;
import org.apache.sshd.server.Environment;
import org.apache.sshd.server.ExitCallback;
import org.apache.sshd.server.SshServer;
import org.apache.sshd.server.channel.ChannelSession;
import org.apache.sshd.server.command.Command;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jgit.errors.RepositoryNotFoundException;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.eclipse.jgit.transport.PacketLineOut;
import org.eclipse.jgit.transport.RefAdvertiser;
import org.eclipse.jgit.transport.UploadPack;

/**
 * Real git servers for integration tests: git daemon, smart HTTP and ssh, the latter two JGit's
 * upload-pack.
 */
final class GitServers {
  private GitServers() {}

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The repository {@code name} (a work tree or a bare repository) under {@code base}. */
  static Repository open(Path base, String name) throws IOException {
    Path root = base.toAbsolutePath().normalize();
    Path dir = root.resolve(name).normalize();
    if (!dir.startsWith(root) || dir.equals(root)) {
      throw new RepositoryNotFoundException(name);
    }
    return new FileRepositoryBuilder().findGitDir(dir.toFile()).setMustExist(true).build();
  }

  /** {@code git daemon} serving every repository under {@code base} on a loopback port. */
  static final class Daemon implements AutoCloseable {
    private final Process process;
    private final int port;

    Daemon(Path base) throws IOException {
      this.port = freePort();
      this.process =
          new ProcessBuilder(
                  "git",
                  "daemon",
                  "--reuseaddr",
                  "--export-all",
                  "--informative-errors",
                  "--listen=127.0.0.1",
                  "--port=" + port,
                  "--base-path=" + base.toAbsolutePath(),
                  base.toAbsolutePath().toString())
              .redirectErrorStream(true)
              .redirectOutput(base.resolve("git-daemon.log").toFile())
              .start();
      await()
          .atMost(Duration.ofSeconds(20))
          .ignoreExceptions()
          .until(
              () -> {
                try (Socket s = new Socket("127.0.0.1", port)) {
                  return true;
                }
              });
    }

    String url(String repo) {
      return "git://127.0.0.1:" + port + "/" + repo;
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      process.waitFor();
    }
  }

  /**
   * Git's smart HTTP protocol (upload-pack, protocol v0 and v2) served by JGit's {@link UploadPack}
   * behind a Jetty handler, requiring HTTP basic auth with one token.
   */
  static final class Http implements AutoCloseable {
    private static final String PREFIX = "/git/";
    private static final String INFO_REFS = "/info/refs";
    private static final String UPLOAD_PACK = "git-upload-pack";

    private final Server server;
    final AtomicInteger refused = new AtomicInteger();

    Http(Path base, String user, String token) throws Exception {
      String expected =
          "Basic "
              + Base64.getEncoder()
                  .encodeToString((user + ":" + token).getBytes(StandardCharsets.UTF_8));
      server = new Server(new InetSocketAddress("127.0.0.1", 0));
      server.setHandler(
          new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback)
                throws Exception {
              if (!expected.equals(request.getHeaders().get(HttpHeader.AUTHORIZATION))) {
                refused.incrementAndGet();
                response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Basic realm=\"git\"");
                Response.writeError(request, response, callback, 401);
                return true;
              }
              return serve(base, request, response, callback);
            }
          });
      server.start();
    }

    /**
     * {@code GET <repo>/info/refs?service=git-upload-pack} and {@code POST <repo>/git-upload-pack}.
     */
    private static boolean serve(Path base, Request request, Response response, Callback callback)
        throws IOException {
      String path = Request.getPathInContext(request);
      if (!path.startsWith(PREFIX)) {
        return false;
      }
      boolean get = request.getMethod().equals("GET");
      boolean advertise =
          get
              && path.endsWith(INFO_REFS)
              && UPLOAD_PACK.equals(Request.extractQueryParameters(request).getValue("service"));
      boolean upload = !get && path.endsWith("/" + UPLOAD_PACK);
      if (!advertise && !upload) {
        return false;
      }
      String repo =
          path.substring(
              PREFIX.length(),
              path.length() - (advertise ? INFO_REFS : "/" + UPLOAD_PACK).length());
      try (Repository r = open(base, repo);
          UploadPack up = new UploadPack(r)) {
        String protocol = request.getHeaders().get("Git-Protocol");
        if (protocol != null) {
          up.setExtraParameters(List.of(protocol.split(":")));
        }
        up.setBiDirectionalPipe(false);
        response
            .getHeaders()
            .put(
                HttpHeader.CONTENT_TYPE,
                "application/x-" + UPLOAD_PACK + (advertise ? "-advertisement" : "-result"));
        try (OutputStream out = Content.Sink.asOutputStream(response)) {
          if (advertise) {
            up.sendAdvertisedRefs(
                new RefAdvertiser.PacketLineOutRefAdvertiser(new PacketLineOut(out)), UPLOAD_PACK);
          } else {
            InputStream in = Content.Source.asInputStream(request);
            if ("gzip".equals(request.getHeaders().get(HttpHeader.CONTENT_ENCODING))) {
              in = new GZIPInputStream(in);
            }
            up.upload(in, out, null);
          }
        }
        callback.succeeded();
      } catch (RepositoryNotFoundException e) {
        Response.writeError(request, response, callback, 404);
      }
      return true;
    }

    String url(String repo) {
      return "http://127.0.0.1:" + server.getURI().getPort() + PREFIX + repo;
    }

    @Override
    public void close() throws Exception {
      server.stop();
    }
  }

  /** An ssh server that runs {@code git-upload-pack} for repositories under {@code base}. */
  static final class Ssh implements AutoCloseable {
    private final SshServer server;

    Ssh(Path base, KeyPair hostKey, PublicKey allowedUserKey) throws IOException {
      server = SshServer.setUpDefaultServer();
      server.setHost("127.0.0.1");
      server.setPort(0);
      server.setKeyPairProvider(KeyPairProvider.wrap(hostKey));
      server.setPublickeyAuthenticator(
          (user, key, session) -> user.equals("git") && KeyUtils.compareKeys(key, allowedUserKey));
      server.setPasswordAuthenticator(null);
      server.setKeyboardInteractiveAuthenticator(null);
      server.setCommandFactory((channel, command) -> new UploadPackCommand(base, command));
      server.start();
    }

    String url(String repo) {
      return "ssh://git@127.0.0.1:" + server.getPort() + "/" + repo;
    }

    @Override
    public void close() throws IOException {
      server.stop(true);
    }
  }

  private static final class UploadPackCommand implements Command {
    private final Path base;
    private final String command;
    private InputStream in;
    private OutputStream out;
    private OutputStream err;
    private ExitCallback exit;

    UploadPackCommand(Path base, String command) {
      this.base = base;
      this.command = command;
    }

    @Override
    public void setInputStream(InputStream in) {
      this.in = in;
    }

    @Override
    public void setOutputStream(OutputStream out) {
      this.out = out;
    }

    @Override
    public void setErrorStream(OutputStream err) {
      this.err = err;
    }

    @Override
    public void setExitCallback(ExitCallback callback) {
      this.exit = callback;
    }

    @Override
    public void start(ChannelSession channel, Environment env) {
      Thread t =
          new Thread(
              () -> {
                int status = 0;
                List<String> parts = List.of(command.split(" ", 2));
                if (parts.size() != 2 || !parts.get(0).equals("git-upload-pack")) {
                  status = 1;
                } else {
                  String repo = parts.get(1).replace("'", "").replaceAll("^/+", "");
                  try (Repository r = open(base, repo)) {
                    new UploadPack(r).upload(in, out, err);
                  } catch (IOException e) {
                    status = 1;
                  }
                }
                try {
                  out.flush();
                } catch (IOException e) {
                  // The client went away.
                }
                exit.onExit(status);
              },
              "test-upload-pack");
      t.setDaemon(true);
      t.start();
    }

    @Override
    public void destroy(ChannelSession channel) {}
  }
}
