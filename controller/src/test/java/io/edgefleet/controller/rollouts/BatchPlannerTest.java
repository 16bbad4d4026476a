package io.edgefleet.controller.rollouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.rollouts.BatchPlanner.Member;
import io.edgefleet.controller.rollouts.BatchPlanner.PlannedBatch;
import io.edgefleet.controller.rollouts.RolloutPolicy.Thresholds;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class BatchPlannerTest {

  /** Devices dev-01 … dev-n, shuffled so that the planner's ordering is what is tested. */
  static List<Member> devices(int n) {
    List<Member> members = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      members.add(new Member(String.format("dev-%02d", i), Map.of()));
    }
    Collections.shuffle(members, new Random(42));
    return members;
  }

  static List<String> ids(int from, int to) {
    return IntStream.rangeClosed(from, to).mapToObj(i -> String.format("dev-%02d", i)).toList();
  }

  static List<PlannedBatch> plan(String policy, List<Member> devices) {
    return BatchPlanner.plan(RolloutPolicy.parse(policy), devices);
  }

  static List<Integer> sizes(List<PlannedBatch> plan) {
    return plan.stream().map(b -> b.deviceIds().size()).toList();
  }

  @Test
  void canaryThenWavesOfThirtyDevices() {
    RolloutPolicy policy =
        RolloutPolicy.parse(
            """
            canary: {size: 10%, soak: 30m}
            waves: [50%, 50%]
            """);
    List<PlannedBatch> plan = BatchPlanner.plan(policy, devices(30));
    assertThat(sizes(plan)).containsExactly(3, 15, 12);
    Thresholds defaults = policy.defaultThresholds();
    assertThat(plan)
        .containsExactly(
            new PlannedBatch(
                0,
                "canary",
                new Thresholds(100, 0, Duration.ofMinutes(30), Duration.ofMinutes(10)),
                ids(1, 3)),
            new PlannedBatch(1, "wave-1", defaults, ids(4, 18)),
            new PlannedBatch(2, "wave-2", defaults, ids(19, 30)));
  }

  @Test
  void percentagesAreOfAllDevicesRoundedUpAndAtLeastOne() {
    assertThat(sizes(plan("canary: 1%\nwaves: [10%]", devices(25)))).containsExactly(1, 3, 21);
    assertThat(sizes(plan("canary: 34%", devices(3)))).containsExactly(2, 1);
    assertThat(sizes(plan("canary: 50%\nwaves: [50%]", devices(10)))).containsExactly(5, 5);
    assertThat(sizes(plan("canary: 1%", devices(1)))).containsExactly(1);
  }

  @Test
  void countsAreCappedAtTheDevicesRemaining() {
    List<PlannedBatch> plan = plan("canary: 2\nwaves: [5, 100]", devices(10));
    assertThat(plan).extracting(PlannedBatch::name).containsExactly("canary", "wave-1", "wave-2");
    assertThat(sizes(plan)).containsExactly(2, 5, 3);
    assertThat(plan.get(2).deviceIds()).isEqualTo(ids(8, 10));
  }

  @Test
  void leftoverDevicesFormARestBatchWithTheDefaultThresholds() {
    RolloutPolicy policy =
        RolloutPolicy.parse(
            """
            canary: {size: 1, successThreshold: 100%}
            waves: [{size: 10%, failureThreshold: 20%}]
            successThreshold: 90%
            soak: 2m
            """);
    List<PlannedBatch> plan = BatchPlanner.plan(policy, devices(30));
    assertThat(plan).extracting(PlannedBatch::name).containsExactly("canary", "wave-1", "rest");
    assertThat(sizes(plan)).containsExactly(1, 3, 26);
    assertThat(plan.get(1).thresholds())
        .isEqualTo(new Thresholds(90, 20, Duration.ofMinutes(2), Duration.ofMinutes(10)));
    assertThat(plan.get(2))
        .isEqualTo(new PlannedBatch(2, "rest", policy.defaultThresholds(), ids(5, 30)));
    assertThat(policy.defaultThresholds())
        .isEqualTo(new Thresholds(90, 0, Duration.ofMinutes(2), Duration.ofMinutes(10)));
  }

  @Test
  void emptyBatchesAreDroppedAndIndicesStayContiguous() {
    List<PlannedBatch> plan = plan("canary: 5\nwaves: [50%, 50%, 50%]", devices(2));
    assertThat(plan).extracting(PlannedBatch::index).containsExactly(0);
    assertThat(plan).extracting(PlannedBatch::name).containsExactly("canary");
    assertThat(plan.get(0).deviceIds()).isEqualTo(ids(1, 2));

    List<PlannedBatch> waves = plan("waves: [50%, 50%, 50%]", devices(2));
    assertThat(waves).extracting(PlannedBatch::index).containsExactly(0, 1);
    assertThat(waves).extracting(PlannedBatch::name).containsExactly("wave-1", "wave-2");
  }

  @Test
  void theDefaultPolicyIsOneBatchOfAll() {
    List<PlannedBatch> plan = BatchPlanner.plan(RolloutPolicy.defaults(), devices(7));
    assertThat(plan).containsExactly(new PlannedBatch(0, "all", Thresholds.DEFAULT, ids(1, 7)));
  }

  @Test
  void noDevicesNoBatches() {
    assertThat(BatchPlanner.plan(RolloutPolicy.defaults(), List.of())).isEmpty();
    assertThat(plan("canary: 1\nwaves: {byTag: region}", List.of())).isEmpty();
  }

  @Test
  void byTagMakesOneBatchPerValueInOrderThenTheUntagged() {
    List<Member> devices =
        List.of(
            new Member("e", Map.of("region", "us")),
            new Member("a", Map.of("region", "eu")),
            new Member("f", Map.of()),
            new Member("b", Map.of("region", "us", "site", "x")),
            new Member("c", Map.of("region", "eu")),
            new Member("d", Map.of("site", "y")),
            new Member("g", Map.of("region", "ap")));
    RolloutPolicy policy =
        RolloutPolicy.parse("canary: 1\nwaves: {byTag: region, successThreshold: 50%}");
    Thresholds byRegion = new Thresholds(50, 0, Duration.ZERO, Duration.ofMinutes(10));
    assertThat(BatchPlanner.plan(policy, devices))
        .containsExactly(
            new PlannedBatch(0, "canary", Thresholds.DEFAULT, List.of("a")),
            new PlannedBatch(1, "region=ap", byRegion, List.of("g")),
            new PlannedBatch(2, "region=eu", byRegion, List.of("c")),
            new PlannedBatch(3, "region=us", byRegion, List.of("b", "e")),
            new PlannedBatch(4, "region=(none)", byRegion, List.of("d", "f")));
  }

  @Test
  void byTagWithEveryDeviceTaggedHasNoNoneBatch() {
    List<Member> devices =
        List.of(
            new Member("x", Map.of("site", "berlin")), new Member("y", Map.of("site", "paris")));
    assertThat(plan("waves: {byTag: site}", devices))
        .extracting(PlannedBatch::name)
        .containsExactly("site=berlin", "site=paris");
  }

  @Test
  void everyDeviceIsPlannedExactlyOnce() {
    List<Member> devices = devices(97);
    List<PlannedBatch> plan = plan("canary: 3%\nwaves: [7, 33%, {size: 20%, soak: 1m}]", devices);
    assertThat(plan.stream().flatMap(b -> b.deviceIds().stream()))
        .containsExactlyElementsOf(ids(1, 97));
    assertThat(sizes(plan)).containsExactly(3, 7, 33, 20, 34);
    assertThat(plan).extracting(PlannedBatch::name).last().isEqualTo("rest");
  }

  @Test
  void isDeterministic() {
    RolloutPolicy policy = RolloutPolicy.parse("canary: 10%\nwaves: [50%]");
    assertThat(BatchPlanner.plan(policy, devices(50)))
        .isEqualTo(BatchPlanner.plan(policy, devices(50).reversed()));
  }

  @Test
  void rejectsDuplicateDevices() {
    assertThatThrownBy(
            () ->
                BatchPlanner.plan(
                    RolloutPolicy.defaults(),
                    List.of(new Member("a", Map.of()), new Member("a", Map.of("x", "y")))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("device a is listed twice");
  }

  @Test
  void valuesAreImmutableCopies() {
    List<String> ids = new ArrayList<>(List.of("a"));
    PlannedBatch batch = new PlannedBatch(0, "all", Thresholds.DEFAULT, ids);
    ids.add("b");
    assertThat(batch.deviceIds()).containsExactly("a");
    assertThatThrownBy(() -> batch.deviceIds().add("c"))
        .isInstanceOf(UnsupportedOperationException.class);
  }
}
