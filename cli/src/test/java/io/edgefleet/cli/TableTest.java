package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;

class TableTest {
  @Test
  void alignsColumnsWithTwoSpacesAndUpperCaseHeaders() {
    String text =
        new Table("id", "name", "last seen")
            .row("d-1", "pos-terminal-17", "12s ago")
            .row("device-22", "", "3d ago")
            .render();

    assertThat(text)
        .isEqualTo(
            """
            ID         NAME             LAST SEEN
            d-1        pos-terminal-17  12s ago
            device-22  -                3d ago
            """);
  }

  @Test
  void emptyAndNullCellsShowAsDashAndLinesHaveNoTrailingSpaces() {
    String text = new Table("a", "b").row(null, " ").render();

    assertThat(text).isEqualTo("A  B\n-  -\n");
  }

  @Test
  void headerAloneWhenThereAreNoRows() {
    assertThat(new Table("id", "status").render()).isEqualTo("ID  STATUS\n");
  }

  @Test
  void controlCharactersCannotBreakTheLayoutOrDriveTheTerminal() {
    String text = new Table("host").row("evil\u001b[2J\nname").render();

    assertThat(text).isEqualTo("HOST\nevil?[2J?name\n");
  }

  @Test
  void rowWithWrongNumberOfCellsIsABug() {
    assertThatThrownBy(() -> new Table("a", "b").row("only one"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void fieldsAlignValuesAfterTheLongestKey() {
    SequencedMap<String, String> fields = new LinkedHashMap<>();
    fields.put("ID", "d-1");
    fields.put("Last seen", "");
    fields.put("Tags", "site=s1");

    assertThat(Table.fields(fields))
        .isEqualTo(
            """
            ID:          d-1
            Last seen:   -
            Tags:        site=s1
            """);
  }

  private static Table devices() {
    return new Table("id", "status", "reason", "tags")
        .row("dev-0001", "OFFLINE", "no heartbeat for 5m after the link to the site dropped", "a=b")
        .row("dev-0002", "ONLINE", "", "site=store-17,env=production,rack=r4,owner=ops-team");
  }

  @Test
  void aTableWiderThanTheScreenShortensItsWidestFreeTextColumnsWithAnEllipsis() {
    String text = devices().render(new Screen(60, false, true));

    assertThat(text.lines()).allSatisfy(line -> assertThat(line.length()).isLessThanOrEqualTo(60));
    assertThat(text)
        .isEqualTo(
            """
            ID        STATUS   REASON               TAGS
            dev-0001  OFFLINE  no heartbeat for 5…  a=b
            dev-0002  ONLINE   -                    site=store-17,env=p…
            """);
  }

  @Test
  void identifiersAreNeverCutEvenWhenTheTableCannotFit() {
    String text =
        new Table("id", "reason")
            .row("a-very-long-device-identifier-0001", "why")
            .render(new Screen(20, false, true));

    assertThat(text).contains("a-very-long-device-identifier-0001");
  }

  @Test
  void freeTextColumnsKeepAtLeastTheirMinimumWidth() {
    String reason = "x".repeat(50);
    String text = new Table("id", "reason").row("d-1", reason).render(new Screen(10, false, true));

    assertThat(text.lines().toList().get(1))
        .isEqualTo("d-1  " + "x".repeat(Table.MIN_WIDTH - 1) + "…");
  }

  @Test
  void anyWidthShowsEveryCharacter() {
    assertThat(devices().render(Screen.PLAIN))
        .contains("no heartbeat for 5m after the link to the site dropped")
        .doesNotContain("…");
  }

  @Test
  void statusWordsAreColouredOnlyOnAColourScreenAndAlignmentIgnoresTheEscapes() {
    String plain = devices().render(new Screen(0, false, true));
    String coloured = devices().render(new Screen(0, true, true));

    assertThat(plain).doesNotContain("\u001b");
    assertThat(coloured)
        .contains("\u001b[31mOFFLINE\u001b[0m  ")
        .contains("\u001b[32mONLINE\u001b[0m   ");
    assertThat(coloured.replaceAll("\u001b\\[[0-9]*m", "")).isEqualTo(plain);
    assertThat(coloured.lines().findFirst().orElseThrow()).doesNotContain("\u001b");
  }

  @Test
  void widthComesFromColumnsThenTheTerminalAndPipedOutputIsNotCut() {
    assertThat(Screen.of(Map.of("COLUMNS", "80"), false, false).width()).isEqualTo(80);
    assertThat(Screen.of(Map.of("COLUMNS", "80"), true, false).width()).isEqualTo(80);
    assertThat(Screen.of(Map.of(), true, false).width()).isEqualTo(Screen.DEFAULT_WIDTH);
    assertThat(Screen.of(Map.of(), false, false).width()).isZero();
    assertThat(Screen.of(Map.of("COLUMNS", "junk"), false, false).width()).isZero();
    assertThat(Screen.of(Map.of("COLUMNS", "80"), true, true).width()).as("-o wide").isZero();
  }

  @Test
  void colourOnlyOnATerminalWithoutNoColorAndNotOnADumbOne() {
    assertThat(Screen.of(Map.of(), true, false).colour()).isTrue();
    assertThat(Screen.of(Map.of(), false, false).colour()).as("piped").isFalse();
    assertThat(Screen.of(Map.of("NO_COLOR", "1"), true, false).colour()).isFalse();
    assertThat(Screen.of(Map.of("NO_COLOR", ""), true, false).colour()).isTrue();
    assertThat(Screen.of(Map.of("TERM", "dumb"), true, false).colour()).isFalse();
  }

  @Test
  void renderUsesTheScreenOfTheRunningCommand() {
    String[] seen = new String[1];
    new Screen(50, false, true).use(() -> seen[0] = devices().render());

    assertThat(seen[0].lines()).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(50));
    assertThat(devices().render()).contains("after the link to the site dropped");
  }

  @Test
  void aLineOfFreeTextIsCutToTheScreenOnlyWhenItHasAWidth() {
    String entry =
        "  2025-06-01T12:00:00Z  PAUSED  batch 2 failed: 3 of 10 devices did not become ready";

    assertThat(Table.line(entry, new Screen(40, false, true))).hasSize(40).endsWith("…");
    assertThat(Table.line(entry, Screen.PLAIN)).isEqualTo(entry);
  }

  @Test
  void textThatMustBeReadWholeIsWrappedAtSpacesToTheScreen() {
    String problem =
        "6 device(s) (vm, vm-2, vm-3): values use ${tag:region} but the device has no tag"
            + " 'region'; add the tag to the device or remove the reference";

    String wrapped = Table.wrap("  - ", problem, new Screen(40, false, true));

    assertThat(wrapped.lines()).hasSizeGreaterThan(3);
    assertThat(wrapped.lines()).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(40));
    assertThat(wrapped).startsWith("  - 6 device(s)").endsWith("reference\n");
    assertThat(wrapped.lines().skip(1)).allSatisfy(l -> assertThat(l).startsWith("    "));
    // Every word is still there, in order.
    assertThat(String.join(" ", wrapped.replace("  - ", "").strip().split("\\s+")))
        .isEqualTo(problem);
    assertThat(Table.wrap("  - ", problem, Screen.PLAIN)).isEqualTo("  - " + problem + "\n");
  }
}
