package io.edgefleet.agent.airgap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class TarReaderTest {
  private static final Pattern NAMES = Pattern.compile("[a-z]+(/[0-9a-f]{4})?");

  private static TarReader reader(byte[] tar, int maxEntries) {
    return new TarReader(new ByteArrayInputStream(tar), NAMES, maxEntries);
  }

  @Test
  void readsEntriesInOrderAndSkipsWhatIsNotRead() throws IOException {
    byte[] big = new byte[1500];
    Arrays.fill(big, (byte) 7);
    byte[] tar = new Tars().file("first", big).file("second", "hello").file("blobs/abcd", "").end();
    TarReader r = reader(tar, 10);
    TarReader.Entry first = r.next().orElseThrow();
    assertThat(first.name()).isEqualTo("first");
    assertThat(first.size()).isEqualTo(1500);
    assertThat(first.content().readNBytes(10)).containsOnly(7);
    // The rest of the first entry is skipped, padding included.
    TarReader.Entry second = r.next().orElseThrow();
    assertThat(new String(second.content().readAllBytes(), StandardCharsets.UTF_8))
        .isEqualTo("hello");
    assertThat(second.content().read()).as("ends at the entry's end").isEqualTo(-1);
    assertThat(r.next().orElseThrow().size()).isZero();
    assertThat(r.next()).isEmpty();
    assertThat(r.next()).isEmpty();
  }

  @Test
  void refusesMoreEntriesThanItsLimit() throws IOException {
    Tars tars = new Tars();
    for (int i = 0; i < 4; i++) {
      tars.file("e", "x");
    }
    TarReader r = reader(tars.end(), 3);
    for (int i = 0; i < 3; i++) {
      assertThat(r.next()).isPresent();
    }
    assertThatThrownBy(r::next)
        .isInstanceOf(TarReader.Malformed.class)
        .hasMessageContaining("more than 3 entries");
  }

  @Test
  void refusesNamesOutsideThePatternSoNothingPointsElsewhere() {
    for (String name : List.of("../etc", "blobs/../x", "/abs", "Upper", "blobs/abcd/x", "")) {
      byte[] tar = new Tars().file(name, "x").end();
      assertThatThrownBy(() -> reader(tar, 10).next())
          .as(name)
          .isInstanceOf(TarReader.Malformed.class)
          .hasMessageContaining("unexpected name");
    }
  }

  @Test
  void refusesLinksDirectoriesAndExtensions() {
    for (byte type : new byte[] {'1', '2', '3', '5', 'L', 'x', 'g'}) {
      byte[] tar = new Tars().entry("link", type, new byte[0], "").end();
      assertThatThrownBy(() -> reader(tar, 10).next())
          .as("type %c", (char) type)
          .isInstanceOf(TarReader.Malformed.class)
          .hasMessageContaining("not a regular file");
    }
    byte[] prefixed = new Tars().entry("name", (byte) '0', new byte[0], "dir").end();
    assertThatThrownBy(() -> reader(prefixed, 10).next())
        .isInstanceOf(TarReader.Malformed.class)
        .hasMessageContaining("long name");
  }

  @Test
  void refusesADamagedHeader() {
    byte[] tar = new Tars().file("name", "x").end();
    tar[0] = 'm';
    assertThatThrownBy(() -> reader(tar, 10).next())
        .isInstanceOf(TarReader.Malformed.class)
        .hasMessageContaining("checksum");
    byte[] size = Tars.header("name", (byte) '0', 0, "");
    size[124] = '9';
    byte[] badNumber = new byte[size.length + 1024];
    System.arraycopy(size, 0, badNumber, 0, size.length);
    assertThatThrownBy(() -> reader(badNumber, 10).next()).isInstanceOf(TarReader.Malformed.class);
  }

  @Test
  void refusesAnArchiveCutShort() throws IOException {
    byte[] whole = new Tars().file("name", new byte[2000]).cut();
    // Cut inside the header.
    assertThatThrownBy(() -> reader(Arrays.copyOf(whole, 300), 10).next())
        .isInstanceOf(TarReader.Malformed.class)
        .hasMessageContaining("inside a header");
    // Cut inside the content: reading it fails, skipping it fails.
    TarReader r = reader(Arrays.copyOf(whole, 1000), 10);
    TarReader.Entry e = r.next().orElseThrow();
    assertThatThrownBy(() -> e.content().readAllBytes()).isInstanceOf(EOFException.class);
    TarReader skipping = reader(Arrays.copyOf(whole, 1000), 10);
    skipping.next();
    assertThatThrownBy(skipping::next).isInstanceOf(TarReader.Malformed.class);
    // No end marker.
    TarReader unended = reader(whole, 10);
    unended.next();
    assertThatThrownBy(unended::next)
        .isInstanceOf(TarReader.Malformed.class)
        .hasMessageContaining("end marker");
  }

  @Test
  void aHugeDeclaredSizeCostsNoMemory() throws IOException {
    // 7 GiB declared (about the most ustar says), nothing behind it: the header is read, the
    // content never buffered.
    byte[] header = Tars.header("name", (byte) '0', 7L << 30, "");
    TarReader r = reader(header, 10);
    Optional<TarReader.Entry> e = r.next();
    assertThat(e.orElseThrow().size()).isEqualTo(7L << 30);
    List<Integer> got = new ArrayList<>();
    assertThatThrownBy(() -> got.add(e.get().content().read(new byte[10], 0, 10)))
        .isInstanceOf(EOFException.class);
  }
}
