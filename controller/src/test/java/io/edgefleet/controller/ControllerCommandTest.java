package io.edgefleet.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.events.EventLimits;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The controller's options become its config. */
class ControllerCommandTest {

  private static ControllerConfig parse(String... args) {
    ControllerCommand command = new ControllerCommand();
    new CommandLine(command).parseArgs(args);
    return command.config();
  }

  @Test
  void theEventLogKeeps30DaysAnd5MillionRowsPerTableUnlessTold() {
    assertThat(parse().events()).isEqualTo(EventLimits.defaults());
    assertThat(parse().events().retention()).isEqualTo(Duration.ofDays(30));
    assertThat(parse().events().maxRows()).isEqualTo(5_000_000);

    EventLimits told = parse("--event-retention", "7d", "--event-max-rows", "20000").events();
    assertThat(told.retention()).isEqualTo(Duration.ofDays(7));
    assertThat(told.maxRows()).isEqualTo(20_000);
  }

  @Test
  void anEventRetentionUnderAnHourIsRefused() {
    assertThatThrownBy(() -> parse("--event-retention", "10m"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--event-retention")
        .hasMessageContaining("at least 1h");
  }
}
