package io.edgefleet.device.tpm;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The raw data channel of a software TPM (swtpm {@code --server type=tcp} or {@code type=unixio}):
 * commands and responses as they are, framed by the size in their header. Every read waits at most
 * {@link #TIMEOUT}, so a hung TPM cannot hold a thread forever.
 */
final class SocketTpmTransport implements TpmTransport {
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  private final String endpoint;
  private final SocketChannel channel;
  private final Selector selector;

  private SocketTpmTransport(String endpoint, SocketChannel channel) throws IOException {
    this.endpoint = endpoint;
    this.channel = channel;
    channel.configureBlocking(false);
    this.selector = Selector.open();
    channel.register(selector, SelectionKey.OP_READ);
  }

  static SocketTpmTransport tcp(String host, int port) throws IOException {
    return connect(
        "tcp://" + host + ":" + port, SocketChannel.open(), new InetSocketAddress(host, port));
  }

  static SocketTpmTransport unix(Path path) throws IOException {
    return connect(
        "unix://" + path,
        SocketChannel.open(StandardProtocolFamily.UNIX),
        UnixDomainSocketAddress.of(path));
  }

  private static SocketTpmTransport connect(String endpoint, SocketChannel ch, SocketAddress to)
      throws IOException {
    try {
      ch.connect(to);
      return new SocketTpmTransport(endpoint, ch);
    } catch (IOException e) {
      ch.close();
      throw new IOException("cannot reach the TPM at " + endpoint + ": " + e.getMessage(), e);
    }
  }

  @Override
  public synchronized byte[] transact(byte[] command) throws IOException {
    ByteBuffer out = ByteBuffer.wrap(command);
    while (out.hasRemaining()) {
      if (channel.write(out) == 0) {
        Thread.onSpinWait();
      }
    }
    byte[] header = new byte[Frames.HEADER];
    fill(ByteBuffer.wrap(header));
    int size = Frames.responseSize(header, endpoint);
    byte[] response = new byte[size];
    System.arraycopy(header, 0, response, 0, Frames.HEADER);
    fill(ByteBuffer.wrap(response, Frames.HEADER, size - Frames.HEADER));
    return response;
  }

  private void fill(ByteBuffer into) throws IOException {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (into.hasRemaining()) {
      int n = channel.read(into);
      if (n < 0) {
        throw new IOException("the TPM at " + endpoint + " closed the connection");
      }
      if (n == 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IOException(
              "the TPM at " + endpoint + " did not answer within " + TIMEOUT.toSeconds() + "s");
        }
        selector.select(Math.max(1, left / 1_000_000));
        selector.selectedKeys().clear();
      }
    }
  }

  @Override
  public boolean resourceManaged() {
    return false;
  }

  @Override
  public String endpoint() {
    return endpoint;
  }

  @Override
  public void close() {
    try {
      selector.close();
      channel.close();
    } catch (IOException e) {
      // Closed either way.
    }
  }
}
