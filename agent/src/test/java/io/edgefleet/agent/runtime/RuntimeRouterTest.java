package io.edgefleet.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class RuntimeRouterTest {
  static final String KUBE = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n";
  static final String CONTAINER =
      "apiVersion: edgefleet.io/v1\nkind: Container\nmetadata: {name: web}\nspec:\n  image: sha256:"
          + "a".repeat(64)
          + "\n";

  /** A runtime that records what it was asked and holds the apps applied to it. */
  static final class Recording implements WorkloadRuntime {
    final String kind;
    final List<String> calls = new ArrayList<>();
    final Set<String> apps = new TreeSet<>();
    ApplyOutcome next = new ApplyOutcome.Applied(1, 0);
    boolean unavailable;

    Recording(String kind) {
      this.kind = kind;
    }

    @Override
    public synchronized ApplyOutcome apply(String app, String revision, String yaml) {
      calls.add("apply " + app);
      if (next instanceof ApplyOutcome.Applied || next instanceof ApplyOutcome.InSync) {
        apps.add(app);
      }
      return next;
    }

    @Override
    public synchronized ApplyOutcome remove(String app) {
      calls.add("remove " + app);
      return apps.remove(app) ? new ApplyOutcome.Applied(0, 1) : new ApplyOutcome.InSync();
    }

    @Override
    public AppHealth health(String app) {
      return new AppHealth(AppHealth.State.READY, kind + " says " + app + " is ready");
    }

    @Override
    public synchronized Set<String> ownedApps() {
      if (unavailable) {
        throw new RuntimeUnavailableException(kind + " is down", Duration.ofSeconds(1), null);
      }
      return Set.copyOf(apps);
    }

    @Override
    public List<LogSource> logSources(String app) {
      return List.of(new LogSource(kind + "-ns", app, "c"));
    }

    @Override
    public LogStream readLogs(LogSource source, LogQuery query, LogSink sink) {
      calls.add("logs " + source.pod());
      return () -> {};
    }

    @Override
    public void close() {
      calls.add("close");
    }
  }

  final Recording kube = new Recording("kubernetes");
  final Recording containers = new Recording("container");
  final RuntimeRouter router = router(kube, containers);

  static RuntimeRouter router(Recording... runtimes) {
    Map<String, WorkloadRuntime> m = new LinkedHashMap<>();
    for (Recording r : runtimes) {
      m.put(r.kind, r);
    }
    return new RuntimeRouter(m);
  }

  @Test
  void documentsDecideTheRuntime() {
    assertThat(router.apply("shop", "1", KUBE)).isInstanceOf(ApplyOutcome.Applied.class);
    assertThat(router.apply("web", "1", CONTAINER)).isInstanceOf(ApplyOutcome.Applied.class);
    assertThat(kube.calls).containsExactly("apply shop");
    assertThat(containers.calls).contains("apply web").doesNotContain("apply shop");
    assertThat(router.ownedApps()).containsExactly("shop", "web");
    assertThat(router.health("web").reason()).isEqualTo("container says web is ready");
    assertThat(router.health("shop").reason()).isEqualTo("kubernetes says shop is ready");
    assertThat(router.workloadKinds()).containsExactly("kubernetes", "container");
  }

  @Test
  void aMixOfKindsIsRefusedAndNothingIsApplied() {
    ApplyOutcome out = router.apply("mixed", "1", KUBE + "---\n" + CONTAINER);
    assertThat(out).isInstanceOf(ApplyOutcome.Failed.class);
    assertThat(((ApplyOutcome.Failed) out).reason())
        .contains("Kubernetes objects (1), Containers (1)")
        .contains("split them into separate apps");
    assertThat(kube.calls).isEmpty();
    assertThat(containers.calls).isEmpty();
  }

  @Test
  void aKindTheNodeHasNoRuntimeForFailsWithTheReason() {
    RuntimeRouter kubeOnly = router(kube);
    ApplyOutcome.Failed out = (ApplyOutcome.Failed) kubeOnly.apply("web", "1", CONTAINER);
    assertThat(out.reason())
        .isEqualTo(
            "the app holds edgefleet.io/v1 Container workloads but this node has no container"
                + " runtime (it runs kubernetes)");
  }

  @Test
  void unreadableYamlGoesToKubernetesWhichNamesTheDocument() {
    router.apply("shop", "1", "a: [unclosed\n");
    assertThat(kube.calls).containsExactly("apply shop");
    assertThat(containers.calls).isEmpty();
  }

  @Test
  void anAppMovingToAnotherKindLeavesTheOldRuntimeOnceTheNewOneHasIt() {
    router.apply("web", "1", KUBE);
    containers.next = new ApplyOutcome.RetryAfter(Duration.ofSeconds(5), "image not here yet");
    assertThat(router.apply("web", "2", CONTAINER)).isInstanceOf(ApplyOutcome.RetryAfter.class);
    // Still running where it was while the new runtime waits.
    assertThat(kube.apps).containsExactly("web");
    containers.next = new ApplyOutcome.Applied(1, 0);
    assertThat(router.apply("web", "2", CONTAINER)).isInstanceOf(ApplyOutcome.Applied.class);
    assertThat(kube.apps).isEmpty();
    assertThat(kube.calls).containsExactly("apply web", "remove web");
    assertThat(router.health("web").reason()).startsWith("container");
  }

  @Test
  void afterARestartTheOldRuntimeIsFoundByItsListing() {
    kube.apps.add("web"); // applied by a previous agent process
    assertThat(router.apply("web", "2", CONTAINER)).isInstanceOf(ApplyOutcome.Applied.class);
    assertThat(kube.apps).isEmpty();
    // Once known, no further listing or removal is needed.
    kube.calls.clear();
    router.apply("web", "2", CONTAINER);
    assertThat(kube.calls).isEmpty();
  }

  @Test
  void removeReachesEveryRuntimeAndIsIdempotent() {
    router.apply("web", "1", CONTAINER);
    assertThat(router.remove("web")).isEqualTo(new ApplyOutcome.Applied(0, 1));
    assertThat(router.remove("web")).isInstanceOf(ApplyOutcome.InSync.class);
    assertThat(router.ownedApps()).isEmpty();
  }

  @Test
  void aRuntimeThatCannotBeAskedListsNothingUnlessNoneCanBe() {
    router.apply("shop", "1", KUBE);
    router.apply("web", "1", CONTAINER);
    containers.unavailable = true;
    assertThat(router.ownedApps()).containsExactly("shop");
    kube.unavailable = true;
    assertThatThrownBy(router::ownedApps).isInstanceOf(RuntimeUnavailableException.class);
  }

  @Test
  void logsAreReadFromTheRuntimeThatListedThem() {
    router.apply("web", "1", CONTAINER);
    List<WorkloadRuntime.LogSource> sources = router.logSources("web");
    assertThat(sources).containsExactly(new WorkloadRuntime.LogSource("container-ns", "web", "c"));
    router.readLogs(
        sources.getFirst(),
        new WorkloadRuntime.LogQuery(10, false, Instant.EPOCH),
        new WorkloadRuntime.LogSink() {
          @Override
          public void line(Instant at, String line) {}

          @Override
          public void completed() {}

          @Override
          public void failed(String reason) {}
        });
    assertThat(containers.calls).contains("logs web");
    assertThat(kube.calls).doesNotContain("logs web");
  }

  @Test
  void closeClosesEveryRuntime() {
    router.close();
    assertThat(kube.calls).containsExactly("close");
    assertThat(containers.calls).containsExactly("close");
  }
}
