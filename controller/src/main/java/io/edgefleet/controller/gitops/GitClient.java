package io.edgefleet.controller.gitops;

import io.edgefleet.controller.common.Directories;
import io.edgefleet.controller.render.Bundle;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jgit.api.FetchCommand;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.LsRemoteCommand;
import org.eclipse.jgit.api.TransportCommand;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.api.errors.TransportException;
import org.eclipse.jgit.errors.MissingObjectException;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectReader;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.eclipse.jgit.transport.RefSpec;
import org.eclipse.jgit.transport.SshTransport;
import org.eclipse.jgit.transport.TagOpt;
import org.eclipse.jgit.transport.UsernamePasswordCredentialsProvider;
import org.eclipse.jgit.transport.sshd.SshdSessionFactory;
import org.eclipse.jgit.transport.sshd.SshdSessionFactoryBuilder;
import org.eclipse.jgit.treewalk.TreeWalk;

/**
 * JGit operations for the engine: the cheap remote head check ({@code ls-remote}), fetching one
 * branch into a local bare repository per source, and reading a commit's application directories.
 *
 * <p>Calls for one source must not overlap (the engine holds a per-source lock); calls for
 * different sources may run in parallel. Failures to reach or read the remote are {@link
 * GitFailure}s with a message for operators.
 */
final class GitClient implements AutoCloseable {
  static final long MAX_APP_BYTES = 16L << 20;
  static final long MAX_COMMIT_BYTES = 128L << 20;
  private static final String LOCAL_REF = "refs/edgefleet/head";
  private static final int GC_EVERY = 50;

  private final Path reposDir;
  private final Path sshHome;
  private final int timeoutSeconds;
  private final ConcurrentHashMap<String, SshdSessionFactory> sshFactories =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Integer> fetchCounts = new ConcurrentHashMap<>();

  /** A failure to talk to the remote or to use the local clone; the message is for operators. */
  static class GitFailure extends RuntimeException {
    GitFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The remote has no branches at all, and none was asked for. */
  static final class NoBranches extends GitFailure {
    NoBranches(String message) {
      super(message, null);
    }
  }

  /** Credentials for one remote. */
  sealed interface Credentials {
    record None() implements Credentials {}

    record Token(String user, String token) implements Credentials {}

    record Ssh(KeyPair key, SshKeys.Pin hostKey) implements Credentials {}

    /** The user a bare token authenticates as over http(s) (the convention of Git hosts). */
    String DEFAULT_TOKEN_USER = "x-access-token";

    /**
     * The credentials of a source.
     *
     * @param auth {@code token}, {@code ssh} or anything else for none
     * @param secret the token ({@code TOKEN} or {@code USER:TOKEN}) or the private key text
     * @param hostKey the pinned ssh host key, if any
     */
    static Credentials of(String auth, String secret, Optional<PublicKey> hostKey) {
      return switch (auth) {
        case "token" -> {
          int colon = secret.indexOf(':');
          yield colon > 0
              ? new Token(secret.substring(0, colon), secret.substring(colon + 1))
              : new Token(DEFAULT_TOKEN_USER, secret);
        }
        case "ssh" -> new Ssh(SshKeys.privateKey(secret), new SshKeys.Pin(hostKey));
        default -> new None();
      };
    }
  }

  record Remote(String source, String url, String branch, Credentials credentials) {}

  /** One application directory at a commit. */
  record AppTree(String name, String treeId, SortedMap<String, byte[]> files) {}

  /**
   * A fetched commit. {@code contentError} is present when the commit cannot be used as is (path
   * missing, invalid application names, symlinks, oversized directories); {@code apps} is empty
   * then.
   */
  record Snapshot(
      String sha,
      String author,
      String message,
      Instant committedAt,
      List<AppTree> apps,
      String contentError,
      String rolloutPolicy) {}

  /** A rollout policy file next to the application directories applies to all of them. */
  static final String ROLLOUT_POLICY_FILE = "edgefleet-rollout.yaml";

  private static final int MAX_POLICY_BYTES = 256 * 1024;

  GitClient(Path reposDir, Path sshHome, Duration timeout) {
    this.reposDir = reposDir;
    this.sshHome = sshHome;
    this.timeoutSeconds = (int) Math.max(1, timeout.toSeconds());
  }

  /**
   * The tip of a remote branch.
   *
   * @param sha the commit at the tip
   * @param branch the branch: the one asked for, or the remote's default branch when none was
   */
  record Tip(String sha, String branch) {}

