package io.edgefleet.bench.tls;

import io.edgefleet.protocol.Json;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionTicketKey;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Security;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLEngine;

/**
 * What a TLS 1.3 mutual-TLS handshake with a device costs the controller: the server side's thread
 * CPU time per connection, for the JDK's JSSE, for Conscrypt (BoringSSL) as the JSSE provider, and
 * for netty-tcnative (BoringSSL) through Netty's OpenSSL engine; each full and resumed (session
 * ticket), and resumed on another server context holding the same ticket key (another replica, or
 * the controller after a restart). Also the public-key operations alone, per provider.
 *
 * <p>Client and server are {@link SSLEngine} pairs driven in one thread (see {@link EnginePair}):
 * the controller's Jetty drives an SSLEngine too, and one thread lets each engine call be charged
 * exactly to its side, with no socket or scheduling noise in the figure. The variants run
 * interleaved, one batch each per round, so background load falls on all alike; figures are
 * medians.
 *
 * <pre>
 * TlsHandshakeBench [--rounds N] [--per-round N] [--warmup-rounds N] [--devices N] [--out FILE]
 * </pre>
 */
public final class TlsHandshakeBench {
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

  private TlsHandshakeBench() {}

  /** How the client comes to a server. */
  private enum Kind {
    FULL,
    RESUMED,
    RESUMED_ON_OTHER_SERVER
  }

  private record Variant(
      String name, Kind kind, ServerStack server, ServerStack other, DeviceClients clients) {}

  /** Samples of one variant over all rounds. */
  private static final class Samples {
    final List<Long> server = new ArrayList<>();
    final List<Long> client = new ArrayList<>();
    final List<Double> roundMedians = new ArrayList<>();
    final List<Double> processPerConnection = new ArrayList<>();
    long attempts;
    long resumed;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    int rounds = Integer.parseInt(a.getOrDefault("rounds", "9"));
    int perRound = Integer.parseInt(a.getOrDefault("per-round", "150"));
    int warmupRounds = Integer.parseInt(a.getOrDefault("warmup-rounds", "3"));
    // More than the 750 certificates the JDK keeps parsed and verified (see DeviceClients).
    int devices = Integer.parseInt(a.getOrDefault("devices", "1000"));
    int returningDevices = Math.min(devices, 32);
    // Netty's OpenSSL server context reads the JDK's property: TLS 1.3 tickets unless it is false,
    // TLS 1.2 tickets only when it is true. Set to the JDK's default, as the controller runs.
    System.setProperty("jdk.tls.server.enableSessionTicketExtension", "true");

    Path dir = Files.createTempDirectory("tls-bench");
    TlsMaterial m = TlsMaterial.create(dir, devices);
    Provider conscrypt = org.conscrypt.Conscrypt.newProvider();
    // Registered last, so that only what names it uses it: the "chain checked by Conscrypt"
    // variants name it as PKIX's signature provider.
    Security.addProvider(conscrypt);
    Optional<String> chainByConscrypt = Optional.of(conscrypt.getName());
    boolean netty = OpenSsl.isAvailable();
    if (!netty) {
      System.out.println("netty-tcnative unavailable: " + OpenSsl.unavailabilityCause());
    }

