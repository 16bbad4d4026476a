package io.edgefleet.agent.shell;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.edgefleet.agent.tunnel.StreamHandler;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tunnel.TunnelException;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The {@code file} kind ({@code edgefleet cp}): sends one regular file named by the stream param
 * {@code path}. CONTROL {@code {"size": N}} comes first so the receiver can show progress and knows
 * when the copy is whole; then N bytes of DATA and FIN. Refused with a clear code before a byte is
 * sent when the device does not allow copies ({@code FILE_COPY_DISABLED}, agent option {@code
 * --allow-file-copy}), the path is not a regular file, cannot be read or is larger than the
 * stream's byte budget (see {@link FileSource}). A file that shrinks while it is sent resets the
 * stream.
 */
public final class FileHandler implements StreamHandler {
  private final boolean allowed;

  public FileHandler(boolean allowed) {
    this.allowed = allowed;
  }

  @Override
  public void open(TunnelStream s) throws Exception {
    if (!allowed) {
      throw new TunnelException(
          ErrorCode.FILE_COPY_DISABLED,
          "this device does not allow copying files: its owner starts the agent with"
              + " --allow-file-copy to allow it");
    }
    FileSource.Opened file;
    try {
      file = FileSource.open(s.params().get("path"), s.budget());
    } catch (StreamRefusal e) {
      throw new TunnelException(e.code(), e.getMessage());
    }
    try (InputStream in = file.in()) {
      s.control(JsonNodeFactory.instance.objectNode().put("size", file.size()));
      OutputStream out = s.output();
      byte[] buf = new byte[16 * 1024];
      long left = file.size();
      while (left > 0) {
        int n = in.read(buf, 0, (int) Math.min(buf.length, left));
        if (n < 0) {
          throw new TunnelException(
              ErrorCode.FILE_UNREADABLE,
              file.path() + " became shorter while it was copied: copy it again");
        }
        out.write(buf, 0, n);
        left -= n;
      }
      out.flush();
    }
  }
}
