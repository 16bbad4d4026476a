package io.edgefleet.protocol.tpm;

import io.edgefleet.protocol.TpmQuote;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A TCG PC Client crypto-agile boot event log (Platform Firmware Profile §10.2): a first
 * TCG_PCR_EVENT in SHA-1 format carrying the "Spec ID Event03" header that lists the digest
 * algorithms, then TCG_PCR_EVENT2 entries, little-endian. Parsing is bounded ({@link
 * TpmQuote#MAX_EVENT_LOG_BYTES}, {@link #MAX_EVENTS}) and refuses anything malformed with a {@link
 * TpmFormatException}; {@link #replay} recomputes the SHA-256 PCRs the log measured into.
 * Immutable.
 */
public final class EventLog {
  /** Most events a log may hold. */
  public static final int MAX_EVENTS = 10_000;

  /** Largest digest an algorithm of the header may declare. */
  private static final int MAX_DIGEST = 64;

  private static final byte[] SPEC_ID = "Spec ID Event03\0".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] STARTUP_LOCALITY =
      "StartupLocality\0".getBytes(StandardCharsets.US_ASCII);

  /**
   * One measurement.
   *
   * @param index position in the log; the Spec ID header is event 0, as tpm2_eventlog counts
   * @param pcr the PCR it was extended into
   * @param type the event type, e.g. {@link EventTypes#EV_SEPARATOR}
   * @param typeName e.g. {@code EV_SEPARATOR}
   * @param sha256 its SHA-256 digest
   * @param description a short printable description of its payload
   */
  public record Event(
      int index, int pcr, long type, String typeName, byte[] sha256, String description) {
    public Event {
      sha256 = sha256.clone();
    }

    /** The digest as lowercase hex. */
    public String sha256Hex() {
      return HexFormat.of().formatHex(sha256);
    }

    /** Whether this event extends its PCR (every type but EV_NO_ACTION). */
    public boolean extendsPcr() {
      return type != EventTypes.EV_NO_ACTION;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Event e
          && index == e.index
          && pcr == e.pcr
          && type == e.type
          && Arrays.equals(sha256, e.sha256)
          && description.equals(e.description);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * index + pcr) + Arrays.hashCode(sha256);
    }

    @Override
    public String toString() {
      return "#" + index + " PCR " + pcr + " " + typeName + " " + sha256Hex() + " " + description;
    }
  }

  /**
   * One difference between a reference log and a log now, for one PCR.
   *
   * @param pcr the PCR
   * @param index the event's index in the log now, or in the reference when removed
   * @param change {@code changed}, {@code added} or {@code removed}
   * @param reference the event in the reference; null when added
   * @param now the event now; null when removed
   */
  public record EventDiff(int pcr, int index, String change, Event reference, Event now) {
    public static final String CHANGED = "changed";
    public static final String ADDED = "added";
    public static final String REMOVED = "removed";

    /** E.g. {@code PCR 7 event 12 changed: EV_EFI_VARIABLE_DRIVER_CONFIG SecureBoot (1 bytes)}. */
    @Override
    public String toString() {
      Event e = now != null ? now : reference;
      return "PCR "
          + pcr
          + " event "
          + index
          + " "
          + change
          + ": "
          + e.typeName()
          + " "
          + e.description();
    }
  }

  private final byte[] bytes;
  private final List<Event> events;
  private final int startupLocality;

  private EventLog(byte[] bytes, List<Event> events, int startupLocality) {
    this.bytes = bytes;
    this.events = List.copyOf(events);
    this.startupLocality = startupLocality;
  }

  /** The events after the Spec ID header, in log order, EV_NO_ACTION included. */
  public List<Event> events() {
    return events;
  }

  /** The locality of TPM2_Startup the log records for PCR 0 (0 when it records none). */
  public int startupLocality() {
    return Math.max(startupLocality, 0);
  }

  private volatile Map<Integer, byte[]> sharedReplay;

  /** The bytes themselves, for the software TPM, which shares them among devices unchanged. */
  byte[] shared() {
    return bytes;
  }

  /** {@link #replay} computed once; its arrays must not be modified. */
  Map<Integer, byte[]> sharedReplay() {
    Map<Integer, byte[]> r = sharedReplay;
    if (r == null) {
      r = Collections.unmodifiableMap(replay());
      sharedReplay = r;
    }
    return r;
  }

  /** The log in its binary form. */
  public byte[] write() {
    return bytes.clone();
  }

  /** Size of {@link #write()} in bytes. */
  public int size() {
    return bytes.length;
  }

  /**
   * The SHA-256 PCR values the log's events extend to, for each PCR with at least one extending
   * event, in PCR order. PCR 0 starts from the startup locality.
   */
  public Map<Integer, byte[]> replay() {
    Map<Integer, byte[]> pcrs = new TreeMap<>();
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (Event e : events) {
        if (!e.extendsPcr()) {
          continue;
        }
        byte[] value = pcrs.get(e.pcr());
        if (value == null) {
          value = new byte[32];
          if (e.pcr() == 0) {
            value[31] = (byte) startupLocality();
          }
        }
        sha.update(value);
        sha.update(e.sha256);
        pcrs.put(e.pcr(), sha.digest());
      }
    } catch (GeneralSecurityException ex) {
      throw new IllegalStateException(ex);
    }
    return pcrs;
  }

  // ------------------------------------------------------------------ parsing

  /**
   * Parses a crypto-agile event log.
   *
   * @throws TpmFormatException when larger than {@link TpmQuote#MAX_EVENT_LOG_BYTES}, with more
   *     than {@link #MAX_EVENTS} events, not crypto-agile, truncated, or with an event that lacks a
   *     SHA-256 digest
   */
  public static EventLog parse(byte[] log) {
    if (log.length > TpmQuote.MAX_EVENT_LOG_BYTES) {
      throw new TpmFormatException(
          "event log of "
              + log.length
              + " bytes; at most "
              + TpmQuote.MAX_EVENT_LOG_BYTES
              + " are accepted");
    }
    Le r = new Le(log);
    r.u32("header PCR index");
    long headerType = r.u32("header event type");
    r.bytes(20, "header SHA-1 digest");
    int headerSize = r.size("header event size");
    byte[] header = r.bytes(headerSize, "Spec ID event");
    if (headerType != EventTypes.EV_NO_ACTION || !startsWith(header, SPEC_ID)) {
      throw new TpmFormatException(
          "not a crypto-agile event log: the first event is not the \"Spec ID Event03\" header"
              + " (SHA-1-only logs are not supported)");
    }
    Map<Integer, Integer> sizes = algorithms(header);
    List<Event> events = new ArrayList<>();
    int locality = -1;
    int index = 1;
    while (r.remaining() > 0) {
      if (r.restIsPadding()) {
        break;
      }
      if (events.size() >= MAX_EVENTS) {
        throw new TpmFormatException("event log has more than " + MAX_EVENTS + " events");
      }
      String at = "event " + index;
      long pcr = r.u32(at + " PCR index");
      if (pcr > 31) {
        throw new TpmFormatException(at + " names PCR " + pcr + "; PCRs are 0 to 31");
      }
      long type = r.u32(at + " type");
      long count = r.u32(at + " digest count");
      if (count > sizes.size()) {
        throw new TpmFormatException(
            at + " has " + count + " digests but the header lists " + sizes.size() + " algorithms");
      }
      byte[] sha256 = null;
      for (int i = 0; i < count; i++) {
        int alg = r.u16(at + " digest algorithm");
        Integer size = sizes.get(alg);
        if (size == null) {
          throw new TpmFormatException(
              at
                  + " has a digest of algorithm 0x"
                  + Integer.toHexString(alg)
                  + " the header does not list");
        }
        byte[] digest = r.bytes(size, at + " digest");
        if (alg == TpmAlg.SHA256) {
          sha256 = digest;
        }
      }
      byte[] data = r.bytes(r.size(at + " event size"), at + " data");
      if (sha256 == null) {
        throw new TpmFormatException(at + " has no SHA-256 digest");
      }
      if (type == EventTypes.EV_NO_ACTION
          && pcr == 0
          && startsWith(data, STARTUP_LOCALITY)
          && data.length > STARTUP_LOCALITY.length) {
        locality = data[STARTUP_LOCALITY.length] & 0xff;
      }
      events.add(
          new Event(
              index,
              (int) pcr,
              type,
              EventTypes.name(type),
              sha256,
              EventDescriptions.describe(type, data)));
      index++;
    }
    return new EventLog(log.clone(), events, locality);
  }

  /** Digest sizes by algorithm id from the Spec ID Event03 header. */
  private static Map<Integer, Integer> algorithms(byte[] header) {
    Le h = new Le(header);
    h.bytes(SPEC_ID.length, "signature");
    h.u32("platform class");
    h.bytes(4, "spec version");
    long n = h.u32("number of algorithms");
    if (n == 0 || n > 16) {
      throw new TpmFormatException("Spec ID header lists " + n + " algorithms; 1 to 16 expected");
    }
    Map<Integer, Integer> sizes = new TreeMap<>();
    for (int i = 0; i < n; i++) {
      int alg = h.u16("algorithm id");
      int size = h.u16("digest size");
      if (size == 0 || size > MAX_DIGEST) {
        throw new TpmFormatException(
            "Spec ID header gives algorithm 0x"
                + Integer.toHexString(alg)
                + " a digest of "
                + size
                + " bytes");
      }
      sizes.put(alg, size);
    }
    if (!Integer.valueOf(32).equals(sizes.get(TpmAlg.SHA256))) {
      throw new TpmFormatException("event log has no SHA-256 digests (Spec ID header)");
    }
    return sizes;
  }

  private static boolean startsWith(byte[] data, byte[] prefix) {
    return data.length >= prefix.length
        && Arrays.equals(data, 0, prefix.length, prefix, 0, prefix.length);
  }

  /** Bounds-checked little-endian reader. */
  private static final class Le {
    private final ByteBuffer b;

    Le(byte[] data) {
      b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    }

    int remaining() {
      return b.remaining();
    }

    private void need(long n, String what) {
      if (n < 0 || n > b.remaining()) {
        throw new TpmFormatException(
            "truncated event log: "
                + what
                + " needs "
                + n
                + " bytes at offset "
                + b.position()
                + ", "
                + b.remaining()
                + " left");
      }
    }

    long u32(String what) {
      need(4, what);
      return b.getInt() & 0xffffffffL;
    }

    int u16(String what) {
      need(2, what);
      return b.getShort() & 0xffff;
    }

    int size(String what) {
      long n = u32(what);
      need(n, what + " of " + n);
      return (int) n;
    }

    byte[] bytes(int n, String what) {
      need(n, what);
      byte[] out = new byte[n];
      b.get(out);
      return out;
    }

    /**
     * Whether what is left is firmware padding: all 0xff, or at least 8 zero bytes (no event has
     * PCR 0, type 0 and nothing else). A shorter run of zeros is a truncated event.
     */
    boolean restIsPadding() {
      int first = b.get(b.position()) & 0xff;
      if (first != 0xff && (first != 0 || b.remaining() < 8)) {
        return false;
      }
      for (int i = b.position(); i < b.limit(); i++) {
        if ((b.get(i) & 0xff) != first) {
          return false;
        }
      }
      return true;
    }
  }

  // ------------------------------------------------------------------ diff

  /**
   * The events that differ between {@code reference} and {@code now}, PCR by PCR: an event of the
   * same type and digest in the same order matches; within a run of differences, events pair up as
   * {@code changed} and the rest are {@code added} or {@code removed}. EV_NO_ACTION events are
   * ignored (they extend nothing).
   */
  public static List<EventDiff> diff(EventLog reference, EventLog now) {
    TreeSet<Integer> pcrs = new TreeSet<>();
    for (Event e : reference.events) {
      if (e.extendsPcr()) {
        pcrs.add(e.pcr());
      }
    }
    for (Event e : now.events) {
      if (e.extendsPcr()) {
        pcrs.add(e.pcr());
      }
    }
    List<EventDiff> out = new ArrayList<>();
    for (int pcr : pcrs) {
      EventDiffs.diff(pcr, reference.inPcr(pcr), now.inPcr(pcr), out);
    }
    return out;
  }

  private List<Event> inPcr(int pcr) {
    List<Event> out = new ArrayList<>();
    for (Event e : events) {
      if (e.pcr() == pcr && e.extendsPcr()) {
        out.add(e);
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ writing

  /** A builder for a crypto-agile log with SHA-256 digests only. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds an event log event by event. Not thread-safe. */
  public static final class Builder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private int events;

    private Builder() {
      ByteBuffer spec = le(SPEC_ID.length + 4 + 4 + 4 + 4 + 1);
      spec.put(SPEC_ID).putInt(0).put((byte) 0).put((byte) 2).put((byte) 0).put((byte) 2);
      spec.putInt(1).putShort((short) TpmAlg.SHA256).putShort((short) 32).put((byte) 0);
      byte[] specBytes = spec.array();
      ByteBuffer header = le(4 + 4 + 20 + 4);
      header.putInt(0).putInt((int) EventTypes.EV_NO_ACTION).put(new byte[20]);
      header.putInt(specBytes.length);
      out.writeBytes(header.array());
      out.writeBytes(specBytes);
    }

    private static ByteBuffer le(int size) {
      return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The EV_NO_ACTION StartupLocality event for PCR 0; add it first. */
    public Builder startupLocality(int locality) {
      byte[] data = Arrays.copyOf(STARTUP_LOCALITY, STARTUP_LOCALITY.length + 1);
      data[STARTUP_LOCALITY.length] = (byte) locality;
      return event(0, EventTypes.EV_NO_ACTION, new byte[32], data);
    }

    /** An event whose digest is the SHA-256 of its payload. */
    public Builder event(int pcr, long type, byte[] data) {
      return event(pcr, type, sha256(data), data);
    }

    /** An event with the given digest (of something other than the payload, e.g. an image). */
    public Builder event(int pcr, long type, byte[] sha256, byte[] data) {
      if (sha256.length != 32) {
        throw new IllegalArgumentException("a SHA-256 digest has 32 bytes");
      }
      if (pcr < 0 || pcr > 23) {
        throw new IllegalArgumentException("PCR " + pcr + " is outside 0..23");
      }
      out.writeBytes(encode(pcr, type, sha256, data));
      events++;
      return this;
    }

    /** One TCG_PCR_EVENT2 with a SHA-256 digest. */
    static byte[] encode(int pcr, long type, byte[] sha256, byte[] data) {
      ByteBuffer e = le(4 + 4 + 4 + 2 + 32 + 4 + data.length);
      e.putInt(pcr).putInt((int) type).putInt(1).putShort((short) TpmAlg.SHA256).put(sha256);
      e.putInt(data.length).put(data);
      return e.array();
    }

    /** An EV_SEPARATOR of four zero bytes. */
    public Builder separator(int pcr) {
      return event(pcr, EventTypes.EV_SEPARATOR, new byte[4]);
    }

    /** A string event (EV_EFI_ACTION, EV_IPL, EV_POST_CODE...), digest over the string. */
    public Builder text(int pcr, long type, String text) {
      return event(pcr, type, text.getBytes(StandardCharsets.US_ASCII));
    }

    /** A UEFI variable measured as UEFI_VARIABLE_DATA (digest over the whole structure). */
    public Builder efiVariable(int pcr, long type, String name, byte[] value) {
      byte[] utf16 = name.getBytes(StandardCharsets.UTF_16LE);
      ByteBuffer v = le(16 + 8 + 8 + utf16.length + value.length);
      v.put(new byte[16]).putLong(name.length()).putLong(value.length).put(utf16).put(value);
      return event(pcr, type, v.array());
    }

    /**
     * An EFI application loaded from {@code path}, measured as EV_EFI_BOOT_SERVICES_APPLICATION
     * with the digest of its image.
     */
    public Builder efiApplication(int pcr, String path, byte[] imageSha256) {
      byte[] name = (path + "\0").getBytes(StandardCharsets.UTF_16LE);
      ByteBuffer devicePath = le(4 + name.length + 4);
      devicePath.put((byte) 4).put((byte) 4).putShort((short) (4 + name.length)).put(name);
      devicePath.put((byte) 0x7f).put((byte) 0xff).putShort((short) 4);
      byte[] dp = devicePath.array();
      ByteBuffer e = le(32 + dp.length);
      e.putLong(0).putLong(0).putLong(0).putLong(dp.length).put(dp);
      return event(pcr, EventTypes.EV_EFI_BOOT_SERVICES_APPLICATION, imageSha256, e.array());
    }

    /** Events added so far, the header not counted. */
    public int size() {
      return events;
    }

    /** The binary log. */
    public byte[] write() {
      return out.toByteArray();
    }

    public EventLog build() {
      return parse(write());
    }
  }

  static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
