package io.edgefleet.agent;

import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.json.JsonCodecException;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * The controller as the cluster feature and the artifact cache see it: artifacts downloaded
 * resumably (whole, or by chunk list and range) over the device's mutual-TLS channel, the cluster's
 * join token sealed to the device, and the local address this device reaches the controller from.
 */
final class ClusterAccess implements ControllerAccess {
  /**
   * The largest chunk list read: a 64 GiB artifact in 1 MiB chunks (each digest about 75 bytes of
   * JSON).
   */
  private static final int MAX_CHUNK_LIST = 8 << 20;

  private final Supplier<Transfers> transfers;
  private final Supplier<String> baseUrl;
  private final SecretFetcher fetcher;

  ClusterAccess(Supplier<Transfers> transfers, Supplier<String> baseUrl) {
    this.transfers = transfers;
    this.baseUrl = baseUrl;
    this.fetcher = new SecretFetcher(transfers, baseUrl);
  }

  @Override
  public void download(String digest, Path file, long maxBytes) throws IOException {
    Transfers t = transfers.get();
    if (t == null) {
      throw new IOException("the device has no certificate yet");
    }
    URI uri = URI.create(baseUrl.get() + DeviceApi.ARTIFACTS + digest);
    Transfers.Download d;
    try {
      d = t.download(uri, file, maxBytes).join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      if (cause instanceof Transfers.StatusException s) {
        throw new IOException(
            "the controller answered HTTP "
                + s.answer().status()
                + (s.answer().status() == 404
                    ? " (the artifact is not there: push it with edgefleet artifacts push)"
                    : ""),
            cause);
      }
      throw new IOException(cause.getMessage() == null ? cause.toString() : cause.getMessage(), e);
    }
    if (!d.encoding().isEmpty()) {
      throw new IOException("the artifact arrived with Content-Encoding " + d.encoding());
    }
  }

  @Override
  public ArtifactChunks chunks(String digest) throws IOException {
    Transfers t = transfers();
    URI uri = URI.create(baseUrl.get() + DeviceApi.ARTIFACTS + digest + DeviceApi.CHUNKS_SUFFIX);
    Transfers.Answer a;
    try {
      a = t.exchange(HttpRequest.newBuilder(uri).GET(), MAX_CHUNK_LIST).join();
    } catch (CompletionException e) {
      throw failure(e);
    }
    if (a.status() != 200) {
      throw refused(a);
    }
    try {
      return JsonCodec.read(a.body(), ArtifactChunks.class);
    } catch (JsonCodecException | IllegalArgumentException e) {
      throw new IOException("the controller sent an unreadable chunk list: " + e.getMessage(), e);
    }
  }

  @Override
  public long range(String digest, long from, long end, Receiver receiver) throws IOException {
    Transfers t = transfers();
    URI uri = URI.create(baseUrl.get() + DeviceApi.ARTIFACTS + digest);
    try {
      return t.range(uri, from, end, receiver).join();
    } catch (CompletionException e) {
      throw failure(e);
    }
  }

  private Transfers transfers() throws IOException {
    Transfers t = transfers.get();
    if (t == null) {
      throw new IOException("the device has no certificate yet");
    }
    return t;
  }

  private static IOException failure(CompletionException e) {
    Throwable cause = e.getCause() == null ? e : e.getCause();
    if (cause instanceof Transfers.StatusException s) {
      return refused(s.answer());
    }
    if (cause instanceof IOException io) {
      return io;
    }
    return new IOException(cause.getMessage() == null ? cause.toString() : cause.getMessage(), e);
  }

  private static IOException refused(Transfers.Answer a) {
    return new IOException(
        "the controller answered HTTP "
            + a.status()
            + (a.status() == 404
                ? " (the artifact is not there: push it with edgefleet artifacts push)"
                : ""));
  }

  @Override
  public DeviceSecret token(String cluster, long version) throws IOException {
    return fetcher.clusterToken(cluster, version);
  }

  @Override
  public String localAddress() throws IOException {
    return localAddress(URI.create(baseUrl.get()));
  }

  /** The local address the host routes to {@code controller} from (no packet is sent). */
  static String localAddress(URI controller) throws IOException {
    int port = controller.getPort() > 0 ? controller.getPort() : 443;
    try (DatagramSocket s = new DatagramSocket()) {
      s.connect(new InetSocketAddress(InetAddress.getByName(controller.getHost()), port));
      InetAddress local = s.getLocalAddress();
      if (local == null || local.isAnyLocalAddress()) {
        throw new IOException("no route to " + controller.getHost());
      }
      return local.getHostAddress();
    }
  }
}
