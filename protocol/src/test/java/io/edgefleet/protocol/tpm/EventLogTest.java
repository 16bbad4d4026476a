package io.edgefleet.protocol.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tpm.EventLog.Event;
import io.edgefleet.protocol.tpm.EventLog.EventDiff;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class EventLogTest {
  static final byte[] KERNEL = EventLog.sha256("vmlinuz".getBytes());

  static EventLog.Builder boot() {
    return EventLog.builder()
        .startupLocality(3)
        .text(0, EventTypes.EV_S_CRTM_VERSION, "1.2.3")
        .event(0, EventTypes.EV_POST_CODE, "POST CODE".getBytes(StandardCharsets.US_ASCII))
        .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "SecureBoot", new byte[] {1})
        .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "PK", new byte[100])
        .separator(0)
        .separator(7)
        .text(4, EventTypes.EV_EFI_ACTION, "Calling EFI Application from Boot Option")
        .efiApplication(4, "\\EFI\\BOOT\\BOOTX64.EFI", KERNEL)
        .text(8, EventTypes.EV_IPL, "grub_cmd: linux /vmlinuz root=/dev/sda1");
  }

  @Test
  void parsesWhatTheBuilderWritesWithNamesAndDescriptions() {
    EventLog log = boot().build();
    List<Event> events = log.events();
    assertThat(events).hasSize(10);
    assertThat(events.get(0).index()).isEqualTo(1);
    assertThat(events.get(0).typeName()).isEqualTo("EV_NO_ACTION");
    assertThat(events.get(0).description()).isEqualTo("StartupLocality 3");
    assertThat(log.startupLocality()).isEqualTo(3);
    assertThat(events.get(1).typeName()).isEqualTo("EV_S_CRTM_VERSION");
    assertThat(events.get(2).description()).isEqualTo("POST CODE");
    assertThat(events.get(3).typeName()).isEqualTo("EV_EFI_VARIABLE_DRIVER_CONFIG");
    assertThat(events.get(3).description()).isEqualTo("SecureBoot (1 bytes)");
    assertThat(events.get(5).typeName()).isEqualTo("EV_SEPARATOR");
    assertThat(events.get(5).description()).isEqualTo("separator");
    assertThat(events.get(7).description()).isEqualTo("Calling EFI Application from Boot Option");
    assertThat(events.get(8).typeName()).isEqualTo("EV_EFI_BOOT_SERVICES_APPLICATION");
    assertThat(events.get(8).description()).isEqualTo("\\EFI\\BOOT\\BOOTX64.EFI");
    assertThat(events.get(8).sha256()).isEqualTo(KERNEL);
    assertThat(events.get(9).typeName()).isEqualTo("EV_IPL");
    assertThat(EventLog.parse(log.write()).events()).isEqualTo(events);
  }

  @Test
  void replayExtendsFromTheStartupLocality() throws Exception {
    EventLog log = boot().build();
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    byte[] pcr0 = new byte[32];
    pcr0[31] = 3;
    for (Event e : log.events()) {
      if (e.pcr() == 0 && e.extendsPcr()) {
        sha.update(pcr0);
        sha.update(e.sha256());
        pcr0 = sha.digest();
      }
    }
    assertThat(log.replay().get(0)).isEqualTo(pcr0);
    assertThat(log.replay()).containsOnlyKeys(0, 4, 7, 8);

    byte[] pcr8 = new byte[32];
    sha.update(pcr8);
    sha.update(EventLog.sha256("grub_cmd: linux /vmlinuz root=/dev/sda1".getBytes()));
    assertThat(log.replay().get(8)).isEqualTo(sha.digest());
  }

  @Test
  void diffsEventByEvent() {
    EventLog reference = boot().build();
    EventLog now =
        EventLog.builder()
            .startupLocality(3)
            .text(0, EventTypes.EV_S_CRTM_VERSION, "1.2.3")
            .event(0, EventTypes.EV_POST_CODE, "POST CODE".getBytes(StandardCharsets.US_ASCII))
            .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "SecureBoot", new byte[] {0})
            .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "PK", new byte[100])
            .separator(0)
            .separator(7)
            .text(4, EventTypes.EV_EFI_ACTION, "Calling EFI Application from Boot Option")
            .efiApplication(4, "\\EFI\\BOOT\\SHIMX64.EFI", EventLog.sha256(new byte[] {1}))
            .efiApplication(4, "\\EFI\\BOOT\\BOOTX64.EFI", KERNEL)
            .build();
    List<EventDiff> diff = EventLog.diff(reference, now);
    assertThat(diff)
        .extracting(EventDiff::pcr, EventDiff::change)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(4, "added"),
            org.assertj.core.groups.Tuple.tuple(7, "changed"),
            org.assertj.core.groups.Tuple.tuple(8, "removed"));
    EventDiff added = diff.get(0);
    assertThat(added.now().description()).isEqualTo("\\EFI\\BOOT\\SHIMX64.EFI");
    assertThat(added.reference()).isNull();
    EventDiff changed = diff.get(1);
    assertThat(changed.reference().description()).isEqualTo("SecureBoot (1 bytes)");
    assertThat(changed.now().index()).isEqualTo(4);
    assertThat(changed.toString())
        .isEqualTo("PCR 7 event 4 changed: EV_EFI_VARIABLE_DRIVER_CONFIG SecureBoot (1 bytes)");
    assertThat(diff.get(2).now()).isNull();
    assertThat(EventLog.diff(reference, reference)).isEmpty();
  }

  @Test
  void readsLogsWithSeveralBanksAndPadding() {
    // Spec ID header with SHA-1 and SHA-256, one event carrying both digests, then 0xff padding.
    ByteBuffer spec = le(16 + 4 + 4 + 4 + 8 + 1);
    spec.put("Spec ID Event03\0".getBytes()).putInt(0).putInt(0x00020000);
    spec.putInt(2).putShort((short) TpmAlg.SHA1).putShort((short) 20);
    spec.putShort((short) TpmAlg.SHA256).putShort((short) 32).put((byte) 0);
    byte[] data = "hello".getBytes();
    ByteBuffer b =
        le(4 + 4 + 20 + 4 + spec.capacity() + 4 + 4 + 4 + 22 + 34 + 4 + data.length + 32);
    b.putInt(0).putInt(3).put(new byte[20]).putInt(spec.capacity()).put(spec.array());
    b.putInt(9).putInt((int) EventTypes.EV_IPL).putInt(2);
    b.putShort((short) TpmAlg.SHA1).put(new byte[20]);
    b.putShort((short) TpmAlg.SHA256).put(EventLog.sha256(data));
    b.putInt(data.length).put(data);
    byte[] bytes = b.array();
    Arrays.fill(bytes, bytes.length - 32, bytes.length, (byte) 0xff);
    EventLog log = EventLog.parse(bytes);
    assertThat(log.events())
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.pcr()).isEqualTo(9);
              assertThat(e.description()).isEqualTo("hello");
              assertThat(e.sha256()).isEqualTo(EventLog.sha256(data));
            });
  }

  @Test
  void refusesLogsThatAreNotCryptoAgile() {
    ByteBuffer b = le(32 + 4);
    b.putInt(0).putInt((int) EventTypes.EV_S_CRTM_VERSION).put(new byte[20]).putInt(4).putInt(0);
    assertThatThrownBy(() -> EventLog.parse(b.array()))
        .isInstanceOf(TpmFormatException.class)
        .hasMessageContaining("not a crypto-agile event log");
  }

  @Test
  void everyTruncationParsesOrFailsCleanly() {
    byte[] log = boot().write();
    int parsed = 0;
    for (int n = 0; n < log.length; n++) {
      try {
        EventLog.parse(Arrays.copyOf(log, n));
        parsed++;
      } catch (TpmFormatException expected) {
        // fine
      }
    }
    // Only the cuts at event boundaries parse: the header alone and after each of 9 events.
    assertThat(parsed).isEqualTo(10);
  }

  @Test
  void boundsSizeEventsAndFields() {
    assertThatThrownBy(() -> EventLog.parse(new byte[TpmQuote.MAX_EVENT_LOG_BYTES + 1]))
        .hasMessageContaining("at most " + TpmQuote.MAX_EVENT_LOG_BYTES);
    EventLog.Builder many = EventLog.builder();
    for (int i = 0; i <= EventLog.MAX_EVENTS; i++) {
      many.event(1, EventTypes.EV_POST_CODE, new byte[32], new byte[0]);
    }
    assertThatThrownBy(many::build).hasMessageContaining("more than 10000 events");

    byte[] header = EventLog.builder().write();
    ByteBuffer huge = le(header.length + 4 + 4 + 4 + 2 + 32 + 4);
    huge.put(header).putInt(1).putInt(1).putInt(1).putShort((short) TpmAlg.SHA256);
    huge.put(new byte[32]).putInt(0xfffffff0);
    assertThatThrownBy(() -> EventLog.parse(huge.array())).hasMessageContaining("truncated");

    ByteBuffer digests = le(header.length + 12);
    digests.put(header).putInt(1).putInt(1).putInt(5);
    assertThatThrownBy(() -> EventLog.parse(digests.array()))
        .hasMessageContaining("5 digests but the header lists 1");

    ByteBuffer noSha256 = le(header.length + 12 + 4);
    noSha256.put(header).putInt(1).putInt(1).putInt(0).putInt(0);
    assertThatThrownBy(() -> EventLog.parse(noSha256.array()))
        .hasMessageContaining("no SHA-256 digest");

    ByteBuffer pcr = le(header.length + 4);
    pcr.put(header).putInt(99);
    assertThatThrownBy(() -> EventLog.parse(pcr.array())).hasMessageContaining("PCR 99");

    ByteBuffer foreign = le(header.length + 12 + 2);
    foreign.put(header).putInt(1).putInt(1).putInt(1).putShort((short) TpmAlg.SHA384);
    assertThatThrownBy(() -> EventLog.parse(foreign.array())).hasMessageContaining("does not list");
  }

  @Test
  void randomCorruptionOnlyEverFailsAsAFormatError() {
    byte[] log = boot().write();
    Random random = new Random(7);
    for (int i = 0; i < 5_000; i++) {
      byte[] b = log.clone();
      for (int k = 0; k < 1 + random.nextInt(3); k++) {
        b[random.nextInt(b.length)] = (byte) random.nextInt();
      }
      try {
        EventLog log2 = EventLog.parse(b);
        log2.replay();
        log2.events().forEach(e -> assertThat(e.description().length()).isLessThanOrEqualTo(160));
      } catch (TpmFormatException expected) {
        // fine
      }
    }
  }

  @Test
  void describesHostilePayloadsByTheirSize() {
    byte[] variable = new byte[40];
    ByteBuffer.wrap(variable).order(ByteOrder.LITTLE_ENDIAN).putLong(16, Long.MAX_VALUE);
    String d =
        EventLog.builder()
            .event(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, variable)
            .event(4, EventTypes.EV_EFI_BOOT_SERVICES_APPLICATION, new byte[3])
            .event(4, EventTypes.EV_POST_CODE, "x".repeat(1000).getBytes())
            .build()
            .events()
            .toString();
    assertThat(d).contains("40 bytes").contains("3 bytes").contains("…");
    assertThat(HexFormat.of().formatHex(new byte[0])).isEmpty();
  }

  private static ByteBuffer le(int n) {
    return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
  }
}
