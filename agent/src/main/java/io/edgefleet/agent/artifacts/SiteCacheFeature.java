package io.edgefleet.agent.artifacts;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.IdentityStore;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * This device's part in its site's cache, as its desired state says ({@link
 * DesiredState#siteCache()}): the site's cache serves the blobs it holds to its neighbours over the
 * LAN ({@link SiteCacheServer}, on the address of {@code --site-cache-listen}) and reports the URL
 * it serves at; a neighbour fetches from the cache first ({@link SiteCacheSource}). A device that
 * is no longer the cache stops serving. Thread-safe.
 */
public final class SiteCacheFeature implements AgentFeature {

  /**
   * Where the server listens and what it advertises.
   *
   * @param listen the address to bind ({@code 0.0.0.0:7443}); empty: this device never serves
   * @param advertise the URL to report ({@code https://10.0.0.5:7443}); empty: {@code https://} the
   *     listen address, or when that is a wildcard, the address this device reaches the controller
   *     from, and the bound port
   */
  public record Options(
      Optional<InetSocketAddress> listen,
      Optional<String> advertise,
      SiteCacheServer.Limits limits) {

    /** A device that does not serve. */
    public static Options none() {
      return new Options(Optional.empty(), Optional.empty(), SiteCacheServer.Limits.defaults());
    }
  }

  private final Options options;
  private final BlobCache cache;
  private final ArtifactsFeature artifacts;
  private final SiteCacheSource source;
  private final Supplier<Optional<IdentityStore.Identity>> identity;
  private final Callable<String> localAddress;
  private final PrintStream out;

  // Guarded by this.
  private SiteCacheServer server;
  private boolean toldNoListen;
  private boolean closed;

  public SiteCacheFeature(
      Options options,
      BlobCache cache,
      ArtifactsFeature artifacts,
      SiteCacheSource source,
      Supplier<Optional<IdentityStore.Identity>> identity,
      Callable<String> localAddress,
      PrintStream out) {
    this.options = options;
    this.cache = cache;
    this.artifacts = artifacts;
    this.source = source;
    this.identity = identity;
    this.localAddress = localAddress;
    this.out = out;
  }

  // The devices this cache serves, as its desired state names them; null: any of the fleet.
  private volatile Set<String> neighbours;

  /** The feature for {@code agent}. */
  public static SiteCacheFeature forAgent(
      Agent agent,
      Options options,
      BlobCache cache,
      ArtifactsFeature artifacts,
      SiteCacheSource source,
      PrintStream out) {
    return new SiteCacheFeature(
        options,
        cache,
        artifacts,
        source,
        agent::identity,
        () -> agent.controllerAccess().localAddress(),
        out);
  }

  /** Whether the site cache serves device {@code deviceId} (asked at each handshake). */
  boolean admitted(String deviceId) {
    Set<String> told = neighbours;
    return told == null || told.contains(deviceId);
  }

  /** The server while this device serves its site. */
  public synchronized Optional<SiteCacheServer> server() {
    return Optional.ofNullable(server);
  }

  @Override
  public void applied(DesiredState state) {
    DesiredState.SiteCache site = state.siteCache();
    source.use(site);
    // Whom to serve: the neighbours the controller names (null from an older controller: any
    // device of the fleet).
    neighbours = site == null || site.neighbours() == null ? null : Set.copyOf(site.neighbours());
    if (site != null && site.serve()) {
      serve();
    } else {
      stop();
    }
  }

  @Override
  public void connected(Channel channel, ControllerMessage.Welcome welcome) {
    // A server that could not tell its address (no route yet) tells it now.
    synchronized (this) {
      if (server != null) {
        artifacts.serving(url(server.port()).orElse(null));
      }
    }
  }

  private synchronized void serve() {
    if (closed || server != null) {
      return;
    }
    if (options.listen().isEmpty()) {
      if (!toldNoListen) {
        toldNoListen = true;
        out.println(
            "site cache: this device is its site's cache, but the agent was started without"
                + " --site-cache-listen; it serves nothing and its neighbours use the controller");
      }
      return;
    }
    try {
      server =
          SiteCacheServer.start(
              options.listen().get(),
              SiteTls.server(identity, this::admitted),
              cache,
              new SiteCacheServer.Puller() {
                @Override
                public java.util.concurrent.CompletableFuture<Void> pull(String digest) {
                  return artifacts.pull(digest);
                }

                @Override
                public Optional<Long> pulling(String digest) {
                  return artifacts.pulling(digest);
                }
              },
              options.limits(),
              out);
    } catch (IOException | RuntimeException e) {
      out.println(
          "site cache: cannot listen on "
              + options.listen().get()
              + " ("
              + e.getMessage()
              + "); neighbours use the controller");
      return;
    }
    Optional<String> url = url(server.port());
    out.println(
        "site cache: serving blobs on port "
            + server.port()
            + url.map(u -> " as " + u).orElse(" (address not known yet)"));
    artifacts.serving(url.orElse(null));
  }

  private Optional<String> url(int port) {
    if (options.advertise().isPresent()) {
      return options.advertise();
    }
    InetSocketAddress listen = options.listen().orElseThrow();
    String host;
    if (listen.getAddress() != null && !listen.getAddress().isAnyLocalAddress()) {
      host = listen.getAddress().getHostAddress();
    } else {
      try {
        host = localAddress.call();
      } catch (Exception e) {
        return Optional.empty();
      }
    }
    return Optional.of("https://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port);
  }

  private synchronized void stop() {
    if (server != null) {
      server.close();
      server = null;
      artifacts.serving(null);
    }
  }

  @Override
  public void disconnected() {}

  @Override
  public boolean handle(ControllerMessage message) {
    return false;
  }

  @Override
  public void close() {
    synchronized (this) {
      closed = true;
    }
    stop();
  }
}
