package io.edgefleet.controller.gitops;

import io.edgefleet.controller.common.Directories;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.revwalk.RevCommit;

/** A real git repository in a temporary directory, standing in for the remote of a source. */
final class Upstream implements AutoCloseable {
  private final Path dir;
  private final Git git;

  private Upstream(Path dir, Git git) {
    this.dir = dir;
    this.git = git;
  }

  static Upstream create(Path dir) {
    return create(dir, "main");
  }

  /** A repository whose default branch (where its HEAD points) is {@code initialBranch}. */
  static Upstream create(Path dir, String initialBranch) {
    try {
      Files.createDirectories(dir);
      return new Upstream(
          dir, Git.init().setDirectory(dir.toFile()).setInitialBranch(initialBranch).call());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GitAPIException e) {
      throw new IllegalStateException(e);
    }
  }

  Path dir() {
    return dir;
  }

  String fileUrl() {
    return "file://" + dir.toAbsolutePath();
  }

  Upstream write(String path, String content) {
    try {
      Path p = dir.resolve(path);
      Files.createDirectories(p.getParent());
      Files.writeString(p, content);
      return this;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  Upstream delete(String path) {
    try {
      Directories.delete(dir.resolve(path));
      return this;
    } catch (UncheckedIOException e) {
      throw e;
    }
  }

  /** Commits every change in the work tree; returns the new SHA. */
  String commit(String message, String author, String email) {
    try {
      git.add().addFilepattern(".").call();
      git.add().addFilepattern(".").setUpdate(true).call();
      PersonIdent who =
          new PersonIdent(author, email, Instant.parse("2026-01-02T03:04:05Z"), ZoneOffset.UTC);
      RevCommit c =
          git.commit()
              .setMessage(message)
              .setAuthor(who)
              .setCommitter(who)
              .setAllowEmpty(true)
              .setSign(false)
              .call();
      return c.getName();
    } catch (GitAPIException e) {
      throw new IllegalStateException(e);
    }
  }

  String commit(String message) {
    return commit(message, "Ada Lovelace", "ada@example.com");
  }

  @Override
  public void close() {
    git.close();
  }
}
