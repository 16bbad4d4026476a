package io.edgefleet.device.tpm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * A TPM character device ({@code /dev/tpmrm0}): one write per command, one read returns the whole
 * response.
 */
final class DeviceTpmTransport implements TpmTransport {
  private final Path path;
  private final FileChannel channel;

  private DeviceTpmTransport(Path path, FileChannel channel) {
    this.path = path;
    this.channel = channel;
  }

  static DeviceTpmTransport open(Path path) throws IOException {
    try {
      return new DeviceTpmTransport(
          path, FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE));
    } catch (NoSuchFileException e) {
      throw new IOException("there is no TPM device " + path, e);
    } catch (AccessDeniedException e) {
      throw new IOException(
          "no permission to use the TPM "
              + path
              + ": run the agent as a member of the tss group (or as root)",
          e);
    }
  }

  @Override
  public synchronized byte[] transact(byte[] command) throws IOException {
    ByteBuffer out = ByteBuffer.wrap(command);
    while (out.hasRemaining()) {
      channel.write(out);
    }
    ByteBuffer in = ByteBuffer.allocate(TpmTransport.MAX_RESPONSE + 1);
    int n = channel.read(in);
    if (n < Frames.HEADER) {
      throw new IOException("the TPM " + path + " answered only " + Math.max(n, 0) + " bytes");
    }
    byte[] got = Arrays.copyOf(in.array(), n);
    int size = Frames.responseSize(got, endpoint());
    if (size != n) {
      throw new IOException("the TPM " + path + " announced " + size + " bytes but answered " + n);
    }
    return got;
  }

  @Override
  public boolean resourceManaged() {
    return path.getFileName() != null && path.getFileName().toString().startsWith("tpmrm");
  }

  @Override
  public String endpoint() {
    return path.toString();
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      // Nothing to do: the descriptor is gone either way.
    }
  }
}
