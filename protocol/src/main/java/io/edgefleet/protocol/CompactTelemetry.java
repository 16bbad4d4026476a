package io.edgefleet.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The compact encoding of a telemetry batch: the records of one {@link AgentMessage.TelemetryBatch}
 * in one binary WebSocket message, about a seventh of the JSON (see decision 0011). A controller
 * that takes it lists {@link #ENCODING} in {@code welcome.telemetryEncodings}; agents send JSON to
 * any other controller, and every controller goes on taking JSON from older agents. The controller
 * stores the same records whichever form they came in.
 *
 * <p>Metric names are sent once per connection: a name travels with the id it is given the first
 * time it is used, and later summaries on the same connection send the id only. Each connection
 * starts with an empty dictionary on both sides; the encoder sends a name again until a frame that
 * carried it was acknowledged ({@link Encoder#acknowledged}), and again after an acknowledgement
 * went missing ({@link Encoder#forgetAcknowledged}), so a frame refused as a whole never leaves the
 * two sides disagreeing for longer than one acknowledgement timeout.
 *
 * <p>Wire format, version 1 (varints are LEB128; s-varints zig-zag first; strings are a varint of
 * the UTF-8 length and the bytes; a nullable string stores length + 1, 0 for null):
 *
 * <pre>
 * frame    = 0x01 count:varint record{count}
 * record   = head:byte seq:svarint at:svarint body     seq and at (epoch ms) as differences from
 *                                                       the record before (the first from 0)
 * head     = kind (bits 0-1: 0 metrics, 1 event, 2 loss) | 0x04 partial (metrics only)
 * metrics  = window:svarint count:varint n:varint metric{n}    window = at - from in ms; count is
 *                                                              the usual sample count
 * metric   = key:varint [name:string] vhead:byte [exp:svarint] values [count:varint]
 *            key = id &lt;&lt; 1 | 1 when the name follows (binding id to it for the connection),
 *            id &lt;&lt; 1 otherwise; id 0 with a name is a name bound to nothing
 * vhead    = 0x01 same (min = max = mean = last: one value) | 0x02 own count follows
 *          | 0x04 raw (IEEE-754 doubles, 8 bytes big-endian each) | 0x08 signed differences
 *          | exponent &lt;&lt; 4 (zig-zag exponent 0..14; 15: the exponent follows as an svarint)
 * values   = decimal: min:svarint [max-min, mean-min, last-min: varint, svarint if signed], each
 *            value an integer times 10^exponent with |integer| &lt;= 2^53 and |exponent| &lt;= 22
 *            (so that one IEEE multiplication or division gives back the exact double)
 * event    = kind:nstring severity:byte (0 none, 1 info, 2 warning, 3 error, 4 nstring follows)
 *            app:nstring message:nstring
 * loss     = events:svarint reason:nstring
 * </pre>
 *
 * Values are exact: whatever double a record holds, the decoder gives back the same (agents send
 * seven significant digits, which fit a decimal integer of three to four bytes). Times are
 * milliseconds, what the controller keeps.
 */
public final class CompactTelemetry {
  /** The name of this encoding in {@code welcome.telemetryEncodings}. */
  public static final String ENCODING = "c1";

  /** First byte of a version-1 batch; other values are refused, not guessed at. */
  static final byte BATCH_V1 = 0x01;

  /** Ids of metric names one connection may bind (1 .. MAX_IDS); later names go unbound. */
  public static final int MAX_IDS = 512;

  /** Characters of a metric name; as the controller's validation allows. */
  public static final int MAX_NAME = 200;

  /** Records of one batch; as the controller takes in JSON. */
  public static final int MAX_RECORDS = 1000;

  private static final int KIND_METRICS = 0;
  private static final int KIND_EVENT = 1;
  private static final int KIND_LOSS = 2;
  private static final int PARTIAL = 0x04;

  private static final int SAME = 0x01;
  private static final int COUNT = 0x02;
  private static final int RAW = 0x04;
  private static final int SIGNED = 0x08;
  private static final int EXP_FOLLOWS = 15;

  private static final long MAX_EXACT = 1L << 53;
  private static final int MAX_EXP = 22;
  private static final double[] POW10 = new double[MAX_EXP + 1];

  static {
    double p = 1;
    for (int i = 0; i <= MAX_EXP; i++) {
      POW10[i] = p;
      p *= 10;
    }
  }

  private static final String[] SEVERITIES = {null, "info", "warning", "error"};

  private CompactTelemetry() {}

  /** A frame that cannot be read: truncated, out of bounds, or not this encoding. */
  public static final class MalformedException extends Exception {
    MalformedException(String message) {
      super(message);
    }
  }

  /**
   * One encoded batch and the metric-name ids it carries with their names, to be passed to {@link
   * Encoder#acknowledged} when the controller acknowledged it.
   */
  public record Encoded(byte[] bytes, int records, int[] namedIds) {}

  // ---------------------------------------------------------------- encoder

  /**
   * Encodes batches for one connection; a new connection needs a new encoder. Not thread-safe: the
   * caller serialises (the telemetry feature sends under its lock).
   */
  public static final class Encoder {
    private final Map<String, Integer> ids = new HashMap<>();
    private final BitSet acknowledged = new BitSet();

    /**
     * The batch as one compact frame, or null if a record cannot be carried by it (a missing time
     * or text field, a metric name longer than {@link #MAX_NAME}, more than {@link #MAX_RECORDS}
     * records): the caller then sends that batch as JSON, which the controller judges record by
     * record.
     */
    public Encoded encode(List<Telemetry> batch) {
      if (batch.isEmpty() || batch.size() > MAX_RECORDS) {
        return null;
      }
      Writer w = new Writer(64 + 48 * batch.size());
      w.put(BATCH_V1);
      w.varint(batch.size());
      BitSet named = new BitSet();
      long seq = 0;
      long at = 0;
      for (Telemetry t : batch) {
        if (t == null || t.at() == null) {
          return null;
        }
        long ms = t.at().toEpochMilli();
        int head =
            switch (t) {
              case Telemetry.Metrics m -> KIND_METRICS | (m.partial() ? PARTIAL : 0);
              case Telemetry.DeviceEvent e -> KIND_EVENT;
              case Telemetry.Loss l -> KIND_LOSS;
            };
        w.put((byte) head);
        w.svarint(t.seq() - seq);
        w.svarint(ms - at);
        seq = t.seq();
        at = ms;
        boolean ok =
            switch (t) {
              case Telemetry.Metrics m -> metrics(w, m, ms, named);
              case Telemetry.DeviceEvent e -> event(w, e);
              case Telemetry.Loss l -> {
                w.svarint(l.events());
                w.nstring(l.reason());
                yield true;
              }
            };
        if (!ok) {
          // Names given ids for this frame stay bound in this encoder; they are sent with the
          // next frame that uses them, since none of them was acknowledged.
          return null;
        }
      }
      return new Encoded(w.bytes(), batch.size(), named.stream().toArray());
    }

    private boolean metrics(Writer w, Telemetry.Metrics m, long atMs, BitSet named) {
      if (m.from() == null || m.metrics() == null || m.metrics().isEmpty()) {
        return false;
      }
      w.svarint(atMs - m.from().toEpochMilli());
      long usual = usualCount(m.metrics());
      w.varint(usual);
      w.varint(m.metrics().size());
      for (Map.Entry<String, Telemetry.Stat> e : m.metrics().entrySet()) {
        String name = e.getKey();
        Telemetry.Stat s = e.getValue();
        if (name == null || name.isEmpty() || name.length() > MAX_NAME || s == null) {
          return false;
        }
        Integer id = ids.get(name);
        if (id == null && ids.size() < MAX_IDS) {
          id = ids.size() + 1;
          ids.put(name, id);
        }
        if (id == null) {
          w.varint(1);
          w.string(name);
        } else if (acknowledged.get(id)) {
          w.varint((long) id << 1);
        } else {
          w.varint(((long) id << 1) | 1);
          w.string(name);
          named.set(id);
        }
        stat(w, s, usual);
      }
      return true;
    }

    private static boolean event(Writer w, Telemetry.DeviceEvent e) {
      w.nstring(e.kind());
      int sev = 4;
      for (int i = 0; i < SEVERITIES.length; i++) {
        if (java.util.Objects.equals(SEVERITIES[i], e.severity())) {
          sev = i;
        }
      }
      w.put((byte) sev);
      if (sev == 4) {
        w.nstring(e.severity());
      }
      w.nstring(e.app());
      w.nstring(e.message());
      return true;
    }

    /** The controller stored a frame: its names need not travel again on this connection. */
    public void acknowledged(Encoded frame) {
      for (int id : frame.namedIds()) {
        acknowledged.set(id);
      }
    }

    /**
     * An acknowledgement is overdue: a frame may have been refused as a whole, so every name is
     * sent again with its next use.
     */
    public void forgetAcknowledged() {
      acknowledged.clear();
    }
  }

  /** The sample count most metrics of a summary have, sent once for all of them. */
  private static long usualCount(Map<String, Telemetry.Stat> metrics) {
    Map<Long, Integer> seen = new HashMap<>();
    long best = 0;
    int bestN = 0;
    for (Telemetry.Stat s : metrics.values()) {
      if (s == null) {
        continue;
      }
      int n = seen.merge(s.count(), 1, Integer::sum);
      if (n > bestN) {
        best = s.count();
        bestN = n;
      }
    }
    return Math.max(0, best);
  }

  private static void stat(Writer w, Telemetry.Stat s, long usual) {
    double[] v = {s.min(), s.max(), s.mean(), s.last()};
    boolean same = true;
    for (int i = 1; i < 4; i++) {
      same &= Double.doubleToRawLongBits(v[i]) == Double.doubleToRawLongBits(v[0]);
    }
    int n = same ? 1 : 4;
    boolean ownCount = s.count() != usual || s.count() < 0;
    long[] scaled = new long[n];
    int exp = decimal(v, n, scaled);
    int head = (same ? SAME : 0) | (ownCount ? COUNT : 0);
    if (exp == Integer.MIN_VALUE) {
      w.put((byte) (head | RAW));
      for (int i = 0; i < n; i++) {
        w.putDouble(v[i]);
      }
    } else {
      boolean signed = false;
      long[] diff = new long[n];
      for (int i = 1; i < n; i++) {
        diff[i] = scaled[i] - scaled[0]; // |scaled| <= 2^53: cannot overflow
        signed |= diff[i] < 0;
      }
      int zz = (int) zigzag(exp);
      head |= (signed ? SIGNED : 0) | (Math.min(zz, EXP_FOLLOWS) << 4);
      w.put((byte) head);
      if (zz >= EXP_FOLLOWS) {
        w.svarint(exp);
      }
      w.svarint(scaled[0]);
      for (int i = 1; i < n; i++) {
        if (signed) {
          w.svarint(diff[i]);
        } else {
          w.varint(diff[i]);
        }
      }
    }
    if (ownCount) {
      w.svarint(s.count());
    }
  }

  /**
   * The first {@code n} values as integers times one power of ten, written to {@code scaled};
   * returns the exponent, or {@link Integer#MIN_VALUE} if they must travel as raw doubles.
   */
  private static int decimal(double[] v, int n, long[] scaled) {
    long[] unscaled = new long[n];
    int[] exps = new int[n];
    int exp = Integer.MAX_VALUE;
    for (int i = 0; i < n; i++) {
      double d = v[i];
      if (!Double.isFinite(d) || (d == 0 && Double.doubleToRawLongBits(d) != 0)) {
        return Integer.MIN_VALUE; // NaN, infinities and -0.0 keep their exact bits
      }
      if (d == 0) {
        unscaled[i] = 0;
        exps[i] = Integer.MAX_VALUE;
        continue;
      }
      java.math.BigDecimal b = new java.math.BigDecimal(Double.toString(d)).stripTrailingZeros();
      if (b.precision() > 16) {
        return Integer.MIN_VALUE;
      }
      unscaled[i] = b.unscaledValue().longValue();
      exps[i] = -b.scale();
      exp = Math.min(exp, exps[i]);
    }
    if (exp == Integer.MAX_VALUE) {
      exp = 0; // all zero
    }
    if (exp < -MAX_EXP || exp > MAX_EXP) {
      return Integer.MIN_VALUE;
    }
    for (int i = 0; i < n; i++) {
      long u = unscaled[i];
      if (u != 0) {
        int shift = exps[i] - exp;
        if (shift > 18) {
          return Integer.MIN_VALUE;
        }
        try {
          u = Math.multiplyExact(u, pow10Long(shift));
        } catch (ArithmeticException e) {
          return Integer.MIN_VALUE;
        }
      }
      if (Math.abs(u) > MAX_EXACT || Double.doubleToRawLongBits(value(u, exp)) != bits(v[i])) {
        return Integer.MIN_VALUE;
      }
      scaled[i] = u;
    }
    return exp;
  }

  private static long bits(double d) {
    return Double.doubleToRawLongBits(d);
  }

  private static long pow10Long(int n) {
    long p = 1;
    for (int i = 0; i < n; i++) {
      p *= 10;
    }
    return p;
  }

  /** {@code u × 10^exp} for |u| ≤ 2^53 and |exp| ≤ 22: one correctly rounded IEEE operation. */
  private static double value(long u, int exp) {
    return exp >= 0 ? u * POW10[exp] : u / POW10[-exp];
  }

  // ---------------------------------------------------------------- decoder

  /**
   * Decodes the frames of one connection, keeping the metric names it was told. A frame either
   * decodes whole or changes nothing (names it would bind are bound only when all of it was read).
   * Not thread-safe: frames of one connection arrive one at a time.
   */
  public static final class Decoder {
    private final UnaryOperator<String> intern;
    private String[] names = new String[16];
    private int bound;

    /**
     * @param intern gives the one copy of a name to keep (names repeat across devices)
     */
    public Decoder(UnaryOperator<String> intern) {
      this.intern = intern;
    }

    public Decoder() {
      this(UnaryOperator.identity());
    }

    /** Metric names this connection has bound. */
    public int names() {
      return bound;
    }

    /**
     * The records of a frame.
     *
     * @throws MalformedException if it is not a complete version-1 frame within the limits, or uses
     *     a name id it never bound; nothing is bound then
     */
    public List<Telemetry> decode(ByteBuffer frame) throws MalformedException {
      Reader r = new Reader(frame.slice());
      int type = r.u8();
      if (type != BATCH_V1) {
        throw new MalformedException("unknown compact telemetry frame type " + type);
      }
      long count = r.varint();
      if (count < 1 || count > MAX_RECORDS) {
        throw new MalformedException(
            "a batch holds 1 to " + MAX_RECORDS + " records, this one says " + count);
      }
      Map<Integer, String> pending = new HashMap<>();
      List<Telemetry> out = new ArrayList<>((int) Math.min(count, r.remaining()));
      long seq = 0;
      long at = 0;
      for (long i = 0; i < count; i++) {
        int head = r.u8();
        int kind = head & 0x03;
        if ((head & ~0x07) != 0 || kind == 3 || (kind != KIND_METRICS && (head & PARTIAL) != 0)) {
          throw new MalformedException("record " + (i + 1) + ": unknown record header " + head);
        }
        seq = add(seq, r.svarint());
        at = add(at, r.svarint());
        Instant when = instant(at);
        out.add(
            switch (kind) {
              case KIND_METRICS -> metrics(r, seq, when, (head & PARTIAL) != 0, pending);
              case KIND_EVENT -> event(r, seq, when);
              default -> new Telemetry.Loss(seq, when, r.svarint(), r.nstring());
            });
      }
      if (r.remaining() > 0) {
        throw new MalformedException(r.remaining() + " bytes after the last record");
      }
      pending.forEach(this::bind);
      return out;
    }

    private Telemetry.Metrics metrics(
        Reader r, long seq, Instant at, boolean partial, Map<Integer, String> pending)
        throws MalformedException {
      long window = r.svarint();
      Instant from = instant(at.toEpochMilli() - window);
      long usual = r.varint();
      long n = r.varint();
      if (n > r.remaining() / 3) {
        throw new MalformedException("record " + seq + ": " + n + " metrics cannot fit the frame");
      }
      Map<String, Telemetry.Stat> metrics = new LinkedHashMap<>();
      for (long i = 0; i < n; i++) {
        long key = r.varint();
        long idLong = key >>> 1;
        boolean hasName = (key & 1) != 0;
        if (idLong > MAX_IDS) {
          throw new MalformedException("record " + seq + ": metric id " + idLong + " is too high");
        }
        int id = (int) idLong;
        String name;
        if (hasName) {
          name = r.string(MAX_NAME);
          if (id > 0) {
            String before = pending.containsKey(id) ? pending.get(id) : known(id);
            if (before != null && !before.equals(name)) {
              throw new MalformedException(
                  "record "
                      + seq
                      + ": metric id "
                      + id
                      + " is '"
                      + before
                      + "', not '"
                      + name
                      + "'");
            }
            pending.put(id, name);
          }
        } else {
          name = id == 0 ? null : pending.containsKey(id) ? pending.get(id) : known(id);
          if (name == null) {
            throw new MalformedException(
                "record " + seq + ": metric id " + id + " was never named");
          }
        }
        Telemetry.Stat s = stat(r, usual, seq);
        if (metrics.put(name, s) != null) {
          throw new MalformedException("record " + seq + ": metric " + name + " twice");
        }
      }
      return new Telemetry.Metrics(seq, from, at, metrics, partial);
    }

    private String known(int id) {
      return id < names.length ? names[id] : null;
    }

    private void bind(int id, String name) {
      if (id >= names.length) {
        names = Arrays.copyOf(names, Math.min(MAX_IDS + 1, Math.max(id + 1, names.length * 2)));
      }
      if (names[id] == null) {
        bound++;
      }
      names[id] = intern.apply(name);
    }

    private static Telemetry.DeviceEvent event(Reader r, long seq, Instant at)
        throws MalformedException {
      String kind = r.nstring();
      int sev = r.u8();
      String severity;
      if (sev < SEVERITIES.length) {
        severity = SEVERITIES[sev];
      } else if (sev == 4) {
        severity = r.nstring();
      } else {
        throw new MalformedException("record " + seq + ": unknown severity code " + sev);
      }
      return new Telemetry.DeviceEvent(seq, at, kind, severity, r.nstring(), r.nstring());
    }
  }

  private static Telemetry.Stat stat(Reader r, long usual, long seq) throws MalformedException {
    int head = r.u8();
    boolean same = (head & SAME) != 0;
    int n = same ? 1 : 4;
    double[] v = new double[4];
    if ((head & RAW) != 0) {
      if ((head & (SIGNED | 0xf0)) != 0) {
        throw new MalformedException("record " + seq + ": raw values with an exponent");
      }
      for (int i = 0; i < n; i++) {
        v[i] = r.f64();
      }
    } else {
      if (same && (head & SIGNED) != 0) {
        throw new MalformedException("record " + seq + ": signed differences of one value");
      }
      int zz = head >>> 4;
      long exp = zz == EXP_FOLLOWS ? r.svarint() : unzigzag(zz);
      if (exp < -MAX_EXP || exp > MAX_EXP) {
        throw new MalformedException("record " + seq + ": exponent " + exp + " out of range");
      }
      long first = r.svarint();
      v[0] = exact(first, (int) exp, seq);
      for (int i = 1; i < n; i++) {
        long d = (head & SIGNED) != 0 ? r.svarint() : r.varint();
        if ((head & SIGNED) == 0 && d < 0) {
          throw new MalformedException("record " + seq + ": difference out of range");
        }
        v[i] = exact(add(first, d), (int) exp, seq);
      }
    }
    if (same) {
      v[1] = v[0];
      v[2] = v[0];
      v[3] = v[0];
    }
    long count = (head & COUNT) != 0 ? r.svarint() : usual;
    return new Telemetry.Stat(v[0], v[1], v[2], v[3], count);
  }

  private static double exact(long u, int exp, long seq) throws MalformedException {
    if (u > MAX_EXACT || u < -MAX_EXACT) {
      throw new MalformedException("record " + seq + ": value out of range");
    }
    return value(u, exp);
  }

  private static long add(long a, long b) throws MalformedException {
    try {
      return Math.addExact(a, b);
    } catch (ArithmeticException e) {
      throw new MalformedException("a number out of range");
    }
  }

  private static Instant instant(long ms) throws MalformedException {
    try {
      return Instant.ofEpochMilli(ms);
    } catch (java.time.DateTimeException e) {
      throw new MalformedException("a time out of range");
    }
  }

  static long zigzag(long v) {
    return (v << 1) ^ (v >> 63);
  }

  static long unzigzag(long v) {
    return (v >>> 1) ^ -(v & 1);
  }

  /** A growing byte array. */
  private static final class Writer {
    private byte[] buf;
    private int pos;

    Writer(int capacity) {
      buf = new byte[capacity];
    }

    private void room(int n) {
      if (pos + n > buf.length) {
        buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + n));
      }
    }

    void put(byte b) {
      room(1);
      buf[pos++] = b;
    }

    void varint(long v) {
      room(10);
      while ((v & ~0x7fL) != 0) {
        buf[pos++] = (byte) ((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      buf[pos++] = (byte) v;
    }

    void svarint(long v) {
      varint(zigzag(v));
    }

    void putDouble(double d) {
      long b = Double.doubleToRawLongBits(d);
      room(8);
      for (int i = 7; i >= 0; i--) {
        buf[pos++] = (byte) (b >>> (8 * i));
      }
    }

    void string(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      varint(b.length);
      room(b.length);
      System.arraycopy(b, 0, buf, pos, b.length);
      pos += b.length;
    }

    void nstring(String s) {
      if (s == null) {
        varint(0);
        return;
      }
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      varint(b.length + 1L);
      room(b.length);
      System.arraycopy(b, 0, buf, pos, b.length);
      pos += b.length;
    }

    byte[] bytes() {
      return Arrays.copyOf(buf, pos);
    }
  }

  /** Reads a frame with every length checked against what is left. */
  private static final class Reader {
    private final ByteBuffer b;

    Reader(ByteBuffer b) {
      this.b = b;
    }

    int remaining() {
      return b.remaining();
    }

    int u8() throws MalformedException {
      if (!b.hasRemaining()) {
        throw truncated();
      }
      return b.get() & 0xff;
    }

    long varint() throws MalformedException {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        int x = u8();
        if (shift == 63 && (x & 0xfe) != 0) {
          break;
        }
        v |= (long) (x & 0x7f) << shift;
        if ((x & 0x80) == 0) {
          return v;
        }
      }
      throw new MalformedException("a number longer than 64 bits");
    }

    long svarint() throws MalformedException {
      return unzigzag(varint());
    }

    double f64() throws MalformedException {
      if (b.remaining() < 8) {
        throw truncated();
      }
      return Double.longBitsToDouble(b.getLong());
    }

    String string(int maxChars) throws MalformedException {
      long len = varint();
      if (len > (long) maxChars * 3) {
        throw new MalformedException("a name of " + len + " bytes; names have " + maxChars);
      }
      String s = utf8(len);
      if (s.isEmpty() || s.length() > maxChars) {
        throw new MalformedException("metric names are 1 to " + maxChars + " characters");
      }
      return s;
    }

    String nstring() throws MalformedException {
      long len = varint();
      return len == 0 ? null : utf8(len - 1);
    }

    private String utf8(long len) throws MalformedException {
      if (len < 0 || len > b.remaining()) {
        throw truncated();
      }
      ByteBuffer slice = b.slice(b.position(), (int) len);
      b.position(b.position() + (int) len);
      try {
        return StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(slice)
            .toString();
      } catch (CharacterCodingException e) {
        throw new MalformedException("text that is not UTF-8");
      }
    }

    private static MalformedException truncated() {
      return new MalformedException("the frame ends inside a record");
    }
  }
}
