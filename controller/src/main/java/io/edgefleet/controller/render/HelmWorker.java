package io.edgefleet.controller.render;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.controller.common.Directories;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs Helm in a child JVM ({@link HelmWorkerMain}) started from this JVM's own {@code java} and
 * class path, so the controller's JVM never loads helm-java's native library (whose Go runtime
 * takes over SIGTERM and SIGINT) and never carries its memory.
 *
 * <p>The process is started on the first request, answers one request at a time, and is replaced:
 * after {@link Options#requestsPerProcess} requests (Helm leaks native memory on every call), after
 * {@link Options#idleTimeout} without requests (so an idle controller carries no Helm memory), when
 * a request takes longer than {@link Options#requestTimeout} (it is killed), and when it dies. It
 * never outlives the controller: {@link #close} kills it, and it exits by itself when its standard
 * input closes, which the kernel does when the controller dies in any way. Each process gets its
 * own directory under {@code home} (helm-java unpacks its ~100 MB library there), deleted when the
 * process ends.
 *
 * <p>Thread-safe; requests are serialized.
 */
final class HelmWorker implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HelmWorker.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Answers are a line of a few hundred bytes; anything longer is not an answer. */
  private static final int MAX_LINE = 1 << 20;

  private static final int LAST_LINES = 10;

  /** The worker's JVM: small, since Helm's work happens in native memory. */
  static final List<String> DEFAULT_JVM_OPTIONS =
      List.of(
          "-XX:+UseSerialGC",
          "-Xms8m",
          "-Xmx128m",
          "-Xss512k",
          "-XX:MaxMetaspaceSize=64m",
          "-XX:TieredStopAtLevel=1",
          "-XX:CICompilerCount=1",
          "-XX:ReservedCodeCacheSize=32m",
          "-XX:+ExitOnOutOfMemoryError",
          "-Xshare:auto");

  /**
   * Tunables.
   *
   * @param startTimeout how long a new process may take to load Helm and say it is ready
   * @param requestTimeout how long one render or package may take; the process is killed then
   * @param requestsPerProcess requests one process serves before it is replaced
   * @param idleTimeout a process without requests for this long is stopped
   * @param jvmOptions options of the worker's JVM
   */
  record Options(
      Duration startTimeout,
      Duration requestTimeout,
      int requestsPerProcess,
      Duration idleTimeout,
      List<String> jvmOptions) {
    Options {
      if (requestsPerProcess < 1) {
        throw new IllegalArgumentException("requestsPerProcess must be positive");
      }
      jvmOptions = List.copyOf(jvmOptions);
    }

    static Options defaults() {
      return new Options(
          Duration.ofSeconds(60),
          Duration.ofSeconds(30),
          500,
          Duration.ofMinutes(10),
          DEFAULT_JVM_OPTIONS);
    }
  }

  private final Path home;
  private final Options options;
  private final AtomicLong starts = new AtomicLong();
  private volatile Worker current;
  private volatile boolean closed;
  // Guarded by this.
  private long nextId = 1;
  private long requests;
  private String noHelm;
  private ScheduledExecutorService idleTimer;
  private ScheduledFuture<?> idleStop;

  HelmWorker(Path home, Options options) {
    this.home = home;
    this.options = options;
  }

  /** How many worker processes were started. */
  long starts() {
    return starts.get();
  }

  /** The running worker process, if any. */
  Optional<ProcessHandle> process() {
    Worker w = current;
    return w == null || !w.process.isAlive() ? Optional.empty() : Optional.of(w.process.toHandle());
  }

  /**
   * {@code helm template}: writes the YAML to {@code out}.
   *
   * @param kubeVersion the Kubernetes version {@code .Capabilities} reports; null for Helm's
   * @param maxBytes the most YAML accepted
   * @throws RenderException with Helm's message if the chart does not render, or if Helm took
   *     longer than the request timeout or died twice on it
   * @throws HelmUnavailableException if Helm could not be started or the controller is stopping
   */
  void template(
      Path chart,
      Path values,
      String name,
      String namespace,
      String kubeVersion,
      Path out,
      long maxBytes) {
    ObjectNode r =
        JSON.createObjectNode()
            .put("op", "template")
            .put("chart", chart.toString())
            .put("values", values.toString())
            .put("name", name)
            .put("namespace", namespace)
            .put("out", out.toString())
            .put("maxBytes", maxBytes);
    if (kubeVersion != null) {
      r.put("kubeVersion", kubeVersion);
    }
    call(r);
  }

  /**
   * {@code helm package}: writes the archive into {@code outDir}.
   *
   * @return the archive Helm wrote
   * @throws RenderException with Helm's message if the chart is invalid
   * @throws HelmUnavailableException if Helm could not be started or the controller is stopping
   */
  Path packageChart(Path chart, Path outDir) {
    JsonNode a =
        call(
            JSON.createObjectNode()
                .put("op", "package")
                .put("chart", chart.toString())
                .put("out", outDir.toString()));
    return Path.of(a.path("file").asText());
  }

  private synchronized JsonNode call(ObjectNode request) {
    if (closed) {
      throw stopping();
    }
    if (noHelm != null) {
      throw new HelmUnavailableException(noHelm);
    }
    requests++;
    if (idleStop != null) {
      idleStop.cancel(false);
    }
    String op = request.path("op").asText();
    try {
      for (int attempt = 1; ; attempt++) {
        Worker w = ready();
        long id = nextId++;
        JsonNode answer;
        try {
          answer = w.ask(request.put("id", id), options.requestTimeout());
        } catch (TimedOut e) {
          stop(w);
          throw new RenderException(
              "Helm did not finish within "
                  + options.requestTimeout().toSeconds()
                  + " s and was stopped; a chart must render in less (look for loops over"
                  + " large ranges in its templates)");
        } catch (Died e) {
          stop(w);
          if (closed) {
            throw stopping();
          }
          if (attempt == 2) {
            throw new RenderException(
                "Helm stopped unexpectedly on this chart twice in a row (" + e.getMessage() + ")");
          }
          LOG.warn(
              "Helm stopped unexpectedly during helm {} ({}); trying again", op, e.getMessage());
          continue;
        }
        if (++w.served >= options.requestsPerProcess()) {
          // Helm leaks native memory on every call: a fresh process returns it.
          LOG.debug("replacing the Helm process after {} requests", w.served);
          stop(w);
        }
        if (!answer.path("ok").asBoolean()) {
          throw new RenderException(answer.path("error").asText("Helm failed without a message"));
        }
        return answer;
      }
    } finally {
      scheduleIdleStop();
    }
  }

  private void scheduleIdleStop() {
    if (closed || current == null) {
      return;
    }
    if (idleTimer == null) {
      idleTimer =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "edgefleet-helm-idle");
                t.setDaemon(true);
                return t;
              });
    }
    long at = requests;
    idleStop =
        idleTimer.schedule(
            () -> stopIfIdle(at), options.idleTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  private synchronized void stopIfIdle(long requestsThen) {
    Worker w = current;
    if (w != null && requests == requestsThen) {
      LOG.debug("stopping the idle Helm process");
      stop(w);
    }
  }

  /** The running worker, started if there is none. */
  private Worker ready() {
    Worker w = current;
    if (w != null && w.process.isAlive()) {
      return w;
    }
    if (w != null) {
      stop(w);
    }
    long n = starts.incrementAndGet();
    Path dir = home.resolve("worker-" + n);
    Process process;
    try {
      Files.createDirectories(dir);
      ProcessBuilder pb = new ProcessBuilder(command(dir)).directory(dir.toFile());
      // The worker's JVM is sized here, not by options meant for the controller's.
      pb.environment().remove("JAVA_TOOL_OPTIONS");
      pb.environment().remove("JDK_JAVA_OPTIONS");
      pb.environment().remove("_JAVA_OPTIONS");
      process = pb.start();
    } catch (IOException e) {
      Directories.delete(dir);
      throw new HelmUnavailableException("cannot start the Helm process: " + e.getMessage(), e);
    }
    w = new Worker(process, dir);
    current = w;
    if (closed) {
      stop(w);
      throw stopping();
    }
    JsonNode hello;
    try {
      hello = w.await(0, options.startTimeout());
    } catch (TimedOut e) {
      stop(w);
      throw new HelmUnavailableException(
          "the Helm process did not start within " + options.startTimeout().toSeconds() + " s");
    } catch (Died e) {
      stop(w);
      if (closed) {
        throw stopping();
      }
      throw new HelmUnavailableException(
          "the Helm process exited while starting: " + e.getMessage());
    }
    if (!hello.path("ok").asBoolean()) {
      stop(w);
      noHelm =
          "Helm is not available in this controller ("
              + hello.path("error").asText()
              + "); it needs the helm-java native library for this platform (linux-amd64)";
      throw new HelmUnavailableException(noHelm);
    }
    LOG.info(
        "started the Helm process (pid {}, Helm {})", process.pid(), hello.path("helm").asText());
    return w;
  }

  private List<String> command(Path dir) {
    List<String> cmd = new ArrayList<>();
    cmd.add(javaBinary());
    cmd.addAll(options.jvmOptions());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-Djava.io.tmpdir=" + dir);
    // helm-java would otherwise download a native library from the internet when none is on the
    // class path; the controller must only ever run the one it was built with.
    cmd.add("-Dcom.marcnuri.jkube-helm.skipRemoteJar=true");
    cmd.add("-cp");
    cmd.add(classPath());
    cmd.add(HelmWorkerMain.class.getName());
    return cmd;
  }

  /** This JVM's class path with absolute entries: the worker runs in a directory of its own. */
  private static String classPath() {
    List<String> entries = new ArrayList<>();
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (!e.isEmpty()) {
        entries.add(Path.of(e).toAbsolutePath().toString());
      }
    }
    return String.join(File.pathSeparator, entries);
  }

  private static String javaBinary() {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    if (Files.isExecutable(java)) {
      return java.toString();
    }
    return ProcessHandle.current().info().command().orElse("java");
  }

  /** Ends the worker without waiting; its directory is deleted once it has exited. */
  private void stop(Worker w) {
    if (current == w) {
      current = null;
    }
    w.process.destroyForcibly();
    w.process.onExit().thenRun(() -> w.deleteDir());
  }

  private static HelmUnavailableException stopping() {
    return new HelmUnavailableException("the controller is stopping; Helm no longer runs");
  }

  /** Kills the worker and waits (at most a few seconds) until it is gone with its directory. */
  @Override
  public void close() {
    closed = true;
    synchronized (this) {
      if (idleTimer != null) {
        idleTimer.shutdownNow();
      }
    }
    Worker w = current;
    if (w != null) {
      w.process.destroyForcibly();
      try {
        w.process.waitFor(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      w.deleteDir();
    }
  }

  /** The worker answered nothing within the time allowed. */
  private static final class TimedOut extends Exception {
    TimedOut() {
      super(null, null, false, false);
    }
  }

  /** The worker's output ended: it exited or was killed. The message says how. */
  private static final class Died extends Exception {
    Died(String how) {
      super(how, null, false, false);
    }
  }

  /** One line the worker wrote; {@code text} is null at the end of its output. */
  private record Line(String text) {}

  /** One worker process and the threads reading its output. */
  private static final class Worker {
    final Process process;
    final Path dir;
    final BlockingQueue<Line> lines = new LinkedBlockingQueue<>(1000);
    final Deque<String> lastLines = new ArrayDeque<>();
    final Thread stderrReader;
    int served;

    Worker(Process process, Path dir) {
      this.process = process;
      this.dir = dir;
      long pid = process.pid();
      daemon("edgefleet-helm-out-" + pid, this::readAnswers).start();
      stderrReader = daemon("edgefleet-helm-err-" + pid, this::readErrors);
      stderrReader.start();
    }

    JsonNode ask(ObjectNode request, Duration timeout) throws TimedOut, Died {
      try {
        OutputStream in = process.getOutputStream();
        in.write(JSON.writeValueAsBytes(request));
        in.write('\n');
        in.flush();
      } catch (IOException e) {
        throw new Died(exit());
      }
      return await(request.path("id").asLong(), timeout);
    }

    JsonNode await(long id, Duration timeout) throws TimedOut, Died {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (true) {
        long left = deadline - System.nanoTime();
        Line line;
        try {
          line = left <= 0 ? null : lines.poll(left, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new HelmUnavailableException("interrupted while waiting for Helm");
        }
        if (line == null) {
          throw new TimedOut();
        }
        if (line.text() == null) {
          throw new Died(exit());
        }
        JsonNode answer = parse(line.text());
        if (answer != null && answer.path("id").asLong(-1) == id) {
          return answer;
        }
        // Not an answer: the JVM itself writes some last words here (an OutOfMemoryError).
        LOG.warn("Helm process {}: {}", process.pid(), line.text());
        remember(line.text());
      }
    }

    /** Keeps the last lines the process wrote besides its answers, to say why it ended. */
    private void remember(String line) {
      synchronized (lastLines) {
        lastLines.addLast(line);
        if (lastLines.size() > LAST_LINES) {
          lastLines.removeFirst();
        }
      }
    }

    private static JsonNode parse(String line) {
      try {
        JsonNode n = JSON.readTree(line);
        return n != null && n.isObject() ? n : null;
      } catch (IOException e) {
        return null;
      }
    }

    /** How the process ended, with the last lines it wrote besides its answers. */
    private String exit() {
      try {
        process.waitFor(2, TimeUnit.SECONDS);
        // Its last words may still be on their way.
        stderrReader.join(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      String how = process.isAlive() ? "its output ended" : "exit status " + process.exitValue();
      synchronized (lastLines) {
        return lastLines.isEmpty() ? how : how + ": " + String.join(" | ", lastLines);
      }
    }

    private void readAnswers() {
      try (InputStream out = process.getInputStream()) {
        String line;
        while ((line = readLine(out)) != null) {
          lines.offer(new Line(line));
        }
      } catch (IOException e) {
        // Same as the end of the output: the process is gone.
      }
      // The end marker must get in; if stray output filled the queue, the oldest lines make room.
      while (!lines.offer(new Line(null))) {
        lines.poll();
      }
    }

    private void readErrors() {
      try (InputStream err = process.getErrorStream()) {
        String line;
        while ((line = readLine(err)) != null) {
          LOG.warn("Helm process {}: {}", process.pid(), line);
          remember(line);
        }
      } catch (IOException e) {
        // The process is gone.
      }
    }

    /** One line without its end; a longer line than {@link #MAX_LINE} is cut there. */
    private static String readLine(InputStream in) throws IOException {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) != -1 && b != '\n') {
        if (line.size() < MAX_LINE) {
          line.write(b);
        }
      }
      if (b == -1 && line.size() == 0) {
        return null;
      }
      return line.toString(StandardCharsets.UTF_8);
    }

    void deleteDir() {
      try {
        Directories.delete(dir);
      } catch (UncheckedIOException e) {
        LOG.warn("cannot delete {}: {}", dir, e.getMessage());
      }
    }

    private static Thread daemon(String name, Runnable r) {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    }
  }
}
