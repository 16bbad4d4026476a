package io.edgefleet.protocol.tpm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * A short printable description of an event's payload: the UEFI variable's name, the string an
 * action or boot loader measured, the file path of a loaded EFI application; otherwise its size.
 * Never throws: a payload that does not parse as its type says is described by its size.
 */
final class EventDescriptions {
  static final int MAX_LENGTH = 160;

  private EventDescriptions() {}

  static String describe(long type, byte[] data) {
    try {
      String d = describeOrNull(type, data);
      if (d == null) {
        d = printable(data);
      }
      if (d == null) {
        d = data.length + " bytes";
      }
      return d.length() > MAX_LENGTH ? d.substring(0, MAX_LENGTH - 1) + "…" : d;
    } catch (RuntimeException e) {
      return data.length + " bytes";
    }
  }

  private static String describeOrNull(long type, byte[] data) {
    if (type == EventTypes.EV_NO_ACTION && startsWith(data, "StartupLocality\0")) {
      return data.length > 16 ? "StartupLocality " + (data[16] & 0xff) : "StartupLocality";
    }
    if (type == EventTypes.EV_SEPARATOR) {
      return data.length == 4 && data[0] == 0 && data[1] == 0 && data[2] == 0 && data[3] == 0
          ? "separator"
          : "separator " + HexFormat.of().formatHex(data, 0, Math.min(data.length, 8));
    }
    if (type == EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG
        || type == EventTypes.EV_EFI_VARIABLE_BOOT
        || type == EventTypes.EV_EFI_VARIABLE_BOOT2
        || type == EventTypes.EV_EFI_VARIABLE_AUTHORITY) {
      return variableName(data);
    }
    if (type == EventTypes.EV_EFI_BOOT_SERVICES_APPLICATION
        || type == EventTypes.EV_EFI_BOOT_SERVICES_DRIVER
        || type == EventTypes.EV_EFI_RUNTIME_SERVICES_DRIVER) {
      String path = imagePath(data);
      return path != null ? path : "image";
    }
    if (type == EventTypes.EV_EVENT_TAG && data.length >= 8) {
      ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
      return "tag 0x" + Integer.toHexString(b.getInt()) + ", " + b.getInt() + " bytes";
    }
    if (type == EventTypes.EV_S_CRTM_VERSION) {
      String utf16 = utf16(data);
      if (utf16 != null) {
        return utf16;
      }
    }
    return null;
  }

  /** UEFI_VARIABLE_DATA: GUID, name length, data length, UTF-16 name, data. */
  private static String variableName(byte[] data) {
    ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    b.position(16);
    long nameChars = b.getLong();
    long dataLength = b.getLong();
    if (nameChars < 0 || nameChars > 256 || b.remaining() < nameChars * 2) {
      return null;
    }
    byte[] name = new byte[(int) nameChars * 2];
    b.get(name);
    String n = new String(name, StandardCharsets.UTF_16LE);
    return clean(n) + " (" + dataLength + " bytes)";
  }

  /** UEFI_IMAGE_LOAD_EVENT: the file path node of its device path, if it has one. */
  private static String imagePath(byte[] data) {
    ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    b.position(24);
    long pathLength = b.getLong();
    if (pathLength < 0 || pathLength > b.remaining()) {
      return null;
    }
    int end = b.position() + (int) pathLength;
    StringBuilder path = new StringBuilder();
    while (b.position() + 4 <= end) {
      int nodeType = b.get() & 0xff;
      int subType = b.get() & 0xff;
      int length = b.getShort() & 0xffff;
      if (length < 4 || b.position() - 4 + length > end) {
        break;
      }
      byte[] body = new byte[length - 4];
      b.get(body);
      if (nodeType == 0x7f) {
        break;
      }
      if (nodeType == 4 && subType == 4) {
        String part = clean(new String(body, StandardCharsets.UTF_16LE));
        path.append(path.isEmpty() || part.startsWith("\\") ? "" : "\\").append(part);
      }
    }
    return path.isEmpty() ? null : path.toString();
  }

  private static String utf16(byte[] data) {
    if (data.length < 2 || data.length % 2 != 0) {
      return null;
    }
    String s = clean(new String(data, StandardCharsets.UTF_16LE));
    return s.isEmpty() || !isPrintable(s) ? null : s;
  }

  /** The payload as text when it is printable ASCII (trailing zeros allowed), else null. */
  static String printable(byte[] data) {
    int end = data.length;
    while (end > 0 && data[end - 1] == 0) {
      end--;
    }
    if (end == 0) {
      return null;
    }
    for (int i = 0; i < end; i++) {
      int c = data[i] & 0xff;
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c >= 0x7f) {
        return null;
      }
    }
    return new String(data, 0, end, StandardCharsets.US_ASCII).strip().replaceAll("\\s+", " ");
  }

  private static String clean(String s) {
    int zero = s.indexOf('\0');
    return (zero >= 0 ? s.substring(0, zero) : s).strip();
  }

  private static boolean isPrintable(String s) {
    return s.chars().allMatch(c -> c >= 0x20 && c != 0x7f);
  }

  private static boolean startsWith(byte[] data, String prefix) {
    byte[] p = prefix.getBytes(StandardCharsets.US_ASCII);
    if (data.length < p.length) {
      return false;
    }
    for (int i = 0; i < p.length; i++) {
      if (data[i] != p[i]) {
        return false;
      }
    }
    return true;
  }
}
