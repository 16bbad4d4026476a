package io.edgefleet.simulator;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code edgefleet sim}: runs a simulated fleet until interrupted. */
@Command(
    name = "sim",
    mixinStandardHelpOptions = true,
    description = {
      "Simulate many agents in one process, speaking the real protocol to a controller.",
      "Identities persist under --state, so a restart reconnects the same devices."
    })
public final class SimCommand implements Callable<Integer> {
  @Option(names = "--bootstrap", required = true, description = "bootstrap file (token, URL, CA)")
  Path bootstrap;

  @Option(names = "--devices", required = true, description = "number of simulated devices")
  int devices;

  @Option(
      names = "--link",
      defaultValue = "lan",
      description = "link profile: lan, cellular, satellite, flaky (default: ${DEFAULT-VALUE})")
  String link;

  @Option(
      names = "--outages",
      description = "fleet-wide outages, e.g. every=10m,for=1m,share=20%% (repeatable)")
  List<String> outages = new ArrayList<>();

  @Option(
      names = "--agent-update-fail-rate",
      paramLabel = "P",
      description =
          "Share of agent updates (0..1) a device rolls back after its trial, reporting why"
              + " (default: 0).")
  double agentUpdateFailRate;

  @Option(
      names = "--lose-enrollment-answers",
      paramLabel = "P",
      description =
          "Share of devices (0..1) whose first enrollment answer is lost on the way back: the"
              + " controller enrolled them, they ask again and must get the same device (default:"
              + " 0).")
  double loseEnrollmentAnswers;

  @Option(
      names = "--apply-fail-rate",
      defaultValue = "0",
      description = "probability that applying a new revision FAILS (0..1)")
  double applyFailRate;

  @Option(
      names = "--churn",
      defaultValue = "0",
      description = "devices per minute that disconnect and reconnect")
  double churn;

  @Option(names = "--stats", description = "JSON file rewritten every second")
  Path stats;

  @Option(
      names = "--state",
      defaultValue = "sim-state",
      description = "directory for identities (default: ${DEFAULT-VALUE})")
  Path state;

  @Option(
      names = "--source-addresses",
      description = "local addresses to connect from, e.g. 127.0.0.2-127.0.0.50")
  String sourceAddresses;

  @Option(names = "--threads", description = "selector and timer threads (default: CPU count)")
  Integer threads;

  @Option(
      names = "--enroll-concurrency",
      defaultValue = "64",
      description = "enrollments in flight at most (default: ${DEFAULT-VALUE})")
  int enrollConcurrency;

  @Option(
      names = "--handshake-concurrency",
      defaultValue = "256",
      description = "WebSocket connects in flight at most (default: ${DEFAULT-VALUE})")
  int handshakeConcurrency;

  @Option(
      names = "--max-backoff",
      defaultValue = "60s",
      description = "cap of the reconnect backoff (default: ${DEFAULT-VALUE})")
  String maxBackoff;

  @Option(
      names = "--ramp-up",
      defaultValue = "0s",
      description = "spread the first start of the devices over this long")
  String rampUp;

  @Option(
      names = "--kubernetes-version",
      split = ",",
      defaultValue = Simulator.Options.DEFAULT_KUBERNETES_VERSION,
      description =
          "Kubernetes version the devices' clusters report; several (comma-separated) are given to"
              + " devices in turn, 'none' for devices that report no cluster (default:"
              + " ${DEFAULT-VALUE})")
  List<String> kubernetesVersions;

  @Option(
      names = "--attestation",
      description =
          "devices present a software TPM: enroll with an endorsement key certificate, activate"
              + " the controller's credential and answer attestation challenges with quotes")
  boolean attestation;

  @Option(
      names = "--tpm-ca",
      description =
          "with --attestation: directory of the software TPM manufacturer CA (ek-ca.pem,"
              + " ek-ca.key; created when missing) — give the controller this directory as its"
              + " trusted EK roots (default: STATE/tpm-ca)")
  Path tpmCa;

  @Option(
      names = "--k3s-download-time",
      defaultValue = "2s",
      description =
          "cluster members: how long fetching a K3s binary takes (after a one-byte check that the"
              + " controller has it) (default: ${DEFAULT-VALUE})")
  String k3sDownload;

