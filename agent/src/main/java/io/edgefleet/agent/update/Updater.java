package io.edgefleet.agent.update;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentMessage.AgentUpdate;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Updates the agent itself from its A/B slots. When the verified desired state names an agent
 * release that is not the running version, the release's signature is checked against the trusted
 * release keys (refused before any download when it does not hold), the file downloaded resumably
 * from the controller, its size and digest checked, its content extracted safely into a staging
 * directory next to the slots and checked against the signed facts, flushed, and renamed into the
 * inactive slot. Then a trial of that slot is recorded in {@code slots.json} and the agent ends, so
 * that the start script starts the new slot. The new agent confirms its trial once it connected,
 * holds a verified desired state and finished a reconcile pass; the script restores the previous
 * slot if it does not, and this feature reports the outcome (as {@link AgentMessage.AgentSlots}).
 *
 * <p>All file and network work runs on a thread of its own: the agent's threads only hand over what
 * happened. A kill at any instant leaves the active slot and {@code slots.json} untouched until the
 * final, atomic write of the trial.
 */
public final class Updater implements AgentFeature {

  /** The reason a targeted release is refused by an agent that was not started from slots. */
  public static final String NOT_FROM_SLOTS =
      "this agent does not run from slots (install the package to update it remotely)";

  /** The system property the start script sets to the slot this JVM runs from. */
  public static final String SLOT_PROPERTY = "edgefleet.agent.slot";

  /**
   * The system property the start script sets ({@code true}) on the run that records a slot's class
   * cache: see {@link #exitWhenProven}. A property, not a flag, so that an older release in a slot
   * ignores it instead of refusing to start.
   */
  public static final String EXIT_WHEN_PROVEN_PROPERTY = "edgefleet.agent.exitWhenProven";

  private static final Pattern MAIN_CLASS = Pattern.compile("[A-Za-z_$][A-Za-z0-9_$.]{0,255}");
  private static final Pattern JAVA_OPTION = Pattern.compile("[^\\p{Cntrl}\"\\\\]{1,512}");
  private static final Pattern LIB_JAR = Pattern.compile("lib/[^/]+\\.jar");
  private static final int MAX_JAVA_OPTIONS = 32;

  /**
   * How the updater runs.
   *
   * @param slots the slots directory, or null when the agent was not started from slots
   * @param keys the trusted release keys
   * @param trial how long a new release has to prove itself
   * @param limits bounds of a release's content
   * @param progressEvery the least time between two progress reports of a download
   * @param retryMin the first wait after a failed download (doubling up to {@code retryMax})
   * @param retryMax the longest wait between download attempts
   * @param arch this device's CPU architecture ({@code os.arch})
   * @param version the running agent's version
   * @param slot the slot this JVM runs from ({@code a}, {@code b}), or null
   */
  public record Options(
      Path slots,
      ReleaseKeys keys,
      Duration trial,
      ReleaseArchive.Limits limits,
      Duration progressEvery,
      Duration retryMin,
      Duration retryMax,
      String arch,
      String version,
      String slot) {

    /** The defaults for the running JVM: its architecture, version and slot. */
    public static Options of(Path slots, ReleaseKeys keys, Duration trial) {
      String slot = System.getProperty(SLOT_PROPERTY);
      return new Options(
          slots,
          keys,
          trial,
          ReleaseArchive.Limits.defaults(),
          Duration.ofSeconds(3),
          Duration.ofSeconds(5),
          Duration.ofMinutes(5),
          System.getProperty("os.arch"),
          io.edgefleet.agent.Facts.AGENT_VERSION,
          "a".equals(slot) || "b".equals(slot) ? slot : null);
    }
  }

  /** Fetches a release file by digest, resuming a partial download left next to {@code file}. */
  @FunctionalInterface
  public interface Downloader {
    void download(String digest, Path file, long maxBytes) throws IOException;
  }

  /** Something a person should hear about (also sent as a device event). */
  @FunctionalInterface
  public interface Events {
    void event(String kind, String severity, String message);
  }

  private final Options options;
  private final Downloader downloader;
  private final ScheduledExecutorService timer;
  private final Clock clock;
  private final PrintStream out;
  private final Events events;
  private final Runnable restart;
  private final ExecutorService worker;

  private volatile Channel channel;
  private volatile DesiredState desired;
  private volatile boolean reconciledSinceConnect;
  private volatile AgentUpdate update;
  private volatile boolean inTrial;
  private volatile boolean exitWhenProven;
  private volatile boolean closed;