  /**
   * The SHA at the tip of the remote branch; when the remote names no branch ({@code ""}), of the
   * remote's default branch, the one its {@code HEAD} points to.
   *
   * @throws GitFailure if the remote cannot be reached, refuses the credentials, has no such branch
   *     or, asked for its default branch, has none ({@link NoBranches} when it has no branch at
   *     all)
   */
  Tip lsRemote(Remote remote) {
    boolean followHead = remote.branch().isEmpty();
    LsRemoteCommand cmd = Git.lsRemoteRepository().setRemote(remote.url()).setHeads(!followHead);
    configure(cmd, remote);
    Map<String, Ref> refs;
    try {
      refs = cmd.callAsMap();
    } catch (GitAPIException | RuntimeException e) {
      throw failure(remote, "cannot list branches of", e);
    }
    String branch = followHead ? defaultBranch(remote, refs) : remote.branch();
    Ref ref = refs.get(Constants.R_HEADS + branch);
    if (ref == null || ref.getObjectId() == null) {
      throw new GitFailure(
          "branch '"
              + branch
              + "' does not exist in "
              + remote.url()
              + (branches(refs).isEmpty()
                  ? " (the repository has no branches yet)"
                  : "; branches: " + branches(refs))
              + "; push it or change the source's branch",
          null);
    }
    return new Tip(ref.getObjectId().name(), branch);
  }

  /**
   * The branch the remote's {@code HEAD} points to: its symbolic target when the server says it,
   * else the only branch at {@code HEAD}'s commit (preferring {@code main}, then {@code master}).
   */
  private static String defaultBranch(Remote remote, Map<String, Ref> refs) {
    Ref head = refs.get(Constants.HEAD);
    if (head != null && head.isSymbolic()) {
      String target = head.getTarget().getName();
      if (target.startsWith(Constants.R_HEADS)) {
        return target.substring(Constants.R_HEADS.length());
      }
    }
    if (head != null && head.getObjectId() != null) {
      List<String> same = new ArrayList<>();
      for (Ref r : refs.values()) {
        if (r.getName().startsWith(Constants.R_HEADS)
            && head.getObjectId().equals(r.getObjectId())) {
          same.add(r.getName().substring(Constants.R_HEADS.length()));
        }
      }
      for (String preferred : List.of("main", "master")) {
        if (same.contains(preferred)) {
          return preferred;
        }
      }
      if (same.size() == 1) {
        return same.get(0);
      }
    }
    List<String> names = branches(refs);
    if (names.isEmpty()) {
      throw new NoBranches(remote.url() + " has no branches yet; push one");
    }
    throw new GitFailure(
        remote.url()
            + " does not say which branch is its default; give the source's branch (one of "
            + names
            + ")",
        null);
  }

  /** Up to ten branch names, sorted. */
  private static List<String> branches(Map<String, Ref> refs) {
    List<String> names = new ArrayList<>();
    for (String r : new TreeSet<>(refs.keySet())) {
      if (r.startsWith(Constants.R_HEADS) && names.size() < 10) {
        names.add(r.substring(Constants.R_HEADS.length()));
      }
    }
    return names;
  }

  /**
   * Fetches the branch into the local clone and reads the applications under {@code path} at its
   * tip. A damaged local clone is deleted so that the next fetch starts afresh.
   *
   * @param path the directory inside the repository ({@code ""} for the root)
   */
  Snapshot fetch(Remote remote, String path) {
    Path dir = reposDir.resolve(remote.source() + ".git");
    try (Repository repo = openOrInit(dir);
        Git git = new Git(repo)) {
      FetchCommand cmd =
          git.fetch()
              .setRemote(remote.url())
              .setRefSpecs(new RefSpec("+" + Constants.R_HEADS + remote.branch() + ":" + LOCAL_REF))
              .setTagOpt(TagOpt.NO_TAGS)
              .setRemoveDeletedRefs(false);
      configure(cmd, remote);
      try {
        cmd.call();
      } catch (TransportException e) {
        throw failure(remote, "cannot fetch from", e);
      }
      Ref head = repo.exactRef(LOCAL_REF);
      if (head == null || head.getObjectId() == null) {
        throw new GitFailure(
            "fetching '" + remote.branch() + "' from " + remote.url() + " returned nothing", null);
      }
      Snapshot s = read(repo, head.getObjectId(), path);
      if (fetchCounts.merge(remote.source(), 1, Integer::sum) % GC_EVERY == 0) {
        git.gc().setAggressive(false).call();
      }
      return s;
    } catch (GitFailure e) {
      throw e;
    } catch (MissingObjectException e) {
      Directories.delete(dir);
      throw new GitFailure(
          "the local clone of '" + remote.source() + "' was damaged and has been reset: " + e, e);
    } catch (IOException | GitAPIException | RuntimeException e) {
      Directories.delete(dir);
      throw new GitFailure(
          "cannot fetch '" + remote.source() + "' into the local clone (reset for next time): " + e,
          e);
    }
  }