    Map<String, Object> results = new LinkedHashMap<>();
    results.put("date", Instant.now().toString());
    results.put(
        "java", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
    var cv = org.conscrypt.Conscrypt.version();
    results.put("conscrypt", cv.major() + "." + cv.minor() + "." + cv.patch());
    results.put("nettyTcnative", netty ? OpenSsl.versionString() : "unavailable");
    results.put(
        "setup",
        "SSLEngine pairs in one thread; JDK TLS 1.3 clients (one key and certificate per device, "
            + devices
            + " devices taken in turn for full handshakes, the first "
            + returningDevices
            + " for resumed ones); server: ControllerPki's P-256 CA and server certificate, chain"
            + " [server, CA], want client auth, JDK PKIX trust manager; a connection is the"
            + " handshake plus a 25-byte request and a 12-byte answer");
    results.put("timerOverheadNanos", timerOverhead());
    results.put("ticketChecks", ticketChecks(m, conscrypt, netty));

    byte[] shared = new byte[48];
    new SecureRandom().nextBytes(shared);
    OpenSslSessionTicketKey key =
        new OpenSslSessionTicketKey(
            Arrays.copyOfRange(shared, 0, 16),
            Arrays.copyOfRange(shared, 16, 32),
            Arrays.copyOfRange(shared, 32, 48));
    ServerStack jdk = ServerStack.Jsse.create(m, Optional.empty());
    ServerStack cons = ServerStack.Jsse.create(m, Optional.of(conscrypt));
    // The full handshakes share one set of clients, so each device comes back only after all
    // the others, whichever server it met.
    DeviceClients all = new DeviceClients(m, devices);
    List<Variant> variants = new ArrayList<>();
    variants.add(new Variant("jdk-full", Kind.FULL, jdk, jdk, all));
    variants.add(
        new Variant("jdk-resumed", Kind.RESUMED, jdk, jdk, new DeviceClients(m, returningDevices)));
    ServerStack jdkChain = ServerStack.Jsse.create(m, Optional.empty(), chainByConscrypt);
    variants.add(
        new Variant("jdk-full-chain-check-by-conscrypt", Kind.FULL, jdkChain, jdkChain, all));
    variants.add(new Variant("conscrypt-full", Kind.FULL, cons, cons, all));
    ServerStack consChain = ServerStack.Jsse.create(m, Optional.of(conscrypt), chainByConscrypt);
    variants.add(
        new Variant(
            "conscrypt-full-chain-check-by-conscrypt", Kind.FULL, consChain, consChain, all));
    variants.add(
        new Variant(
            "conscrypt-resumed", Kind.RESUMED, cons, cons, new DeviceClients(m, returningDevices)));
    if (netty) {
      ServerStack n1 = ServerStack.Netty.create(m, Optional.of(key));
      ServerStack n2 = ServerStack.Netty.create(m, Optional.of(key));
      variants.add(new Variant("netty-full", Kind.FULL, n1, n1, all));
      ServerStack nChain = ServerStack.Netty.create(m, Optional.of(key), chainByConscrypt);
      variants.add(
          new Variant("netty-full-chain-check-by-conscrypt", Kind.FULL, nChain, nChain, all));
      variants.add(
          new Variant(
              "netty-resumed", Kind.RESUMED, n1, n1, new DeviceClients(m, returningDevices)));
      variants.add(
          new Variant(
              "netty-resumed-other-replica-shared-key",
              Kind.RESUMED_ON_OTHER_SERVER,
              n1,
              n2,
              new DeviceClients(m, returningDevices)));
    }

    List<CryptoPieces> providers =
        List.of(new CryptoPieces(Security.getProvider("SunEC")), new CryptoPieces(conscrypt));
    Map<String, List<Double>> pieceRuns = new LinkedHashMap<>();
    double loadBefore = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    EnginePair pair = new EnginePair();
    Map<String, Samples> samples = new LinkedHashMap<>();
    for (Variant v : variants) {
      samples.put(v.name(), new Samples());
    }
    for (int r = 0; r < warmupRounds; r++) {
      for (Variant v : variants) {
        batch(v, pair, perRound, new Samples());
      }
      pieces(providers, new LinkedHashMap<>());
      System.out.printf("warm-up round %d/%d done%n", r + 1, warmupRounds);
    }
    for (int r = 0; r < rounds; r++) {
      // Rotate the order, so no variant always runs right after the same other one.
      for (int i = 0; i < variants.size(); i++) {
        Variant v = variants.get((i + r) % variants.size());
        batch(v, pair, perRound, samples.get(v.name()));
      }
      pieces(providers, pieceRuns);
      System.out.printf("round %d/%d done%n", r + 1, rounds);
    }

    Map<String, Object> handshakes = new LinkedHashMap<>();
    System.out.println();
    System.out.printf(
        "%-40s %10s %10s %10s %10s %12s %10s%n",
        "server CPU per connection (us)",
        "median",
        "p10",
        "p90",
        "rounds",
        "client med",
        "resumed");
    for (var e : samples.entrySet()) {
      Samples s = e.getValue();
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("serverCpuMicrosMedian", micros(median(s.server)));
      row.put("serverCpuMicrosP10", micros(percentile(s.server, 0.10)));
      row.put("serverCpuMicrosP90", micros(percentile(s.server, 0.90)));
      row.put("serverCpuMicrosRoundMedianMin", micros(min(s.roundMedians)));
      row.put("serverCpuMicrosRoundMedianMax", micros(max(s.roundMedians)));
      row.put("clientCpuMicrosMedian", micros(median(s.client)));
      row.put("processCpuMicrosPerConnectionMedian", micros(medianD(s.processPerConnection)));
      row.put("connections", s.server.size());
      row.put("attempts", s.attempts);
      row.put("resumed", s.resumed);
      handshakes.put(e.getKey(), row);
      System.out.printf(
          "%-40s %10.0f %10.0f %10.0f %4.0f-%-5.0f %12.0f %5d/%-5d%n",
          e.getKey(),
          micros(median(s.server)),
          micros(percentile(s.server, 0.10)),
          micros(percentile(s.server, 0.90)),
          micros(min(s.roundMedians)),
          micros(max(s.roundMedians)),
          micros(median(s.client)),
          s.resumed,
          s.attempts);
    }
    results.put("handshakes", handshakes);
    results.put("pieces", piecesTable(providers, pieceRuns));
    results.put(
        "loadAverage",
        loadBefore
            + " at the start, "
            + ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()
            + " at the end");

    String json = Json.pretty(results);
    Path out =
        Path.of(a.getOrDefault("out", "bench/results/tls-handshake-" + LocalDate.now() + ".json"));
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, json + "\n");
    System.out.println("wrote " + out);
    System.exit(0);
  }

