package io.edgefleet.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.errors.GitAPIException;

/**
 * The demo's Git repository: a real repository (branch {@code main}) in the demo directory that the
 * controller follows over {@code file://}, exactly as it would a hosted one. Anyone can commit to
 * it with plain {@code git} while the demo runs.
 */
final class DemoRepo implements AutoCloseable {
  private final Path work;
  private final Git git;

  private DemoRepo(Path work, Git git) {
    this.work = work;
    this.git = git;
  }

  static DemoRepo init(Path work) throws IOException {
    try {
      Files.createDirectories(work);
      return new DemoRepo(
          work, Git.init().setDirectory(work.toFile()).setInitialBranch("main").call());
    } catch (GitAPIException e) {
      throw new IOException("cannot create a git repository in " + work + ": " + e.getMessage(), e);
    }
  }

  Path work() {
    return work;
  }

  String url() {
    return work.toUri().toString();
  }

  DemoRepo write(String path, String content) throws IOException {
    Path file = work.resolve(path);
    Files.createDirectories(file.getParent());
    Files.writeString(file, content);
    return this;
  }

  /** Commits every change of the work tree; returns the commit's SHA. */
  String commit(String message) throws IOException {
    try {
      git.add().addFilepattern(".").call();
      return git.commit()
          .setMessage(message)
          .setAuthor("edgefleet demo", "demo@edgefleet.invalid")
          .setCommitter("edgefleet demo", "demo@edgefleet.invalid")
          .setSign(false)
          .call()
          .getName();
    } catch (GitAPIException e) {
      throw new IOException("cannot commit in " + work + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    git.close();
  }
}
