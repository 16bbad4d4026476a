package io.edgefleet.protocol.tls;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * The few DER (X.690) encodings a device needs to write a certificate request and to read the
 * private-key formats a kubeconfig holds, with the JDK alone: a device does not load a general
 * ASN.1 library for that. Writing composes byte arrays; reading walks tag-length-value elements and
 * refuses anything malformed (lengths past the end, indefinite or over-long lengths).
 */
public final class Der {
  public static final int INTEGER = 0x02;
  public static final int BIT_STRING = 0x03;
  public static final int OCTET_STRING = 0x04;
  public static final int NULL = 0x05;
  public static final int OID = 0x06;
  public static final int SEQUENCE = 0x30;
  public static final int SET = 0x31;

  private Der() {}

  /** An element with {@code tag} and {@code content}. */
  public static byte[] element(int tag, byte[] content) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 6);
    out.write(tag);
    int n = content.length;
    if (n < 0x80) {
      out.write(n);
    } else {
      int bytes = (32 - Integer.numberOfLeadingZeros(n) + 7) / 8;
      out.write(0x80 | bytes);
      for (int i = bytes - 1; i >= 0; i--) {
        out.write(n >>> (8 * i));
      }
    }
    out.writeBytes(content);
    return out.toByteArray();
  }

  public static byte[] sequence(byte[]... parts) {
    return element(SEQUENCE, concat(parts));
  }

  /** A context-specific constructed element {@code [n]} holding {@code parts}. */
  public static byte[] tagged(int n, byte[]... parts) {
    return element(0xa0 | n, concat(parts));
  }

  public static byte[] integer(long value) {
    return element(INTEGER, BigInteger.valueOf(value).toByteArray());
  }

  public static byte[] octets(byte[] value) {
    return element(OCTET_STRING, value);
  }

  /** A BIT STRING of whole bytes (no unused bits). */
  public static byte[] bits(byte[] value) {
    byte[] content = new byte[value.length + 1];
    System.arraycopy(value, 0, content, 1, value.length);
    return element(BIT_STRING, content);
  }

  public static byte[] nullValue() {
    return new byte[] {NULL, 0};
  }

  /** An OBJECT IDENTIFIER from its dotted form, e.g. {@code 1.2.840.10045.2.1}. */
  public static byte[] oid(String dotted) {
    String[] arcs = dotted.split("\\.");
    if (arcs.length < 2) {
      throw new IllegalArgumentException("not an object identifier: " + dotted);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    base128(out, Long.parseLong(arcs[0]) * 40 + Long.parseLong(arcs[1]));
    for (int i = 2; i < arcs.length; i++) {
      base128(out, Long.parseLong(arcs[i]));
    }
    return element(OID, out.toByteArray());
  }

  private static void base128(ByteArrayOutputStream out, long v) {
    int groups = Math.max(1, (64 - Long.numberOfLeadingZeros(v) + 6) / 7);
    for (int g = groups - 1; g >= 0; g--) {
      int b = (int) ((v >>> (7 * g)) & 0x7f);
      out.write(g == 0 ? b : b | 0x80);
    }
  }

  /** The dotted form of an OBJECT IDENTIFIER's content. */
  public static String oidString(byte[] content) {
    StringBuilder s = new StringBuilder();
    long v = 0;
    boolean first = true;
    for (int i = 0; i < content.length; i++) {
      if (v > (Long.MAX_VALUE >>> 7)) {
        throw new IllegalArgumentException("object identifier arc too large");
      }
      v = (v << 7) | (content[i] & 0x7f);
      if ((content[i] & 0x80) == 0) {
        if (first) {
          long top = Math.min(2, v / 40);
          s.append(top).append('.').append(v - top * 40);
          first = false;
        } else {
          s.append('.').append(v);
        }
        v = 0;
      } else if (i == content.length - 1) {
        throw new IllegalArgumentException("object identifier ends inside an arc");
      }
    }
    if (first) {
      throw new IllegalArgumentException("empty object identifier");
    }
    return s.toString();
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** One element read: its tag and content. */
  public record Element(int tag, byte[] content) {
    /** The elements inside a constructed element (a SEQUENCE, a SET, a tagged element). */
    public List<Element> children() {
      return Der.parseAll(content);
    }

    public String oid() {
      expect(OID);
      return oidString(content);
    }

    public BigInteger integer() {
      expect(INTEGER);
      return new BigInteger(content);
    }

    public Element expect(int wanted) {
      if (tag != wanted) {
        throw new IllegalArgumentException(
            "expected DER tag 0x%02x, found 0x%02x".formatted(wanted, tag));
      }
      return this;
    }
  }

  /** The single element {@code der} holds; trailing bytes are refused. */
  public static Element parse(byte[] der) {
    List<Element> all = parseAll(der);
    if (all.size() != 1) {
      throw new IllegalArgumentException("expected one DER element, found " + all.size());
    }
    return all.getFirst();
  }

  /** The consecutive elements of {@code der}. */
  public static List<Element> parseAll(byte[] der) {
    List<Element> out = new ArrayList<>();
    int i = 0;
    while (i < der.length) {
      if (der.length - i < 2) {
        throw new IllegalArgumentException("truncated DER element");
      }
      int tag = der[i++] & 0xff;
      if ((tag & 0x1f) == 0x1f) {
        throw new IllegalArgumentException("multi-byte DER tags are not supported");
      }
      int len = der[i++] & 0xff;
      if (len == 0x80) {
        throw new IllegalArgumentException("indefinite DER length");
      }
      if (len > 0x80) {
        int bytes = len & 0x7f;
        if (bytes > 3 || der.length - i < bytes) {
          throw new IllegalArgumentException("DER length too large or truncated");
        }
        len = 0;
        for (int b = 0; b < bytes; b++) {
          len = (len << 8) | (der[i++] & 0xff);
        }
      }
      if (len > der.length - i) {
        throw new IllegalArgumentException("DER element longer than its input");
      }
      byte[] content = new byte[len];
      System.arraycopy(der, i, content, 0, len);
      i += len;
      out.add(new Element(tag, content));
    }
    return out;
  }
}
