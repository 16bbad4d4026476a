package io.edgefleet.controller.rollouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.edgefleet.controller.rollouts.MaintenanceWindows.Window;
import io.edgefleet.controller.rollouts.RolloutPolicy.BatchSpec;
import io.edgefleet.controller.rollouts.RolloutPolicy.ByTag;
import io.edgefleet.controller.rollouts.RolloutPolicy.Count;
import io.edgefleet.controller.rollouts.RolloutPolicy.DisruptionBudget;
import io.edgefleet.controller.rollouts.RolloutPolicy.FailureAction;
import io.edgefleet.controller.rollouts.RolloutPolicy.OfflineAction;
import io.edgefleet.controller.rollouts.RolloutPolicy.Percent;
import io.edgefleet.controller.rollouts.RolloutPolicy.Thresholds;
import java.time.Duration;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RolloutPolicyTest {
  static final Thresholds DEFAULT = new Thresholds(100, 0, Duration.ZERO, Duration.ofMinutes(10));

  static final String FULL =
      """
      # the example from the documentation, with every field
      canary: {size: 10%, successThreshold: 100%, soak: 15m}
      waves:
        - 50%
        - {size: 50%, soak: 10m, failureThreshold: 5}
        - "3"
      successThreshold: 90%
      failureThreshold: 2%
      soak: 5m
      progressDeadline: 20m
      onFailure: rollback
      offlineAtDeadline: pause
      disruptionBudget: {tag: site, maxUnavailable: 2}
      maintenance:
        tag: mw
        timeZoneTag: zone
        default: night
        windows:
          night: {cron: "0 2 * * *", duration: 3h, timeZone: Europe/Berlin}
          weekend: {cron: "0 0 * * SAT", duration: 2d}
      """;

  static List<String> problems(String yaml) {
    RolloutPolicyException e =
        catchThrowableOfType(RolloutPolicyException.class, () -> RolloutPolicy.parse(yaml));
    assertThat(e).as("expected %s to be rejected", yaml).isNotNull();
    assertThat(e.getMessage())
        .isEqualTo("rollout policy is invalid: " + String.join("; ", e.problems()));
    return e.problems();
  }

  @Test
  void parsesTheFullExample() {
    RolloutPolicy policy = RolloutPolicy.parse(FULL);
    Thresholds defaults = new Thresholds(90, 2, Duration.ofMinutes(5), Duration.ofMinutes(20));
    assertThat(policy.defaultThresholds()).isEqualTo(defaults);
    assertThat(policy.batches())
        .containsExactly(
            new BatchSpec(
                "canary",
                new Percent(10),
                new Thresholds(100, 2, Duration.ofMinutes(15), Duration.ofMinutes(20))),
            new BatchSpec("wave-1", new Percent(50), defaults),
            new BatchSpec(
                "wave-2",
                new Percent(50),
                new Thresholds(90, 5, Duration.ofMinutes(10), Duration.ofMinutes(20))),
            new BatchSpec("wave-3", new Count(3), defaults));
    assertThat(policy.onFailure()).isEqualTo(FailureAction.ROLLBACK);
    assertThat(policy.offlineAtDeadline()).isEqualTo(OfflineAction.PAUSE);
    assertThat(policy.disruptionBudget()).contains(new DisruptionBudget("site", 2));
    MaintenanceWindows m = policy.maintenance();
    assertThat(m.tag()).isEqualTo("mw");
    assertThat(m.timeZoneTag()).isEqualTo("zone");
    assertThat(m.defaultWindow()).contains("night");
    assertThat(m.windows())
        .containsExactly(
            new Window(
                "night", Cron.parse("0 2 * * *"), Duration.ofHours(3), ZoneId.of("Europe/Berlin")),
            new Window("weekend", Cron.parse("0 0 * * SAT"), Duration.ofDays(2), ZoneOffset.UTC));
    assertThat(policy.source()).isEqualTo(FULL);
    assertThat(RolloutPolicy.parse(policy.source())).isEqualTo(policy);
    assertThat(policy.describe())
        .isEqualTo(
            "canary 10%, waves 50%, 50%, 3 devices; success ≥90%, failures ≤2%, soak 5m, deadline"
                + " 20m; on failure rollback; pause for offline devices at deadline; at most 2"
                + " updating per site; maintenance windows night, weekend (default night)");
  }

  @Test
  void theDocumentedShortExample() {
    RolloutPolicy policy =
        RolloutPolicy.parse(
            """
            canary: 10%
            waves: [50%, 50%]
            soak: 5m
            onFailure: rollback
            """);
    assertThat(policy.describe())
        .isEqualTo(
            "canary 10%, waves 50%, 50%; success ≥100%, soak 5m, deadline 10m; on failure"
                + " rollback");
    assertThat(policy.maintenance()).isSameAs(MaintenanceWindows.ALWAYS);
    assertThat(policy.disruptionBudget()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   \n ", "{}", "# nothing but a comment\n", "---\n", "~", "null"})
  void emptyDocumentsAreTheDefaults(String text) {
    RolloutPolicy policy = RolloutPolicy.parse(text);
    assertThat(policy).isEqualTo(RolloutPolicy.defaults());
    assertThat(policy.source()).isEqualTo(text);
    assertThat(policy.batches()).containsExactly(new BatchSpec("all", new Percent(100), DEFAULT));
    assertThat(policy.defaultThresholds()).isEqualTo(DEFAULT).isEqualTo(Thresholds.DEFAULT);
    assertThat(policy.onFailure()).isEqualTo(FailureAction.PAUSE);
    assertThat(policy.offlineAtDeadline()).isEqualTo(OfflineAction.PROCEED);
    assertThat(policy.disruptionBudget()).isEmpty();
    assertThat(policy.maintenance().isAlways()).isTrue();
    assertThat(policy.describe())
        .isEqualTo("all at once; success ≥100%, deadline 10m; on failure pause");
  }

  @Test
  void defaultsIsTheEmptyDocument() {
    assertThat(RolloutPolicy.defaults().source()).isEmpty();
    assertThat(RolloutPolicy.defaults()).isEqualTo(RolloutPolicy.parse(""));
  }

  @Test
  void jsonIsAcceptedToo() {
    RolloutPolicy policy =
        RolloutPolicy.parse(
            """
            {"canary": 2, "waves": {"byTag": "region", "soak": "1h"}, "successThreshold": 95,
             "onFailure": "PAUSE"}
            """);
    assertThat(policy.batches())
        .containsExactly(
            new BatchSpec(
                "canary",
                new Count(2),
                new Thresholds(95, 0, Duration.ZERO, Duration.ofMinutes(10))),
            new BatchSpec(
                "by-region",
                new ByTag("region"),
                new Thresholds(95, 0, Duration.ofHours(1), Duration.ofMinutes(10))));
    assertThat(policy.onFailure()).isEqualTo(FailureAction.PAUSE);
    assertThat(policy.describe())
        .isEqualTo(
            "canary 2 devices, one wave per region; success ≥95%, deadline 10m; on failure pause");
  }

  @Test
  void sizesAndPercentagesInTheirSpellings() {
    RolloutPolicy policy =
        RolloutPolicy.parse(
            """
            canary: "1"
            waves: [1, "100%", " 7 % ", {size: 4}]
            successThreshold: "80"
            failureThreshold: 0
            """);
    assertThat(policy.batches())
        .extracting(BatchSpec::size)
        .containsExactly(
            new Count(1), new Count(1), new Percent(100), new Percent(7), new Count(4));
    assertThat(policy.defaultThresholds().successPercent()).isEqualTo(80);
    assertThat(policy.describe())
        .startsWith("canary 1 device, waves 1 device, 100%, 7%, 4 devices;");
  }

  @Test
  void onlyWavesMeansNoCanary() {
    RolloutPolicy policy = RolloutPolicy.parse("waves: [25%, 75%]");
    assertThat(policy.batches()).extracting(BatchSpec::name).containsExactly("wave-1", "wave-2");
    RolloutPolicy canaryOnly = RolloutPolicy.parse("canary: 5");
    assertThat(canaryOnly.batches()).extracting(BatchSpec::name).containsExactly("canary");
  }

  @Test
  void reportsEveryProblemWithItsPath() {
    assertThat(
            problems(
                """
                canery: 10%
                canary: {size: 0, soak: forever, colour: red}
                waves:
                  - 50%
                  - 150%
                  - {soak: 1m}
                  - lots
                  -
                successThreshold: 101%
                failureThreshold: -1
                progressDeadline: 500ms
                onFailure: explode
                offlineAtDeadline: [proceed]
                disruptionBudget: {tag: "", maxUnavailable: 0}
                maintenance:
                  default: nite
                  windows:
                    night: {cron: "0 25 * * *", duration: 10d, timeZone: Mars/Base}
                    Bad_Name: {duration: 1h, cron: "@daily", extra: 1}
                """))
        .containsExactly(
            "unknown field 'canery' (known: canary, waves, successThreshold, failureThreshold,"
                + " soak, progressDeadline, onFailure, offlineAtDeadline, disruptionBudget,"
                + " maintenance, stagingTimeout)",
            "successThreshold: '101%' is not a percentage between 0% and 100%",
            "failureThreshold: '-1' is not a percentage between 0% and 100%",
            "progressDeadline: '500ms' is shorter than the minimum 1s",
            "canary: unknown field 'colour' (known: size, successThreshold, failureThreshold,"
                + " soak, progressDeadline)",
            "canary.soak: 'forever' is not a duration: use a number and a unit (ms, s, m, h, d),"
                + " e.g. 30s or 7d",
            "canary.size: '0' is not a device count of at least 1",
            "waves[1]: '150%' is not a percentage between 1% and 100%",
            "waves[2]: 'size' is required (a count such as 3 or a percent such as 10%)",
            "waves[3]: 'lots' is not a batch size: use a device count such as 3 or a percentage"
                + " such as 10%",
            "waves[4]: has no value; give a batch size such as 50%",
            "onFailure: 'explode' is not one of pause, rollback",
            "offlineAtDeadline: expected one of pause, proceed, not a list",
            "disruptionBudget.tag: must not be empty; expected a tag key such as site",
            "disruptionBudget.maxUnavailable: '0' is not a whole number of at least 1",
            "maintenance.windows.night.cron: cron '0 25 * * *': hour field '25' has value 25 out"
                + " of range; allowed: 0-23",
            "maintenance.windows.night.duration: '10d' is not between 1m and 7d",
            "maintenance.windows.night.timeZone: 'Mars/Base' is not a time zone (use an IANA name"
                + " such as Europe/Berlin)",
            "maintenance.windows.Bad_Name: 'Bad_Name' is not a valid window name: use lowercase"
                + " letters, digits and '-', starting with a letter or digit, at most 63"
                + " characters",
            "maintenance.windows.Bad_Name: unknown field 'extra' (known: cron, duration,"
                + " timeZone)",
            "maintenance.default: 'nite' names no window (known: night, Bad_Name)");
  }

  @Test
  void notAMapping() {
    assertThat(problems("- 50%\n- 50%"))
        .containsExactly(
            "a policy must be a YAML mapping of fields such as 'canary: 10%', not a list");
    assertThat(problems("hello"))
        .containsExactly(
            "a policy must be a YAML mapping of fields such as 'canary: 10%', not 'hello'");
  }

  @Test
  void invalidYamlSaysWhere() {
    List<String> problems = problems("canary: 10%\nwaves: [50%, \n");
    assertThat(problems).hasSize(1);
    assertThat(problems.get(0))
        .isEqualTo(
            "not valid YAML: while parsing a flow node: expected the node content, but found"
                + " '<stream end>' (line 3, column 1)");
    assertThat(problems("canary: 10%\n\tsoak: 1m\n"))
        .containsExactly(
            "not valid YAML: while scanning for the next token: found character '\\t(TAB)' that"
                + " cannot start any token. (Do not use \\t(TAB) for indentation) (line 2,"
                + " column 1)");
  }

  @Test
  void unquotedMacroGetsAHint() {
    assertThat(problems("maintenance: {windows: {daily: {cron: @daily, duration: 1h}}}"))
        .containsExactly(
            "not valid YAML: while scanning for the next token: found character '@' that cannot"
                + " start any token. (Do not use @ for indentation) (line 1, column 39); values"
                + " starting with '*' or '@' (such as cron expressions) must be quoted, e.g. cron:"
                + " \"*/5 * * * *\"");
  }

  @Test
  void unquotedCronGetsAHint() {
    List<String> problems =
        problems(
            """
            maintenance:
              windows:
                often: {cron: */5 * * * *, duration: 1m}
            """);
    assertThat(problems).hasSize(1);
    assertThat(problems.get(0))
        .startsWith("not valid YAML: ")
        .endsWith(
            "; values starting with '*' or '@' (such as cron expressions) must be quoted, e.g."
                + " cron: \"*/5 * * * *\"");
  }

  @Test
  void duplicateKeysAndSeveralDocumentsAreRejected() {
    assertThat(problems("canary: 1\ncanary: 2\n").get(0))
        .startsWith("not valid YAML: ")
        .contains("canary");
    assertThat(problems("canary: 1\n---\ncanary: 2\n"))
        .containsExactly(
            "the text holds more than one YAML document; a policy is a single document");
  }

  @Test
  void explicitNullsAndEmptyCollectionsAreMistakes() {
    assertThat(problems("canary:\nsoak: 1m"))
        .containsExactly("canary: has no value; give one or leave the field out");
    assertThat(problems("waves: []"))
        .containsExactly("waves: lists no waves; give at least one or leave 'waves' out");
    assertThat(problems("waves: 50%"))
        .containsExactly(
            "waves: expected a list of batch sizes such as [50%, 50%] or {byTag: <tag>}, not"
                + " '50%'");
    assertThat(problems("waves: {byTag: \" \"}"))
        .containsExactly("waves.byTag: must not be empty; expected a tag key such as region");
    assertThat(problems("waves: {size: 50%}"))
        .containsExactly(
            "waves: unknown field 'size' (known: byTag, successThreshold, failureThreshold,"
                + " soak, progressDeadline)",
            "waves: as a mapping, 'byTag: <tag>' is required (or give a list such as [50%,"
                + " 50%])");
  }

  @Test
  void maintenanceProblems() {
    assertThat(problems("maintenance: {}"))
        .containsExactly(
            "maintenance.windows: at least one window is required, e.g. night: {cron: \"0 2 * *"
                + " *\", duration: 3h}");
    assertThat(problems("maintenance: {windows: {night: {}}, tag: \"\"}"))
        .containsExactly(
            "maintenance.tag: must not be empty; expected a tag key such as maintenance",
            "maintenance.windows.night: 'cron' is required, e.g. cron: \"0 2 * * *\"",
            "maintenance.windows.night: 'duration' is required, e.g. duration: 3h");
    assertThat(problems("maintenance: {windows: {night: 3h}}"))
        .containsExactly(
            "maintenance.windows.night: expected a mapping such as {cron: \"0 2 * * *\","
                + " duration: 3h}, not '3h'");
    assertThat(problems("maintenance: night"))
        .containsExactly(
            "maintenance: expected a mapping with 'windows' (and optionally tag, timeZoneTag,"
                + " default), not 'night'");
  }

  @Test
  void budgetProblems() {
    assertThat(problems("disruptionBudget: {maxUnavailable: x, max: 1}"))
        .containsExactly(
            "disruptionBudget: unknown field 'max' (known: tag, maxUnavailable)",
            "disruptionBudget: 'tag' is required (the device tag to group by, e.g. site)",
            "disruptionBudget.maxUnavailable: 'x' is not a whole number of at least 1");
    assertThat(RolloutPolicy.parse("disruptionBudget: {tag: rack}").disruptionBudget())
        .contains(new DisruptionBudget("rack", 1));
  }

  @Test
  void durationsAndPercentagesOutOfShape() {
    assertThat(
            problems(
                """
                soak: 600
                progressDeadline: {minutes: 10}
                successThreshold: 99.5
                failureThreshold: [1]
                """))
        .containsExactly(
            "successThreshold: '99.5' is not a percentage between 0% and 100%",
            "failureThreshold: expected a percentage such as 90%, not a list",
            "soak: '600' is not a duration: use a number and a unit (ms, s, m, h, d), e.g. 30s or"
                + " 7d",
            "progressDeadline: expected a duration such as 10m, not a mapping");
  }

  @Test
  void exceptionIsAnIllegalArgumentException() {
    RolloutPolicyException e =
        catchThrowableOfType(
            RolloutPolicyException.class, () -> RolloutPolicy.parse("onFailure: explode"));
    assertThat(e).isInstanceOf(IllegalArgumentException.class);
    assertThat(e.getMessage())
        .isEqualTo("rollout policy is invalid: onFailure: 'explode' is not one of pause, rollback");
    assertThat(e.problems()).containsExactly("onFailure: 'explode' is not one of pause, rollback");
  }

  @Test
  void equalityIsSemantic() {
    assertThat(RolloutPolicy.parse("canary: 10%"))
        .isEqualTo(RolloutPolicy.parse("{\"canary\": \"10%\"}"));
    assertThat(RolloutPolicy.parse("canary: 10%").hashCode())
        .isEqualTo(RolloutPolicy.parse("canary: '10%'").hashCode());
    assertThat(RolloutPolicy.parse("canary: 10%")).isNotEqualTo(RolloutPolicy.parse("canary: 11%"));
  }
}
