package io.edgefleet.agent.runtime.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.AppHealth.State;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReadinessTest {
  private static ObjectNode live(String yaml) {
    return OwnershipTest.parse(yaml);
  }

  private AppHealth deployment(String specAndStatus) {
    return Readiness.of(
        live(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, generation: 2}\n"
                + specAndStatus));
  }

  @Test
  void deploymentIsReadyWhenAllReplicasAreUpdatedAndAvailable() {
    assertThat(
            deployment(
                """
                spec: {replicas: 2}
                status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2}
                """))
        .isEqualTo(new AppHealth(State.READY, "deployment web: 2/2 available"));
  }

  @Test
  void deploymentReplicasDefaultToOne() {
    assertThat(
            deployment(
                    "status: {observedGeneration: 2, replicas: 1, updatedReplicas: 1,"
                        + " availableReplicas: 1}\n")
                .state())
        .isEqualTo(State.READY);
    assertThat(deployment("status: {observedGeneration: 2}\n").state())
        .isEqualTo(State.PROGRESSING);
  }

  @Test
  void deploymentProgressesUntilEverythingMatches() {
    assertThat(
            deployment(
                """
                spec: {replicas: 2}
                status: {observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2}
                """))
        .isEqualTo(
            new AppHealth(State.PROGRESSING, "deployment web: waiting for the rollout to start"));
    assertThat(
            deployment(
                """
                spec: {replicas: 2}
                status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1}
                """))
        .isEqualTo(new AppHealth(State.PROGRESSING, "deployment web: 1/2 available"));
    assertThat(
            deployment(
                """
                spec: {replicas: 2}
                status: {observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 2}
                """))
        .isEqualTo(new AppHealth(State.PROGRESSING, "deployment web: 1/2 updated, 2 available"));
    assertThat(
            deployment(
                """
                spec: {replicas: 2}
                status: {observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2}
                """))
        .isEqualTo(new AppHealth(State.PROGRESSING, "deployment web: 1 old replicas terminating"));
  }

  @Test
  void deploymentFailsWhenItsProgressDeadlineIsExceeded() {
    AppHealth h =
        deployment(
            """
            spec: {replicas: 1, progressDeadlineSeconds: 5}
            status:
              observedGeneration: 2
              replicas: 1
              updatedReplicas: 1
              unavailableReplicas: 1
              conditions:
              - {type: Available, status: "False", reason: MinimumReplicasUnavailable}
              - type: Progressing
                status: "False"
                reason: ProgressDeadlineExceeded
                message: ReplicaSet "web-5d4f" has timed out progressing.
            """);
    assertThat(h.state()).isEqualTo(State.FAILED);
    assertThat(h.reason())
        .isEqualTo(
            "deployment web: progress deadline exceeded: ReplicaSet \"web-5d4f\" has timed out"
                + " progressing.");
  }

  @Test
  void statefulSetIsReadyWhenAllReplicasAreReadyAtTheUpdateRevision() {
    String head = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, generation: 1}\n";
    assertThat(
            Readiness.of(
                live(
                    head
                        + "spec: {replicas: 3}\nstatus: {observedGeneration: 1, readyReplicas: 3,"
                        + " currentRevision: db-1, updateRevision: db-1}\n")))
        .isEqualTo(new AppHealth(State.READY, "statefulset db: 3/3 ready"));
    assertThat(
            Readiness.of(
                live(
                    head
                        + "spec: {replicas: 3}\nstatus: {observedGeneration: 1, readyReplicas: 2,"
                        + " currentRevision: db-1, updateRevision: db-1}\n")))
        .isEqualTo(new AppHealth(State.PROGRESSING, "statefulset db: 2/3 ready"));
    assertThat(
            Readiness.of(
                    live(
                        head
                            + "spec: {replicas: 3}\nstatus: {observedGeneration: 1, readyReplicas:"
                            + " 3, updatedReplicas: 1, currentRevision: db-1, updateRevision:"
                            + " db-2}\n"))
                .reason())
        .isEqualTo("statefulset db: rolling out 1/3 updated, 3 ready");
  }

  @Test
  void daemonSetIsReadyWhenEveryScheduledPodIsReadyAndUpdated() {
    String head = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, generation: 1}\n";
    assertThat(
            Readiness.of(
                live(
                    head
                        + "status: {observedGeneration: 1, desiredNumberScheduled: 2, numberReady:"
                        + " 2, updatedNumberScheduled: 2}\n")))
        .isEqualTo(new AppHealth(State.READY, "daemonset agent: 2/2 ready"));
    assertThat(
            Readiness.of(
                live(
                    head
                        + "status: {observedGeneration: 1, desiredNumberScheduled: 2, numberReady:"
                        + " 2, updatedNumberScheduled: 1}\n")))
        .isEqualTo(new AppHealth(State.PROGRESSING, "daemonset agent: 2/2 ready, 1/2 updated"));
  }

  @Test
  void jobSucceedsFailsOrProgresses() {
    String head = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\n";
    assertThat(Readiness.of(live(head + "status: {succeeded: 1}\n")))
        .isEqualTo(new AppHealth(State.READY, "job migrate: 1/1 succeeded"));
    assertThat(Readiness.of(live(head + "spec: {completions: 3}\nstatus: {succeeded: 2}\n")))
        .isEqualTo(new AppHealth(State.PROGRESSING, "job migrate: 2/3 succeeded"));
    assertThat(
            Readiness.of(
                live(
                    head
                        + "status:\n  failed: 6\n  conditions:\n  - {type: Failed, status: \"True\","
                        + " reason: BackoffLimitExceeded, message: Job has reached the specified"
                        + " backoff limit}\n")))
        .isEqualTo(
            new AppHealth(
                State.FAILED,
                "job migrate: failed (BackoffLimitExceeded): Job has reached the specified backoff"
                    + " limit"));
  }

  @Test
  void otherKindsAreReadyWhenTheyExist() {
    assertThat(Readiness.of(live("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n")))
        .isEqualTo(new AppHealth(State.READY, "service web: exists"));
  }

  @Test
  void podInCrashLoopIsAFailure() {
    ObjectNode pod =
        live(
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: web-1}
            status:
              containerStatuses:
              - name: app
                restartCount: 4
                state: {waiting: {reason: CrashLoopBackOff, message: back-off 40s}}
            """);
    assertThat(Readiness.podFailure(pod))
        .contains("pod web-1: container app in CrashLoopBackOff (4 restarts)");
    ObjectNode pulling =
        live(
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: web-2}
            status:
              containerStatuses:
              - {name: app, state: {waiting: {reason: ContainerCreating}}}
            """);
    assertThat(Readiness.podFailure(pulling)).isEmpty();
    assertThat(Readiness.podFailure(OwnershipTest.json("{}"))).isEmpty();
  }

  @Test
  void combineReportsTheWorstStateWithItsReasons() {
    AppHealth ready = new AppHealth(State.READY, "service web: exists");
    AppHealth slow = new AppHealth(State.PROGRESSING, "deployment web: 1/2 available");
    AppHealth gone = new AppHealth(State.MISSING, "configmap cfg is missing");
    AppHealth broken = new AppHealth(State.FAILED, "pod web-1: container app in CrashLoopBackOff");
    assertThat(Readiness.combine(List.of())).isEqualTo(new AppHealth(State.READY, "no objects"));
    assertThat(Readiness.combine(List.of(ready))).isEqualTo(ready);
    assertThat(Readiness.combine(List.of(ready, ready)))
        .isEqualTo(new AppHealth(State.READY, "all 2 objects ready"));
    assertThat(Readiness.combine(List.of(ready, slow))).isEqualTo(slow);
    assertThat(Readiness.combine(List.of(slow, gone, ready))).isEqualTo(gone);
    assertThat(Readiness.combine(List.of(slow, broken, gone))).isEqualTo(broken);
    AppHealth many = Readiness.combine(List.of(slow, slow, slow, slow, slow));
    assertThat(many.reason()).endsWith("(+2 more)");
  }
}
