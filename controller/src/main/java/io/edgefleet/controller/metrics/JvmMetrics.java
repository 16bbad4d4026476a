package io.edgefleet.controller.metrics;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import io.prometheus.metrics.model.snapshots.SummarySnapshot.SummaryDataPointSnapshot;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryUsage;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;

/**
 * Memory, garbage collection and threads of the controller's JVM, read from the platform MXBeans at
 * scrape time, under the names the Prometheus JVM instrumentation uses ({@code
 * jvm_memory_used_bytes{area}}, {@code jvm_gc_collection_seconds{gc}}, {@code jvm_threads_current}
 * …) so that existing dashboards work.
 */
final class JvmMetrics implements MultiCollector {

  @Override
  public MetricSnapshots collect() {
    List<MetricSnapshot> out = new ArrayList<>();
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    MemoryUsage heap = memory.getHeapMemoryUsage();
    MemoryUsage nonHeap = memory.getNonHeapMemoryUsage();
    out.add(area("jvm_memory_used_bytes", "Memory used", heap.getUsed(), nonHeap.getUsed()));
    out.add(
        area(
            "jvm_memory_committed_bytes",
            "Memory committed by the JVM",
            heap.getCommitted(),
            nonHeap.getCommitted()));
    out.add(
        area(
            "jvm_memory_max_bytes",
            "Most memory the JVM may use (-1 when unbounded)",
            heap.getMax(),
            nonHeap.getMax()));

    SummarySnapshot.Builder gc =
        SummarySnapshot.builder()
            .name("jvm_gc_collection_seconds")
            .help("Time spent in garbage collections, by collector");
    for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
      long count = b.getCollectionCount();
      long millis = b.getCollectionTime();
      if (count < 0 || millis < 0) {
        continue;
      }
      gc.dataPoint(
          SummaryDataPointSnapshot.builder()
              .labels(Labels.of("gc", b.getName()))
              .count(count)
              .sum(millis / 1000.0)
              .build());
    }
    out.add(gc.build());

    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    out.add(gauge("jvm_threads_current", "Live threads", threads.getThreadCount()));
    out.add(gauge("jvm_threads_daemon", "Live daemon threads", threads.getDaemonThreadCount()));
    out.add(
        gauge("jvm_threads_peak", "Most live threads since start", threads.getPeakThreadCount()));
    out.add(
        CounterSnapshot.builder()
            .name("jvm_threads_started")
            .help("Threads started since the JVM started")
            .dataPoint(
                CounterDataPointSnapshot.builder()
                    .value(threads.getTotalStartedThreadCount())
                    .build())
            .build());
    return new MetricSnapshots(out);
  }

  private static GaugeSnapshot area(String name, String help, long heap, long nonHeap) {
    return GaugeSnapshot.builder()
        .name(name)
        .help(help + ", by area (heap, nonheap)")
        .dataPoint(
            GaugeDataPointSnapshot.builder().labels(Labels.of("area", "heap")).value(heap).build())
        .dataPoint(
            GaugeDataPointSnapshot.builder()
                .labels(Labels.of("area", "nonheap"))
                .value(nonHeap)
                .build())
        .build();
  }

  private static GaugeSnapshot gauge(String name, String help, double value) {
    return GaugeSnapshot.builder()
        .name(name)
        .help(help)
        .dataPoint(GaugeDataPointSnapshot.builder().value(value).build())
        .build();
  }
}
