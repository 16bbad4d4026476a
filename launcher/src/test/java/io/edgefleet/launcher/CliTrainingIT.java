package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI cache's training run talks to a controller of its own: its API calls succeed whether or
 * not an operator's controller is reachable, so the TLS, HTTP and JSON code they load is trained.
 */
class CliTrainingIT {

  @Test
  void apiCallsSucceedAgainstTheTrainingController(@TempDir Path dir) throws Exception {
    List<Integer> exits = CliTraining.run(dir);

    assertThat(exits).hasSameSizeAs(CliTraining.CALLS);
    IntStream.range(0, exits.size())
        .forEach(
            i -> {
              CliTraining.Call call = CliTraining.CALLS.get(i);
              int expected = call.words().contains("--no-such-flag") ? 2 : 0;
              assertThat(exits.get(i)).as(call.words().toString()).isEqualTo(expected);
            });
    // The throwaway controller wrote its data under the given directory and has stopped.
    assertThat(Files.exists(dir.resolve("controller/cli-config.json"))).isTrue();
  }
}
