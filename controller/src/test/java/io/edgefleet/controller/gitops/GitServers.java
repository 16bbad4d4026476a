package io.edgefleet.controller.gitops;

import static org.awaitility.Awaitility.await;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
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
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.keyprovider.KeyPairProvider;
import org.apache.sshd.server.Environment;
import org.apache.sshd.server.ExitCallback;
import org.apache.sshd.server.SshServer;
import org.apache.sshd.server.channel.ChannelSession;
import org.apache.sshd.server.command.Command;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jgit.http.server.GitServlet;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.eclipse.jgit.transport.UploadPack;
import org.eclipse.jgit.transport.resolver.FileResolver;

/** Real git servers for integration tests: git daemon, smart HTTP (JGit servlet) and ssh. */
final class GitServers {
  private GitServers() {}

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
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

  /** JGit's smart-HTTP servlet in Jetty, requiring HTTP basic auth with one token. */
  static final class Http implements AutoCloseable {
    private final Server server;
    final AtomicInteger refused = new AtomicInteger();

    Http(Path base, String user, String token) throws Exception {
      server = new Server(new InetSocketAddress("127.0.0.1", 0));
      ServletContextHandler ctx = new ServletContextHandler();
      GitServlet git = new GitServlet();
      git.setRepositoryResolver(new FileResolver<>(base.toFile(), true));
      ctx.addServlet(new ServletHolder(git), "/git/*");
      String expected =
          "Basic "
              + Base64.getEncoder()
                  .encodeToString((user + ":" + token).getBytes(StandardCharsets.UTF_8));
      Filter auth =
          (req, res, chain) -> {
            String given = ((HttpServletRequest) req).getHeader("Authorization");
            if (!expected.equals(given)) {
              refused.incrementAndGet();
              HttpServletResponse r = (HttpServletResponse) res;
              r.setHeader("WWW-Authenticate", "Basic realm=\"git\"");
              r.sendError(401);
              return;
            }
            chain.doFilter(req, res);
          };
      ctx.addFilter(new FilterHolder(auth), "/*", EnumSet.of(DispatcherType.REQUEST));
      server.setHandler(ctx);
      server.start();
    }

    String url(String repo) {
      return "http://127.0.0.1:" + server.getURI().getPort() + "/git/" + repo;
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
                  try (Repository r =
                      new FileRepositoryBuilder()
                          .findGitDir(base.resolve(repo).toFile())
                          .setMustExist(true)
                          .build()) {
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
