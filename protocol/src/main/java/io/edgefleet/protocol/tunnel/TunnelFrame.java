package io.edgefleet.protocol.tunnel;

import java.nio.ByteBuffer;

/**
 * One tunnel frame as it travels in a binary WebSocket message between the agent and the
 * controller: {@code 0x10 type:u8 stream:u32 payload}. The first byte tells tunnel frames apart
 * from the other binary messages of the link (compact telemetry starts with {@code 0x01}).
 *
 * @param type one of the type constants
 * @param stream the stream id, chosen by the controller (a u32, kept here as an int)
 * @param payload the frame's payload (JSON for OPEN, ACCEPT, RESET and CONTROL; raw bytes for DATA;
 *     a u32 for CREDIT; empty for FIN)
 */
public record TunnelFrame(int type, int stream, byte[] payload) {
  /** The first byte of every tunnel frame. */
  public static final byte MARK = 0x10;

  public static final int OPEN = 1;
  public static final int ACCEPT = 2;
  public static final int DATA = 3;
  public static final int CREDIT = 4;
  public static final int FIN = 5;
  public static final int RESET = 6;
  public static final int CONTROL = 7;

  /** Bytes before the payload. */
  public static final int HEADER = 6;

  /** The most raw bytes one DATA frame carries. */
  public static final int MAX_DATA = 16 * 1024;

  /** The most bytes of a JSON payload (OPEN, ACCEPT, RESET, CONTROL). */
  public static final int MAX_JSON = 8 * 1024;

  /** The initial window each side grants, unless OPEN or ACCEPT say otherwise. */
  public static final int DEFAULT_WINDOW = 64 * 1024;

  /** Whether a binary message is a tunnel frame. */
  public static boolean isTunnelFrame(ByteBuffer message) {
    return message.remaining() > 0 && message.get(message.position()) == MARK;
  }

  /** Encodes a frame whose payload is {@code payload[off, off + len)}. */
  public static byte[] encode(int type, int stream, byte[] payload, int off, int len) {
    byte[] out = new byte[HEADER + len];
    out[0] = MARK;
    out[1] = (byte) type;
    out[2] = (byte) (stream >>> 24);
    out[3] = (byte) (stream >>> 16);
    out[4] = (byte) (stream >>> 8);
    out[5] = (byte) stream;
    System.arraycopy(payload, off, out, HEADER, len);
    return out;
  }

  public static byte[] encode(int type, int stream, byte[] payload) {
    return encode(type, stream, payload, 0, payload.length);
  }

  /** A CREDIT frame granting {@code bytes} more. */
  public static byte[] credit(int stream, int bytes) {
    return encode(CREDIT, stream, ByteBuffer.allocate(4).putInt(bytes).array());
  }

  /** This frame as bytes. */
  public byte[] encode() {
    return encode(type, stream, payload);
  }

  /** The credit a CREDIT frame grants. */
  public int credit() throws MalformedException {
    if (payload.length != 4) {
      throw new MalformedException("a CREDIT frame carries 4 bytes, not " + payload.length);
    }
    int c = ByteBuffer.wrap(payload).getInt();
    if (c < 0) {
      throw new MalformedException("a CREDIT frame grants at most 2^31-1 bytes");
    }
    return c;
  }

  /** Reads a frame from a whole binary message; the buffer's position moves to its end. */
  public static TunnelFrame decode(ByteBuffer message) throws MalformedException {
    if (message.remaining() < HEADER) {
      throw new MalformedException(
          "a tunnel frame has at least " + HEADER + " bytes, this one " + message.remaining());
    }
    if (message.get() != MARK) {
      throw new MalformedException("not a tunnel frame (first byte is not 0x10)");
    }
    int type = message.get() & 0xff;
    int stream = message.getInt();
    if (type < OPEN || type > CONTROL) {
      throw new MalformedException("unknown tunnel frame type " + type);
    }
    int len = message.remaining();
    int max = type == DATA ? MAX_DATA : MAX_JSON;
    if (len > max) {
      throw new MalformedException(
          "a tunnel frame of type " + type + " carries at most " + max + " bytes, not " + len);
    }
    byte[] payload = new byte[len];
    message.get(payload);
    return new TunnelFrame(type, stream, payload);
  }

  /** A frame that cannot be read. */
  public static final class MalformedException extends Exception {
    public MalformedException(String message) {
      super(message);
    }
  }
}