  /** One batch of {@code n} connections of one variant, devices in turn. */
  private static void batch(Variant v, EnginePair pair, int n, Samples s) throws Exception {
    List<Long> round = new ArrayList<>();
    var os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long processBefore = os.getProcessCpuTime();
    int measured = 0;
    for (int i = 0; i < n; i++) {
      int device = v.clients().nextDevice();
      SSLEngine client;
      ServerStack stack = v.server();
      switch (v.kind()) {
        case FULL -> client = v.clients().fresh(device);
        case RESUMED -> client = v.clients().returning(device);
        case RESUMED_ON_OTHER_SERVER -> {
          // A ticket from the first server, offered to the second.
          connect(pair, v.clients().returning(device), stack);
          client = v.clients().returning(device);
          stack = v.other();
        }
        default -> throw new IllegalStateException();
      }
      long checks = v.clients().serverChainChecks();
      EnginePair.Cost cost = connect(pair, client, stack);
      boolean resumed = v.clients().serverChainChecks() == checks;
      s.attempts++;
      if (resumed) {
        s.resumed++;
      }
      // A full handshake in a resumed variant is a device getting its first ticket: not counted.
      if (resumed == (v.kind() != Kind.FULL)) {
        s.server.add(cost.serverNanos());
        s.client.add(cost.clientNanos());
        round.add(cost.serverNanos());
        measured++;
      }
    }
    long process = os.getProcessCpuTime() - processBefore;
    if (measured > 0) {
      s.roundMedians.add((double) median(round));
      int connections = v.kind() == Kind.RESUMED_ON_OTHER_SERVER ? 2 * n : n;
      s.processPerConnection.add(process / (double) connections);
    }
  }

  private static EnginePair.Cost connect(EnginePair pair, SSLEngine client, ServerStack stack)
      throws Exception {
    SSLEngine server = stack.newEngine();
    try {
      return pair.connect(client, server);
    } finally {
      stack.release(server);
      client.closeOutbound();
    }
  }

  /**
   * Does a ticket issued by one server context resume on another (a replica, or the same controller
   * after a restart)? 20 devices each: a full handshake on the first, then one on the second.
   */
  private static Map<String, Object> ticketChecks(TlsMaterial m, Provider conscrypt, boolean netty)
      throws Exception {
    Map<String, Object> out = new LinkedHashMap<>();
    EnginePair pair = new EnginePair();
    out.put(
        "jdk: same server context",
        resumedOn(m, pair, ServerStack.Jsse.create(m, Optional.empty()), Optional.empty()));
    out.put(
        "jdk: another server context",
        resumedOn(
            m,
            pair,
            ServerStack.Jsse.create(m, Optional.empty()),
            Optional.of(ServerStack.Jsse.create(m, Optional.empty()))));
    out.put(
        "conscrypt: same server context",
        resumedOn(m, pair, ServerStack.Jsse.create(m, Optional.of(conscrypt)), Optional.empty()));
    out.put(
        "conscrypt: another server context",
        resumedOn(
            m,
            pair,
            ServerStack.Jsse.create(m, Optional.of(conscrypt)),
            Optional.of(ServerStack.Jsse.create(m, Optional.of(conscrypt)))));
    if (netty) {
      out.put(
          "netty: same server context",
          resumedOn(m, pair, ServerStack.Netty.create(m, Optional.empty()), Optional.empty()));
      out.put(
          "netty: another server context, own ticket keys",
          resumedOn(
              m,
              pair,
              ServerStack.Netty.create(m, Optional.empty()),
              Optional.of(ServerStack.Netty.create(m, Optional.empty()))));
      OpenSslSessionTicketKey k = randomKey();
      out.put(
          "netty: another server context, same ticket key (setTicketKeys)",
          resumedOn(
              m,
              pair,
              ServerStack.Netty.create(m, Optional.of(k)),
              Optional.of(ServerStack.Netty.create(m, Optional.of(k)))));
      // Rotation: the second server encrypts with a new key and still decrypts with the old one.
      OpenSslSessionTicketKey newer = randomKey();
      ServerStack.Netty rotated = ServerStack.Netty.create(m, Optional.empty());
      ((io.netty.handler.ssl.OpenSslServerSessionContext) rotated.context().sessionContext())
          .setTicketKeys(newer, k);
      out.put(
          "netty: another server context, rotated keys (new, old)",
          resumedOn(m, pair, ServerStack.Netty.create(m, Optional.of(k)), Optional.of(rotated)));
    }
    for (var e : out.entrySet()) {
      System.out.printf("ticket check: %-66s %s%n", e.getKey(), e.getValue());
    }
    return out;
  }