  @Option(
      names = "--k3s-start-time",
      defaultValue = "3s",
      description =
          "cluster members: how long K3s takes from start to ready (default: ${DEFAULT-VALUE})")
  String k3sStart;

  @Option(
      names = "--k3s-fail-rate",
      defaultValue = "0",
      description = "cluster members: probability that a K3s start ends FAILED (0..1)")
  double k3sFailRate;

  @Option(
      names = "--duration",
      description = "stop after this long (default: run until interrupted)")
  String duration;

  @Override
  public Integer call() throws Exception {
    Simulator.Options o =
        new Simulator.Options(
            bootstrap,
            devices,
            LinkProfile.named(link),
            outages.stream().map(OutageSpec::parse).toList(),
            applyFailRate,
            churn,
            stats,
            state,
            sourceAddresses == null ? List.of() : addressRange(sourceAddresses),
            threads == null ? Math.max(1, Runtime.getRuntime().availableProcessors()) : threads,
            enrollConcurrency,
            handshakeConcurrency,
            io.edgefleet.protocol.Durations.parse(maxBackoff),
            io.edgefleet.protocol.Durations.parse(rampUp),
            kubernetesVersions,
            attestation ? (tpmCa != null ? tpmCa : state.resolve("tpm-ca")) : null,
            new K3sBehaviour(
                io.edgefleet.protocol.Durations.parse(k3sDownload),
                io.edgefleet.protocol.Durations.parse(k3sStart),
                k3sFailRate,
                K3sBehaviour.DEFAULT.reportEvery()),
            agentUpdateFailRate,
            loseEnrollmentAnswers);
    Simulator sim = Simulator.start(o, System.out);
    System.out.printf(
        "simulating %d devices (%s link) against %s; state in %s%n",
        devices, link, String.join(", ", sim.bootstrap.urls()), state.toAbsolutePath());
    if (o.attestation()) {
      System.out.printf(
          "devices present a software TPM; their EK certificates chain to %s%n",
          o.tpmCaDir().resolve(io.edgefleet.protocol.tpm.SoftEkCa.ROOT_FILE).toAbsolutePath());
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  sim.close();
                  stopped.countDown();
                }));
    Thread measure =
        new Thread(
            () -> {
              try {
                // Once everyone who can connect has, report what a device costs.
                while (sim.connected() < sim.size()) {
                  Thread.sleep(1000);
                }
                System.out.printf(
                    "all %d devices connected; heap per device after GC: %d bytes%n",
                    sim.size(), sim.measureHeapPerDevice());
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "sim-measure");
    measure.setDaemon(true);
    measure.start();
    if (duration != null) {
      Thread.sleep(io.edgefleet.protocol.Durations.parse(duration).toMillis());
      System.out.printf("heap per device after GC: %d bytes%n", sim.measureHeapPerDevice());
      sim.close();
      return 0;
    }
    stopped.await();
    return 0;
  }

  /** {@code 127.0.0.2-127.0.0.50} or a comma-separated list of addresses. */
  static List<InetAddress> addressRange(String spec) throws UnknownHostException {
    List<InetAddress> out = new ArrayList<>();
    for (String part : spec.split(",")) {
      int dash = part.indexOf('-');
      if (dash < 0) {
        out.add(InetAddress.getByName(part.trim()));
        continue;
      }
      byte[] from = InetAddress.getByName(part.substring(0, dash).trim()).getAddress();
      byte[] to = InetAddress.getByName(part.substring(dash + 1).trim()).getAddress();
      if (from.length != 4 || to.length != 4) {
        throw new IllegalArgumentException("address ranges are IPv4 only: " + part);
      }
      long a = java.nio.ByteBuffer.wrap(from).getInt() & 0xffffffffL;
      long b = java.nio.ByteBuffer.wrap(to).getInt() & 0xffffffffL;
      if (b < a || b - a > 65535) {
        throw new IllegalArgumentException("bad address range: " + part);
      }
      for (long x = a; x <= b; x++) {
        out.add(InetAddress.getByAddress(java.nio.ByteBuffer.allocate(4).putInt((int) x).array()));
      }
    }
    return out;
  }
}
