package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CompactTelemetryTest {
  static final Instant T = Instant.parse("2026-11-21T10:05:00.123Z");

  /** The 14 metrics of a typical node, rounded as the agent rounds. */
  static Map<String, Telemetry.Stat> node(Random r) {
    Map<String, Telemetry.Stat> m = new LinkedHashMap<>();
    m.put("cpu.used.percent", stat(r, 12.5, 0.5, 60));
    m.put("cpu.iowait.percent", stat(r, 0.8, 0.8, 59));
    m.put("load.1", stat(r, 0.42, 0.3, 60));
    m.put("mem.total.bytes", same(8_221_065_216.0, 60));
    m.put("mem.used.bytes", stat(r, 3.2e9, 0.05, 60));
    m.put("mem.used.percent", stat(r, 38.9, 0.05, 60));
    double up = 1_234_567.0;
    m.put("uptime.seconds", rounded(up, up + 295, up + 147.5, up + 295, 60));
    m.put("disk./.used.percent", stat(r, 41.2, 0.001, 60));
    m.put("disk./.free.bytes", stat(r, 3.1e10, 0.001, 60));
    double rx = 4.5e9;
    m.put("net.eth0.rx.bytes", rounded(rx, rx + 9e5, rx + 4.5e5, rx + 9e5, 60));
    m.put("net.eth0.tx.bytes", rounded(3e8, 3e8 + 3e5, 3e8 + 1.5e5, 3e8 + 3e5, 60));
    m.put("net.eth0.errors", same(0, 60));
    m.put("net.eth0.rx.bytes_per_s", stat(r, 3000, 0.6, 59));
    m.put("net.eth0.tx.bytes_per_s", stat(r, 1000, 0.6, 59));
    return m;
  }

  static Telemetry.Stat stat(Random r, double mean, double spread, long n) {
    double min = mean * (1 - spread * r.nextDouble());
    double max = mean * (1 + spread * r.nextDouble());
    return rounded(min, max, mean * (1 + (r.nextDouble() - 0.5) * spread), min, n);
  }

  static Telemetry.Stat rounded(double min, double max, double mean, double last, long n) {
    return new Telemetry.Stat(
        Telemetry.round(min),
        Telemetry.round(max),
        Telemetry.round(mean),
        Telemetry.round(last),
        n);
  }

  static Telemetry.Stat same(double v, long n) {
    return new Telemetry.Stat(v, v, v, v, n);
  }

  static List<Telemetry> decode(CompactTelemetry.Decoder d, CompactTelemetry.Encoded e)
      throws CompactTelemetry.MalformedException {
    return d.decode(ByteBuffer.wrap(e.bytes()));
  }

  @Test
  void aBatchOfEveryKindComesBackExactly() throws Exception {
    Random r = new Random(1);
    List<Telemetry> batch =
        List.of(
            new Telemetry.DeviceEvent(7, T, "app-ready", "info", "web", "app web is ready"),
            new Telemetry.DeviceEvent(8, T.plusMillis(1), "odd", "catastrophic", null, ""),
            new Telemetry.DeviceEvent(9, T.minusSeconds(30), "k", null, null, "ünïcödé ✓"),
            new Telemetry.Loss(10, T, 42, "outbox full"),
            new Telemetry.Loss(11, T, 0, null),
            new Telemetry.Metrics(5, T.minusSeconds(300), T, node(r)),
            new Telemetry.Metrics(12, T, T.plusSeconds(97), node(r), true));
    CompactTelemetry.Encoded e = new CompactTelemetry.Encoder().encode(batch);
    assertThat(e.records()).isEqualTo(7);
    assertThat(decode(new CompactTelemetry.Decoder(), e)).isEqualTo(batch);
  }

  @Test
  void anyDoubleComesBackBitForBit() throws Exception {
    double[] odd = {
      Double.NaN,
      Double.POSITIVE_INFINITY,
      Double.NEGATIVE_INFINITY,
      -0.0,
      0.0,
      Double.MIN_VALUE,
      Double.MAX_VALUE,
      1e-300,
      0.1 + 0.2,
      1.0 / 3,
      123456789012345678.0,
      -42.5,
      9.007199254740993E15,
      1.234567e-12,
      6.02214076e23
    };
    Random r = new Random(2);
    Map<String, Telemetry.Stat> m = new LinkedHashMap<>();
    for (int i = 0; i < 300; i++) {
      double a = i < odd.length ? odd[i] : r.nextGaussian() * Math.pow(10, r.nextInt(40) - 20);
      double b = odd[r.nextInt(odd.length)];
      double c = i % 3 == 0 ? Telemetry.round(a * 1.5) : r.nextDouble();
      m.put("m." + i, new Telemetry.Stat(a, b, c, i % 2 == 0 ? a : b, i - 5));
    }
    List<Telemetry> batch = List.of(new Telemetry.Metrics(1, T, T, m));
    List<Telemetry> back =
        decode(new CompactTelemetry.Decoder(), new CompactTelemetry.Encoder().encode(batch));
    Map<String, Telemetry.Stat> got = ((Telemetry.Metrics) back.getFirst()).metrics();
    assertThat(got.keySet()).containsExactlyElementsOf(m.keySet());
    m.forEach(
        (k, s) -> {
          Telemetry.Stat g = got.get(k);
          assertThat(bits(g)).as(k + " " + s).isEqualTo(bits(s));
          assertThat(g.count()).isEqualTo(s.count());
        });
  }

  private static long[] bits(Telemetry.Stat s) {
    return new long[] {
      Double.doubleToRawLongBits(s.min()),
      Double.doubleToRawLongBits(s.max()),
      Double.doubleToRawLongBits(s.mean()),
      Double.doubleToRawLongBits(s.last())
    };
  }

  @Test
  void namesTravelUntilAFrameCarryingThemIsAcknowledged() throws Exception {
    Random r = new Random(3);
    CompactTelemetry.Encoder enc = new CompactTelemetry.Encoder();
    CompactTelemetry.Decoder dec = new CompactTelemetry.Decoder();
    List<Telemetry> one = List.of(new Telemetry.Metrics(1, T.minusSeconds(300), T, node(r)));
    CompactTelemetry.Encoded first = enc.encode(one);
    assertThat(decode(dec, first)).isEqualTo(one);
    assertThat(dec.names()).isEqualTo(14);

    // Not acknowledged yet: the next frame names them again (and stays as large).
    List<Telemetry> two = List.of(new Telemetry.Metrics(2, T, T.plusSeconds(300), node(r)));
    CompactTelemetry.Encoded again = enc.encode(two);
    assertThat(again.namedIds()).hasSize(14);
    assertThat(decode(dec, again)).isEqualTo(two);

    enc.acknowledged(first);
    List<Telemetry> three =
        List.of(new Telemetry.Metrics(3, T.plusSeconds(300), T.plusSeconds(600), node(r)));
    CompactTelemetry.Encoded lean = enc.encode(three);
    assertThat(lean.namedIds()).isEmpty();
    assertThat(lean.bytes().length).isLessThan(first.bytes().length - 14 * 10);
    assertThat(decode(dec, lean)).isEqualTo(three);
    // A decoder of another connection does not know the ids.
    assertThatThrownBy(() -> decode(new CompactTelemetry.Decoder(), lean))
        .isInstanceOf(CompactTelemetry.MalformedException.class)
        .hasMessageContaining("was never named");

    enc.forgetAcknowledged();
    assertThat(enc.encode(three).namedIds()).hasSize(14);
  }

  @Test
  void aNewNameInALaterSummaryGetsTheNextId() throws Exception {
    CompactTelemetry.Encoder enc = new CompactTelemetry.Encoder();
    CompactTelemetry.Decoder dec = new CompactTelemetry.Decoder();
    Map<String, Telemetry.Stat> a = Map.of("cpu.used.percent", same(3, 60));
    CompactTelemetry.Encoded f1 = enc.encode(List.of(new Telemetry.Metrics(1, T, T, a)));
    decode(dec, f1);
    enc.acknowledged(f1);
    Map<String, Telemetry.Stat> b = new LinkedHashMap<>(a);
    b.put("app.web.ready", same(1, 60));
    List<Telemetry> batch = List.of(new Telemetry.Metrics(2, T, T, b));
    CompactTelemetry.Encoded f2 = enc.encode(batch);
    assertThat(f2.namedIds()).containsExactly(2);
    assertThat(decode(dec, f2)).isEqualTo(batch);
  }

  @Test
  void whatTheFormCannotCarryIsLeftToJson() {
    CompactTelemetry.Encoder enc = new CompactTelemetry.Encoder();
    assertThat(
            enc.encode(
                List.of(new Telemetry.Metrics(1, T, T, Map.of("x".repeat(201), same(1, 1))))))
        .isNull();
    assertThat(enc.encode(List.of(new Telemetry.Metrics(1, null, T, Map.of("a", same(1, 1))))))
        .isNull();
    assertThat(enc.encode(List.of(new Telemetry.Loss(1, null, 1, "r")))).isNull();
    assertThat(enc.encode(List.of())).isNull();
  }

  @Test
  void aTypicalSummaryIsAFractionOfItsJson() {
    Random r = new Random(4);
    CompactTelemetry.Encoder enc = new CompactTelemetry.Encoder();
    Telemetry.Metrics m = new Telemetry.Metrics(123_456, T.minusSeconds(300), T, node(r));
    CompactTelemetry.Encoded first = enc.encode(List.of(m));
    enc.acknowledged(first);
    int json = Json.writeBytes(new AgentMessage.TelemetryBatch(List.of(m))).length;
    int lean = enc.encode(List.of(m)).bytes().length;
    // Not a benchmark: a guard that the form stays compact (bench/telemetry.sh has the figures).
    assertThat(lean).isLessThan(json / 5);
  }

  @Test
  void everyTruncationAndEveryFlippedByteIsRefusedOrDecodedNeverAnythingElse() throws Exception {
    Random r = new Random(5);
    List<Telemetry> batch =
        List.of(
            new Telemetry.DeviceEvent(3, T, "app-ready", "info", "web", "ready"),
            new Telemetry.Metrics(4, T.minusSeconds(300), T, node(r)));
    byte[] good = new CompactTelemetry.Encoder().encode(batch).bytes();
    for (int len = 0; len < good.length; len++) {
      byte[] cut = Arrays.copyOf(good, len);
      CompactTelemetry.Decoder d = new CompactTelemetry.Decoder();
      assertThatThrownBy(() -> d.decode(ByteBuffer.wrap(cut)))
          .as("cut at %d", len)
          .isInstanceOf(CompactTelemetry.MalformedException.class);
      assertThat(d.names()).as("nothing bound from a refused frame").isZero();
    }
    for (int i = 0; i < 20_000; i++) {
      byte[] bad = good.clone();
      int flips = 1 + r.nextInt(3);
      for (int f = 0; f < flips; f++) {
        bad[r.nextInt(bad.length)] = (byte) r.nextInt(256);
      }
      try {
        new CompactTelemetry.Decoder().decode(ByteBuffer.wrap(bad));
      } catch (CompactTelemetry.MalformedException e) {
        assertThat(e.getMessage()).isNotBlank();
      }
    }
    byte[] noise = new byte[512];
    for (int i = 0; i < 20_000; i++) {
      r.nextBytes(noise);
      noise[0] = 1;
      try {
        new CompactTelemetry.Decoder().decode(ByteBuffer.wrap(noise, 0, 1 + r.nextInt(511)));
      } catch (CompactTelemetry.MalformedException e) {
        assertThat(e.getMessage()).isNotBlank();
      }
    }
  }

  @Test
  void framesOutsideTheLimitsAreRefusedWithAReason() {
    assertThat(malformed(0x02, 1)).contains("unknown compact telemetry frame type 2");
    assertThat(malformed(0x01, 0)).contains("1 to 1000 records");
    assertThat(malformed(0x01, 0xe9, 0x07)).contains("1 to 1000 records"); // 1001
    // head with reserved bits; kind 3
    assertThat(malformed(0x01, 1, 0x10, 2, 0)).contains("unknown record header");
    assertThat(malformed(0x01, 1, 0x03, 2, 0)).contains("unknown record header");
    // an event marked partial
    assertThat(malformed(0x01, 1, 0x05, 2, 0, 0, 1, 0, 0)).contains("unknown record header");
    // a metric id above the limit: key (513 << 1) = 1026 = 0x82 0x08
    assertThat(malformed(0x01, 1, 0x00, 2, 0, 0, 1, 1, 0x82, 0x08, 0x01, 0))
        .contains("metric id 513 is too high");
    // an unnamed id
    assertThat(malformed(0x01, 1, 0x00, 2, 0, 0, 1, 1, 0x04, 0x01, 0)).contains("never named");
    // invalid UTF-8 in a name: id 1 named, 1 byte 0xff
    assertThat(malformed(0x01, 1, 0x00, 2, 0, 0, 1, 1, 0x03, 1, 0xff, 0x01, 0))
        .contains("not UTF-8");
    // an empty name
    assertThat(malformed(0x01, 1, 0x00, 2, 0, 0, 1, 1, 0x03, 0, 0x01, 0))
        .contains("1 to 200 characters");
    // a name longer than allowed
    byte[] longName = new byte[4 + 3 + 2 + 2 + 601 + 2];
    int i = 0;
    for (int b : new int[] {0x01, 1, 0x00, 2, 0, 0, 1, 1, 0x03, 0xd9, 0x04}) {
      longName[i++] = (byte) b;
    }
    assertThat(malformed(longName)).contains("names have 200");
    // one id named twice, differently, in one frame
    assertThat(
            malformed(
                0x01, 2, 0x00, 2, 0, 0, 1, 1, 0x03, 1, 'a', 0x01, 0, 0x00, 2, 0, 0, 1, 1, 0x03, 1,
                'b', 0x01, 0))
        .contains("metric id 1 is 'a', not 'b'");
    // an exponent out of range (23, zig-zag 46 follows)
    assertThat(malformed(0x01, 1, 0x00, 2, 0, 0, 1, 1, 0x03, 1, 'a', 0xf1, 46, 2))
        .contains("exponent 23 out of range");
    // a value beyond 2^53
    assertThat(
            malformed(
                0x01, 1, 0x00, 2, 0, 0, 1, 1, 0x03, 1, 'a', 0x01, 0x80, 0x80, 0x80, 0x80, 0x80,
                0x80, 0x80, 0x80, 0x02))
        .contains("value out of range");
    // raw values with an exponent
    assertThat(malformed(0x01, 1, 0x00, 2, 0, 0, 1, 1, 0x03, 1, 'a', 0x15, 0, 0, 0, 0, 0, 0, 0, 0))
        .contains("raw values with an exponent");
    // the same name twice in one summary
    assertThat(malformed(0x01, 1, 0x00, 2, 0, 0, 1, 2, 0x03, 1, 'a', 0x01, 0, 0x02, 0x01, 0))
        .contains("metric a twice");
    // trailing bytes
    assertThat(malformed(0x01, 1, 0x02, 2, 0, 0, 0, 7)).contains("1 bytes after the last record");
    // a severity code that does not exist
    assertThat(malformed(0x01, 1, 0x01, 2, 0, 0, 9, 0, 0)).contains("unknown severity code 9");
  }

  @Test
  void aFrameThatFailsLateBindsNothing() throws Exception {
    CompactTelemetry.Decoder d = new CompactTelemetry.Decoder();
    // Record 1 names id 1 'a'; record 2 is cut short.
    byte[] frame = bytes(0x01, 2, 0x00, 2, 0, 0, 1, 1, 0x03, 1, 'a', 0x01, 0, 0x00, 2);
    assertThatThrownBy(() -> d.decode(ByteBuffer.wrap(frame)))
        .isInstanceOf(CompactTelemetry.MalformedException.class);
    assertThat(d.names()).isZero();
    assertThatThrownBy(
            () -> d.decode(ByteBuffer.wrap(bytes(0x01, 1, 0x00, 2, 0, 0, 1, 1, 0x02, 0x01, 0))))
        .hasMessageContaining("never named");
  }

  @Test
  void namesAreInternedThroughTheGivenFunction() throws Exception {
    List<String> seen = new ArrayList<>();
    CompactTelemetry.Decoder d =
        new CompactTelemetry.Decoder(
            s -> {
              seen.add(s);
              return s.intern();
            });
    d.decode(
        ByteBuffer.wrap(
            new CompactTelemetry.Encoder()
                .encode(
                    List.of(new Telemetry.Metrics(1, T, T, Map.of("cpu.used.percent", same(1, 1)))))
                .bytes()));
    assertThat(seen).containsExactly("cpu.used.percent");
  }

  private static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }

  private static String malformed(int... values) {
    return malformed(bytes(values));
  }

  private static String malformed(byte[] frame) {
    try {
      new CompactTelemetry.Decoder().decode(ByteBuffer.wrap(frame));
    } catch (CompactTelemetry.MalformedException e) {
      return e.getMessage();
    }
    throw new AssertionError("decoded: " + Arrays.toString(frame));
  }
}