  private static String resumedOn(
      TlsMaterial m, EnginePair pair, ServerStack first, Optional<ServerStack> second)
      throws Exception {
    int tries = Math.min(20, m.devices().size());
    return resumedCount(m, pair, first, second.orElse(first), tries) + " of " + tries + " resumed";
  }

  /**
   * How many of {@code tries} devices, each given a ticket by {@code first}, resume with it on
   * {@code second}.
   */
  static int resumedCount(
      TlsMaterial m, EnginePair pair, ServerStack first, ServerStack second, int tries)
      throws Exception {
    DeviceClients clients = new DeviceClients(m, tries);
    int resumed = 0;
    for (int d = 0; d < tries; d++) {
      connect(pair, clients.returning(d), first);
      long checks = clients.serverChainChecks();
      connect(pair, clients.returning(d), second);
      if (clients.serverChainChecks() == checks) {
        resumed++;
      }
    }
    return resumed;
  }

  static OpenSslSessionTicketKey randomKey() {
    byte[] b = new byte[48];
    new SecureRandom().nextBytes(b);
    return new OpenSslSessionTicketKey(
        Arrays.copyOfRange(b, 0, 16), Arrays.copyOfRange(b, 16, 32), Arrays.copyOfRange(b, 32, 48));
  }

  private static final int PIECE_OPS = 300;

  /** One batch of each piece with each provider. */
  private static void pieces(List<CryptoPieces> providers, Map<String, List<Double>> runs)
      throws Exception {
    for (CryptoPieces p : providers) {
      for (CryptoPieces.Piece piece : CryptoPieces.Piece.values()) {
        double ns = p.nanosPerOp(piece, PIECE_OPS);
        runs.computeIfAbsent(p.provider() + " " + piece, k -> new ArrayList<>()).add(ns);
      }
    }
  }

  /** Median thread CPU per operation of each piece and provider, over the rounds. */
  private static Map<String, Object> piecesTable(
      List<CryptoPieces> providers, Map<String, List<Double>> runs) {
    Map<String, Object> out = new LinkedHashMap<>();
    System.out.println();
    System.out.printf("%-45s %12s%n", "piece (thread CPU per operation)", "median us");
    for (var e : runs.entrySet()) {
      double us = medianD(e.getValue()) / 1000.0;
      out.put(e.getKey(), Math.round(us * 10) / 10.0);
      System.out.printf("%-45s %12.1f%n", e.getKey(), us);
    }
    long sink = 0;
    for (CryptoPieces p : providers) {
      sink += p.sink();
    }
    out.put("opsPerRound", PIECE_OPS);
    out.put("checksum", sink);
    return out;
  }

  /** What one pair of thread CPU time readings costs, in nanoseconds (median of 1000 pairs). */
  private static long timerOverhead() {
    List<Long> d = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      long a = CPU.getCurrentThreadCpuTime();
      long b = CPU.getCurrentThreadCpuTime();
      d.add(b - a);
    }
    return median(d);
  }

  private static long median(List<Long> v) {
    return percentile(v, 0.5);
  }

  private static long percentile(List<Long> v, double p) {
    if (v.isEmpty()) {
      return 0;
    }
    List<Long> s = new ArrayList<>(v);
    s.sort(null);
    return s.get((int) Math.min(s.size() - 1, Math.floor(p * s.size())));
  }

  private static double medianD(List<Double> v) {
    if (v.isEmpty()) {
      return 0;
    }
    List<Double> s = new ArrayList<>(v);
    s.sort(null);
    return s.get(s.size() / 2);
  }

  private static double min(List<Double> v) {
    return v.stream().mapToDouble(Double::doubleValue).min().orElse(0);
  }

  private static double max(List<Double> v) {
    return v.stream().mapToDouble(Double::doubleValue).max().orElse(0);
  }

  private static double micros(double nanos) {
    return Math.round(nanos / 100.0) / 10.0;
  }
}
