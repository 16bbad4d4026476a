package io.edgefleet.build;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;

/**
 * The build's test timeouts (set for every module in the parent pom): a test that hangs fails with
 * a timeout, after a dump of all threads that shows where it hung.
 */
class TestTimeoutsTest {
  private static final String DEFAULT_TIMEOUT = "junit.jupiter.execution.timeout.default";

  @Test
  void theBuildGivesEveryTestADefaultTimeoutAndAThreadDump() {
    assertThat(System.getProperty(DEFAULT_TIMEOUT)).matches("\\d+ ?(ms|s|m|h)");
    assertThat(System.getProperty("junit.jupiter.execution.timeout.threaddump.enabled"))
        .isEqualTo("true");
  }

  @Test
  void aTestThatHangsFailsWithATimeoutAfterAThreadDump() {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    PrintStream out = System.out;
    EngineExecutionResults results;
    System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
    try {
      // The build's configuration as it is, with the default timeout shortened to keep this cheap.
      results =
          EngineTestKit.engine("junit-jupiter")
              .selectors(selectClass(Hangs.class))
              .enableImplicitConfigurationParameters(true)
              .configurationParameter(DEFAULT_TIMEOUT, "200 ms")
              .execute();
    } finally {
      System.setOut(out);
    }

    results.testEvents().assertStatistics(stats -> stats.started(1).failed(1));
    Throwable failure =
        results
            .testEvents()
            .failed()
            .list()
            .getFirst()
            .getPayload(TestExecutionResult.class)
            .flatMap(TestExecutionResult::getThrowable)
            .orElseThrow();
    assertThat(failure)
        .isInstanceOf(TimeoutException.class)
        .hasMessage("waitsForever() timed out after 200 milliseconds");
    assertThat(printed.toString(StandardCharsets.UTF_8))
        .contains("will be interrupted.")
        .contains(Hangs.class.getName() + ".waitsForever");
  }

  /** Run only through the nested engine above: build tools skip nested classes. */
  static class Hangs {
    @Test
    void waitsForever() throws InterruptedException {
      new CountDownLatch(1).await();
    }
  }
}