  // Worker thread only.
  private String slot;
  private AgentRelease refusedRelease;
  private boolean switching;
  private boolean started;
  private Duration retry;
  private ScheduledFuture<?> retryTask;
  private ScheduledFuture<?> progressTask;

  /**
   * @param restart ends this agent so that the start script starts the slot on trial (in the agent:
   *     exit the JVM)
   */
  public Updater(
      Options options,
      Downloader downloader,
      ScheduledExecutorService timer,
      Clock clock,
      PrintStream out,
      Events events,
      Runnable restart) {
    this.options = options;
    this.downloader = downloader;
    this.timer = timer;
    this.clock = clock;
    this.out = out;
    this.events = events;
    this.restart = restart;
    this.retry = options.retryMin();
    this.worker =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "edgefleet-agent-update");
              t.setDaemon(true);
              return t;
            });
    submit(this::start);
  }

  /** The updater of an agent: downloads over its mutual-TLS channel, events as device events. */
  public static Updater forAgent(
      Agent agent,
      Options options,
      ScheduledExecutorService timer,
      Clock clock,
      PrintStream out,
      Runnable restart) {
    return new Updater(
        options,
        agent.controllerAccess()::download,
        timer,
        clock,
        out,
        (kind, severity, message) -> agent.event(kind, severity, null, message),
        restart);
  }

  /** The last update's state, or null. */
  public AgentUpdate update() {
    return update;
  }

  /**
   * Ends this agent (with the restart action) once it has proven itself, as a trial must:
   * connected, verified its desired state and reconciled; or after {@code atMost}, whichever comes
   * first. The start script asks for this on the run that records a slot's class cache: the cache
   * then holds what a start needs to reach the controller and nothing a long run happens to load
   * (every class in it is loaded at each start and costs memory for the agent's whole life).
   */
  public void exitWhenProven(Duration atMost) {
    exitWhenProven = true;
    timer.schedule(
        () -> submit(() -> endRecording("it did not prove itself within " + atMost)),
        atMost.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  private void endRecording(String why) {
    if (exitWhenProven && !closed) {
      exitWhenProven = false;
      out.println(
          "agent: the recording start ends (" + why + "); the next start uses its class cache");
      restart.run();
    }
  }

  /** Whether this agent runs a release on trial that has not confirmed yet. */
  public boolean inTrial() {
    return inTrial;
  }

  // ---------------------------------------------------------------- agent callbacks

  @Override
  public void connected(Channel channel, ControllerMessage.Welcome welcome) {
    this.channel = channel;
    reconciledSinceConnect = false;
    submit(this::report);
    // A download waits for the connection (the device's certificate and the controller's address).
    submit(this::work);
  }

  @Override
  public void disconnected() {
    channel = null;
    reconciledSinceConnect = false;
  }

  @Override
  public boolean handle(ControllerMessage message) {
    return false;
  }

  @Override
  public void applied(DesiredState state) {
    desired = state;
    submit(this::work);
  }

  @Override
  public void reconciled(long generation) {
    if (channel != null) {
      reconciledSinceConnect = true;
      if (inTrial || exitWhenProven) {
        submit(this::confirmIfProven);
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    worker.shutdownNow();
    cancel(retryTask);
    cancel(progressTask);
  }

  // ---------------------------------------------------------------- worker

  private void submit(Runnable task) {
    if (closed) {
      return;
    }
    try {
      worker.execute(
          () -> {
            try {
              task.run();
            } catch (RuntimeException e) {
              out.println("agent update: unexpected error: " + e);
            }
          });
    } catch (RejectedExecutionException e) {
      // Closed.
    }
  }

  /** Reads where this agent runs from and what the last switch ended in; cleans leftovers. */
  private void start() {
    started = true;
    if (options.slots() == null) {
      return;
    }
    SlotsFile.State s;
    try {
      s = SlotsFile.read(options.slots());
    } catch (IOException e) {
      out.println("agent update: " + e.getMessage());
      return;
    }
    slot = options.slot() != null ? options.slot() : s.active();
    if (slot != null && slot.equals(s.trial())) {
      inTrial = true;
      update =
          new AgentUpdate(
              s.trialVersion(), AgentUpdate.TRIAL, null, 0, 0, Instant.ofEpochSecond(s.at()));
      out.printf(
          "agent update: release %s in slot %s is on trial until %s%n",
          s.trialVersion(), slot, Instant.ofEpochSecond(s.deadline()));
    } else if (s.outcome() != null && s.outcomeVersion() != null) {
      String phase =
          AgentUpdate.CONFIRMED.equals(s.outcome())
              ? AgentUpdate.CONFIRMED
              : AgentUpdate.ROLLED_BACK;
      update =
          new AgentUpdate(
              s.outcomeVersion(),
              phase,
              phase.equals(AgentUpdate.ROLLED_BACK) ? s.reason() : null,
              0,
              0,
              Instant.ofEpochSecond(s.at()));
    }
    cleanLeftovers();
  }

  private void cleanLeftovers() {
    try (DirectoryStream<Path> dir =
        Files.newDirectoryStream(options.slots(), ".{staging,old}-*")) {
      for (Path p : dir) {
        deleteTree(p);
      }
    } catch (IOException e) {
      out.println("agent update: cannot clean " + options.slots() + ": " + e.getMessage());
    }
  }

  private void confirmIfProven() {
    if (channel == null || !reconciledSinceConnect || desired == null) {
      return;
    }
    if (inTrial) {
      confirm();
    }
    if (!inTrial) {
      endRecording("it connected, verified its desired state and reconciled");
    }
  }

  private void confirm() {
    try {
      SlotsFile.State s = SlotsFile.read(options.slots());
      if (!slot.equals(s.trial())) {
        return;
      }
      SlotsFile.write(options.slots(), s.confirmed(clock.instant()));
      inTrial = false;
      update =
          new AgentUpdate(s.trialVersion(), AgentUpdate.CONFIRMED, null, 0, 0, clock.instant());
      out.printf(
          "agent update: release %s in slot %s confirmed: it connected, verified its desired"
              + " state and reconciled%n",
          s.trialVersion(), slot);
      events.event(
          "agent-update-confirmed", "info", "agent release " + s.trialVersion() + " confirmed");
      report();
      submit(this::work);
    } catch (IOException e) {
      out.println("agent update: cannot confirm the trial: " + e.getMessage());
    }
  }

  /** Acts on the desired state's release, if it names one this agent does not run. */
  private void work() {
    DesiredState d = desired;
    AgentRelease r = d == null ? null : d.agent();
    if (!started
        || switching
        || r == null
        || r.version() == null
        || r.version().equals(options.version())) {
      return;
    }
    if (inTrial) {
      // A release on trial proves itself first; then this one is looked at.
      return;
    }
    if (r.equals(refusedRelease)) {
      // Refused already (and reported): the same release is not looked at again.
      return;
    }
    if (options.slots() == null) {
      refuse(r, NOT_FROM_SLOTS);
      return;
    }
    SlotsFile.State s;
    try {
      s = SlotsFile.read(options.slots());
    } catch (IOException e) {
      refuse(r, e.getMessage());
      return;
    }
    if (AgentUpdate.ROLLED_BACK.equals(s.outcome()) && r.version().equals(s.outcomeVersion())) {
      // Tried and given up: not again, until the controller asks for another release.
      if (update == null || !AgentUpdate.ROLLED_BACK.equals(update.phase())) {
        update =
            new AgentUpdate(
                r.version(),
                AgentUpdate.ROLLED_BACK,
                s.reason(),
                0,
                r.size(),
                Instant.ofEpochSecond(s.at()));
      }
      report();
      return;
    }
    if (s.trial() != null) {
      // A switch is recorded but this agent still runs: end it so the script starts the trial.
      switching = true;
      restart.run();
      return;
    }
    if (!options.arch().equals(r.arch())) {
      refuse(
          r,
          "release "
              + r.version()
              + " is for "
              + r.arch()
              + "; this device is "
              + options.arch()
              + " (roll out the "
              + options.arch()
              + " release to it)");
      return;
    }
    String untrusted = options.keys().check(r);
    if (untrusted != null) {
      refuse(r, untrusted);
      return;
    }
    if (r.size() > options.limits().maxBytes()) {
      refuse(
          r,
          "release "
              + r.version()
              + " is "
              + r.size()
              + " bytes; at most "
              + options.limits().maxBytes()
              + " are taken");
      return;
    }
    Path downloads = options.slots().resolve(".download");
    Path file = downloads.resolve(r.digest().substring("sha256:".length()) + ".tar.gz");
    try {
      Files.createDirectories(downloads);
      keepOnly(downloads, file.getFileName().toString());
      if (!Files.isRegularFile(file) && channel == null) {
        // Not connected yet: the download starts once the agent is.
        return;
      }
      if (!Files.isRegularFile(file)) {
        download(r, file);
      }
    } catch (IOException e) {
      String why = e.getMessage() == null ? e.toString() : e.getMessage();
      Duration wait = retry;
      retry =
          retry.multipliedBy(2).compareTo(options.retryMax()) > 0
              ? options.retryMax()
              : retry.multipliedBy(2);
      update =
          new AgentUpdate(
              r.version(),
              AgentUpdate.DOWNLOADING,
              "the download failed (" + why + "); trying again in " + wait.toSeconds() + "s",
              size(partOf(file)),
              r.size(),
              clock.instant());
      report();
      cancel(retryTask);
      retryTask = timer.schedule(() -> submit(this::work), wait.toMillis(), TimeUnit.MILLISECONDS);
      return;
    }
    retry = options.retryMin();
    try {
      String mismatch = verify(file, r);
      if (mismatch != null) {
        Files.deleteIfExists(file);
        refuse(r, mismatch);
        return;
      }
      stage(r, file, s);
    } catch (ReleaseArchive.Refused e) {
      refuse(r, "release " + r.version() + " is refused: " + e.getMessage());
    } catch (IOException e) {
      String why = e.getMessage() == null ? e.toString() : e.getMessage();
      update =
          new AgentUpdate(
              r.version(),
              AgentUpdate.REFUSED,
              "release " + r.version() + " could not be staged: " + why,
              r.size(),
              r.size(),
              clock.instant());
      refusedRelease = r;
      out.println("agent update: " + update.reason());
      report();
    }
  }

  private void download(AgentRelease r, Path file) throws IOException {
    update =
        new AgentUpdate(
            r.version(),
            AgentUpdate.DOWNLOADING,
            null,
            size(partOf(file)),
            r.size(),
            clock.instant());
    long have = size(partOf(file));
    out.printf(
        "agent update: downloading release %s (%d bytes%s)%n",
        r.version(), r.size(), have > 0 ? ", going on from " + have : "");
    report();
    long every = options.progressEvery().toMillis();
    cancel(progressTask);
    progressTask =
        timer.scheduleWithFixedDelay(() -> progress(r, file), every, every, TimeUnit.MILLISECONDS);
    try {
      downloader.download(r.digest(), file, r.size());
    } finally {
      cancel(progressTask);
    }
  }

  /** A progress report while downloading (from the timer: only reads the partial file's size). */
  private void progress(AgentRelease r, Path file) {
    AgentUpdate u = update;
    if (u == null
        || !AgentUpdate.DOWNLOADING.equals(u.phase())
        || !r.version().equals(u.version())) {
      return;
    }
    long bytes = size(partOf(file));
    if (bytes == u.bytes()) {
      return;
    }
    update = new AgentUpdate(u.version(), u.phase(), u.reason(), bytes, u.total(), clock.instant());
    report();
  }

  private void stage(AgentRelease r, Path file, SlotsFile.State s) throws IOException {
    String target = s.inactive();
    Path slots = options.slots();
    Path staging = slots.resolve(".staging-" + target);
    deleteTree(staging);
    List<String> files = ReleaseArchive.extract(file, staging, options.limits());
    String wrong = checkContent(files, staging, r);
    if (wrong != null) {
      deleteTree(staging);
      throw new ReleaseArchive.Refused(wrong);
    }
    SlotsFile.syncDirectory(slots);
    // The inactive slot is replaced: the old one is moved aside first (one rename), then the
    // staged one renamed into place; a crash leaves either, and slots.json still names the active
    // slot only.
    Path slotDir = slots.resolve(target);
    Path old = slots.resolve(".old-" + target);
    deleteTree(old);
    if (Files.exists(slotDir, LinkOption.NOFOLLOW_LINKS)) {
      Files.move(slotDir, old, StandardCopyOption.ATOMIC_MOVE);
    }
    Files.move(staging, slotDir, StandardCopyOption.ATOMIC_MOVE);
    SlotsFile.syncDirectory(slots);
    deleteTree(old);
    Files.deleteIfExists(file);
    update =
        new AgentUpdate(r.version(), AgentUpdate.STAGED, null, r.size(), r.size(), clock.instant());
    report();
    Instant deadline = clock.instant().plus(options.trial());
    SlotsFile.write(slots, SlotsFile.read(slots).withTrial(target, r.version(), deadline));
    out.printf(
        "agent update: release %s staged in slot %s; switching to it (it must prove itself by %s)%n",
        r.version(), target, deadline);
    events.event(
        "agent-update-switching",
        "info",
        "agent release " + r.version() + " staged in slot " + target + "; switching to it");
    switching = true;
    restart.run();
  }

  /** Why the extracted content does not match the signed release, or null. */
  private static String checkContent(List<String> files, Path dir, AgentRelease r)
      throws IOException {
    boolean jar = false;
    for (String f : files) {
      if (LIB_JAR.matcher(f).matches()) {
        jar = true;
      } else if (!f.equals(AgentReleaseManifest.FILE)) {
        return "it holds " + f + "; a release holds release.json and lib/*.jar only";
      }
    }
    Path manifest = dir.resolve(AgentReleaseManifest.FILE);
    if (!Files.isRegularFile(manifest)) {
      return "it has no release.json";
    }
    if (!jar) {
      return "it has no lib/*.jar";
    }
    if (Files.size(manifest) > 64 * 1024) {
      return "its release.json is larger than 64 KiB";
    }
    AgentReleaseManifest m;
    try {
      m = JsonCodec.read(Files.readString(manifest), AgentReleaseManifest.class);
    } catch (IOException | RuntimeException e) {
      return "its release.json is not a release manifest: " + e.getMessage();
    }
    if (m.format() != AgentReleaseManifest.FORMAT) {
      return "its release.json has format " + m.format() + "; this agent reads format 1";
    }
    if (!r.version().equals(m.version()) || !r.arch().equals(m.arch())) {
      return "its release.json says version "
          + m.version()
          + " for "
          + m.arch()
          + " but the signature is for "
          + r.version()
          + " for "
          + r.arch();
    }
    if (m.mainClass() == null || !MAIN_CLASS.matcher(m.mainClass()).matches()) {
      return "its release.json names no valid mainClass";
    }
    if (m.javaOptions().size() > MAX_JAVA_OPTIONS) {
      return "its release.json has more than " + MAX_JAVA_OPTIONS + " javaOptions";
    }
    for (String o : m.javaOptions()) {
      if (o == null || !JAVA_OPTION.matcher(o).matches() || !o.startsWith("-")) {
        return "its release.json has a java option the start script cannot pass: " + o;
      }
    }
    // The start script reads release.json with sed: no escapes in it.
    if (Files.readString(manifest).indexOf('\\') >= 0) {
      return "its release.json contains escapes, which the start script does not read";
    }
    return null;
  }

  private static String verify(Path file, AgentRelease r) throws IOException {
    long size = Files.size(file);
    String digest = sha256(file);
    if (size != r.size() || !digest.equals(r.digest())) {
      return "the downloaded release "
          + r.version()
          + " ("
          + size
          + " bytes, "
          + digest
          + ") does not match its signed size and digest ("
          + r.size()
          + " bytes, "
          + r.digest()
          + ") ["
          + ErrorCode.ARTIFACT_DIGEST_MISMATCH
          + "]; it was discarded";
    }
    return null;
  }

  private void refuse(AgentRelease r, String reason) {
    refusedRelease = r;
    update =
        new AgentUpdate(r.version(), AgentUpdate.REFUSED, reason, 0, r.size(), clock.instant());
    out.println("agent update: refused: " + reason);
    events.event("agent-update-refused", "error", reason);
    report();
  }

  // ---------------------------------------------------------------- reports

  /** The slots as they are now: the running slot, both slots' versions and the last update. */
  public AgentMessage.AgentSlots slots() {
    if (options.slots() == null) {
      return new AgentMessage.AgentSlots(null, null, null, update);
    }
    return new AgentMessage.AgentSlots(
        slot, version(options.slots().resolve("a")), version(options.slots().resolve("b")), update);
  }

  private void report() {
    Channel c = channel;
    if (c == null) {
      return;
    }
    c.send(slots());
  }

  private static String version(Path slotDir) {
    Path m = slotDir.resolve(AgentReleaseManifest.FILE);
    try {
      if (!Files.isRegularFile(m) || Files.size(m) > 64 * 1024) {
        return null;
      }
      return JsonCodec.read(Files.readString(m), AgentReleaseManifest.class).version();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  // ---------------------------------------------------------------- files

  private static Path partOf(Path file) {
    return file.resolveSibling(file.getFileName() + ".part");
  }

  private static long size(Path p) {
    try {
      return Files.isRegularFile(p) ? Files.size(p) : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  /** Deletes everything in {@code dir} but {@code keep} and its partial download. */
  private static void keepOnly(Path dir, String keep) throws IOException {
    Set<String> names = Set.of(keep, keep + ".part", keep + ".etag");
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path f : files) {
        if (!names.contains(f.getFileName().toString())) {
          deleteTree(f);
        }
      }
    }
  }

  static void deleteTree(Path p) throws IOException {
    SecureFiles.deleteTree(p);
  }

  static String sha256(Path file) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return "sha256:" + HexFormat.of().formatHex(md.digest());
  }

  private static void cancel(ScheduledFuture<?> f) {
    if (f != null) {
      f.cancel(false);
    }
  }
}
