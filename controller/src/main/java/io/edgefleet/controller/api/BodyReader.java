package io.edgefleet.controller.api;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;

/**
 * Reads a request body without holding a thread while the client is slow: chunks are taken as they
 * arrive (Jetty calls back when there are more), up to a byte limit and within an absolute
 * deadline. Exactly one of the two outcomes is called, once, on a Jetty worker thread or (for the
 * deadline) on the timer thread.
 */
final class BodyReader implements Runnable {
  /** How much larger than the limit a body may be and still be read to the end for a clean 413. */
  private static final int DRAIN_FACTOR = 4;

  private final Request request;
  private final int max;
  private final Consumer<byte[]> done;
  private final Consumer<ControllerException> failed;
  private final AtomicBoolean finished = new AtomicBoolean();
  private final ScheduledFuture<?> deadline;
  private byte[] buffer;
  private int size;
  private long seen;

  private BodyReader(
      Request request,
      int max,
      Duration within,
      ScheduledExecutorService timer,
      Consumer<byte[]> done,
      Consumer<ControllerException> failed) {
    this.request = request;
    this.max = max;
    this.done = done;
    this.failed = failed;
    long declared = request.getLength();
    this.buffer = new byte[(int) Math.min(Math.max(declared, 256), max)];
    this.deadline =
        timer.schedule(
            () ->
                finish(
                    new ControllerException(
                        ErrorCode.REQUEST_TIMEOUT,
                        "the request body did not arrive within "
                            + within.toSeconds()
                            + " s; send it faster or in smaller requests")),
            within.toMillis(),
            TimeUnit.MILLISECONDS);
  }

  /**
   * Starts reading; {@code done} gets the body (possibly empty), {@code failed} a coded error (413
   * too large, 408 too slow, 400 broken off).
   */
  static void read(
      Request request,
      int max,
      Duration within,
      ScheduledExecutorService timer,
      Consumer<byte[]> done,
      Consumer<ControllerException> failed) {
    if (request.getLength() > (long) DRAIN_FACTOR * max) {
      failed.accept(tooLarge(max));
      return;
    }
    new BodyReader(request, max, within, timer, done, failed).run();
  }

  @Override
  public void run() {
    while (!finished.get()) {
      Content.Chunk chunk = request.read();
      if (chunk == null) {
        request.demand(this);
        return;
      }
      if (Content.Chunk.isFailure(chunk)) {
        finish(
            new ControllerException(ErrorCode.BAD_REQUEST, "the request body could not be read"));
        return;
      }
      ByteBuffer bytes = chunk.getByteBuffer();
      int n = bytes.remaining();
      seen += n;
      if (seen <= max) {
        if (size + n > buffer.length) {
          buffer =
              Arrays.copyOf(buffer, (int) Math.min(max, Math.max(size + n, 2L * buffer.length)));
        }
        bytes.get(buffer, size, n);
        size += n;
      } else if (seen > (long) DRAIN_FACTOR * max) {
        // Far too large: stop reading; the answer closes the connection.
        chunk.release();
        finish(tooLarge(max));
        return;
      }
      // Moderately oversized bodies are read to the end (and dropped) so that the client sees
      // the 413 rather than a reset while it is still sending.
      chunk.release();
      if (chunk.isLast()) {
        if (seen > max) {
          finish(tooLarge(max));
        } else if (finished.compareAndSet(false, true)) {
          deadline.cancel(false);
          done.accept(size == buffer.length ? buffer : Arrays.copyOf(buffer, size));
        }
        return;
      }
    }
  }

  private void finish(ControllerException e) {
    if (finished.compareAndSet(false, true)) {
      deadline.cancel(false);
      failed.accept(e);
    }
  }

  static ControllerException tooLarge(int max) {
    return new ControllerException(
        ErrorCode.BODY_TOO_LARGE, "the request body is larger than " + max + " bytes");
  }
}