  /** Forgets a source: its local clone and its ssh session factory. */
  void forget(String source) {
    SshdSessionFactory f = sshFactories.remove(source);
    if (f != null) {
      f.close();
    }
    fetchCounts.remove(source);
    Directories.delete(reposDir.resolve(source + ".git"));
  }

  @Override
  public void close() {
    sshFactories.values().forEach(SshdSessionFactory::close);
    sshFactories.clear();
  }

  private static Repository openOrInit(Path dir) throws IOException, GitAPIException {
    if (Files.isDirectory(dir.resolve("objects"))) {
      return new FileRepositoryBuilder().setGitDir(dir.toFile()).setMustExist(true).build();
    }
    Directories.delete(dir);
    Files.createDirectories(dir.getParent());
    Git.init().setBare(true).setGitDir(dir.toFile()).call().close();
    return new FileRepositoryBuilder().setGitDir(dir.toFile()).setMustExist(true).build();
  }

  private void configure(TransportCommand<?, ?> cmd, Remote remote) {
    cmd.setTimeout(timeoutSeconds);
    switch (remote.credentials()) {
      case Credentials.None n -> {}
      case Credentials.Token t ->
          cmd.setCredentialsProvider(new UsernamePasswordCredentialsProvider(t.user(), t.token()));
      case Credentials.Ssh s -> {
        SshdSessionFactory f = sshFactories.computeIfAbsent(remote.source(), k -> sshFactory(k, s));
        cmd.setTransportConfigCallback(
            transport -> {
              if (transport instanceof SshTransport st) {
                st.setSshSessionFactory(f);
              }
            });
      }
    }
  }

  private SshdSessionFactory sshFactory(String source, Credentials.Ssh ssh) {
    // An empty home of our own: the operator's ~/.ssh (config, keys, known_hosts) must not
    // influence which key or host the controller trusts.
    File home = sshHome.resolve(source).toFile();
    File sshDir = new File(home, ".ssh");
    return new SshdSessionFactoryBuilder()
        .setHomeDirectory(home)
        .setSshDirectory(sshDir)
        .setConfigStoreFactory((h, f, u) -> null)
        .setDefaultIdentities(d -> List.of())
        .setDefaultKnownHostsFiles(d -> List.of())
        .setDefaultKeysProvider(d -> List.of(ssh.key()))
        .setPreferredAuthentications("publickey")
        .setServerKeyDatabase((h, d) -> ssh.hostKey())
        .build(null);
  }

  private static GitFailure failure(Remote remote, String what, Exception e) {
    if (remote.credentials() instanceof Credentials.Ssh s) {
      var rejected = s.hostKey().rejected();
      if (rejected.isPresent()) {
        PublicKey pinned = s.hostKey().pinned().orElseThrow();
        return new GitFailure(
            "the ssh host key of "
                + remote.url()
                + " changed: the server shows "
                + SshKeys.fingerprint(rejected.get())
                + " but "
                + SshKeys.fingerprint(pinned)
                + " is pinned; if the server's key was really replaced, remove the source and"
                + " add it again with --ssh-host-key",
            e);
      }
    }
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String detail = e.getMessage() == null ? e.toString() : e.getMessage();
    // JGit often starts its messages with the URL we are about to print anyway.
    if (detail.startsWith(remote.url() + ": ")) {
      detail = detail.substring(remote.url().length() + 2);
    }
    if (root != e && root.getMessage() != null) {
      String cause = root.getMessage();
      if (cause.startsWith(remote.url() + ": ")) {
        cause = cause.substring(remote.url().length() + 2);
      }
      if (!detail.contains(cause)) {
        detail = detail + " (" + cause + ")";
      }
    }
    return new GitFailure(what + " " + remote.url() + ": " + detail, e);
  }

