package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
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
}