  /** Reads the commit and every application directory directly under {@code path}. */
  static Snapshot read(Repository repo, ObjectId commitId, String path) throws IOException {
    try (RevWalk rw = new RevWalk(repo);
        ObjectReader reader = repo.newObjectReader()) {
      RevCommit c = rw.parseCommit(commitId);
      PersonIdent a = c.getAuthorIdent();
      String author = a.getName() + " <" + a.getEmailAddress() + ">";
      Instant at = c.getCommitterIdent().getWhenAsInstant();
      String sha = c.getId().name();
      ObjectId base = c.getTree().getId();
      if (!path.isEmpty()) {
        try (TreeWalk tw = TreeWalk.forPath(reader, path, c.getTree())) {
          if (tw == null || tw.getFileMode(0) != FileMode.TREE) {
            return new Snapshot(
                sha,
                author,
                c.getFullMessage(),
                at,
                List.of(),
                "the directory '"
                    + path
                    + "' does not exist in this commit; create it or change the source's path",
                null);
          }
          base = tw.getObjectId(0);
        }
      }
      TreeMap<String, ObjectId> dirs = new TreeMap<>();
      List<String> problems = new ArrayList<>();
      String policy = null;
      try (TreeWalk tw = new TreeWalk(reader)) {
        tw.addTree(base);
        tw.setRecursive(false);
        while (tw.next()) {
          String name = tw.getNameString();
          if (tw.getFileMode(0) == FileMode.TREE && !name.startsWith(".")) {
            dirs.put(name, tw.getObjectId(0));
          } else if (name.equals(ROLLOUT_POLICY_FILE)
              && tw.getFileMode(0) == FileMode.REGULAR_FILE) {
            if (reader.getObjectSize(tw.getObjectId(0), Constants.OBJ_BLOB) > MAX_POLICY_BYTES) {
              problems.add(ROLLOUT_POLICY_FILE + " is larger than 256 KiB");
            } else {
              policy =
                  new String(
                      reader.open(tw.getObjectId(0)).getCachedBytes(),
                      java.nio.charset.StandardCharsets.UTF_8);
            }
          }
        }
      }
      List<AppTree> apps = new ArrayList<>();
      long total = 0;
      for (Map.Entry<String, ObjectId> d : dirs.entrySet()) {
        String name = d.getKey();
        if (!Bundle.APP_NAME.matcher(name).matches()) {
          problems.add(
              "directory '"
                  + name
                  + "' is not a valid application name (lower-case letters, digits and '-', at"
                  + " most 63, starting and ending with a letter or digit); rename it");
          continue;
        }
        SortedMap<String, byte[]> files = new TreeMap<>();
        long size = 0;
        try (TreeWalk tw = new TreeWalk(reader)) {
          tw.addTree(d.getValue());
          tw.setRecursive(true);
          while (tw.next()) {
            FileMode mode = tw.getFileMode(0);
            if (mode == FileMode.REGULAR_FILE || mode == FileMode.EXECUTABLE_FILE) {
              size += reader.getObjectSize(tw.getObjectId(0), Constants.OBJ_BLOB);
              if (size > MAX_APP_BYTES) {
                break;
              }
              files.put(tw.getPathString(), reader.open(tw.getObjectId(0)).getCachedBytes());
            } else {
              problems.add(
                  "app '"
                      + name
                      + "': '"
                      + tw.getPathString()
                      + "' is a "
                      + (mode == FileMode.SYMLINK ? "symbolic link" : "submodule")
                      + ", which is not supported; commit the file itself");
            }
          }
        }
        if (size > MAX_APP_BYTES) {
          problems.add(
              "app '" + name + "' is larger than " + (MAX_APP_BYTES >> 20) + " MiB; slim it down");
          continue;
        }
        total += size;
        apps.add(new AppTree(name, d.getValue().name(), files));
      }
      if (total > MAX_COMMIT_BYTES) {
        problems.add(
            "the applications together are larger than "
                + (MAX_COMMIT_BYTES >> 20)
                + " MiB; split them over several sources");
      }
      return new Snapshot(
          sha,
          author,
          c.getFullMessage(),
          at,
          problems.isEmpty() ? List.copyOf(apps) : List.of(),
          problems.isEmpty() ? null : String.join("; ", problems),
          policy);
    }
  }

  static Collection<String> names(List<AppTree> apps) {
    return apps.stream().map(AppTree::name).toList();
  }
}
