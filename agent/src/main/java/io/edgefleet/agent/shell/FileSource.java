package io.edgefleet.agent.shell;

import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * The checks a file copy passes before a byte is sent: an absolute path to a regular file (after
 * symbolic links) that the agent can read and that fits the copy's byte budget. Directories,
 * devices, sockets and pipes are refused: reading a pipe or {@code /dev/zero} would never end.
 */
public final class FileSource {
  private FileSource() {}

  /** An opened file and its size when it was opened. */
  public record Opened(Path path, long size, InputStream in) {}

  /**
   * Opens {@code path} for copying.
   *
   * @param budget the most bytes the copy may send
   * @throws StreamRefusal with NOT_FOUND, FILE_NOT_REGULAR, FILE_UNREADABLE, FILE_TOO_LARGE or
   *     VALIDATION_FAILED, and a message that says what to do
   */
  public static Opened open(String path, long budget) throws StreamRefusal {
    if (path == null || path.isBlank()) {
      throw new StreamRefusal(
          ErrorCode.VALIDATION_FAILED, "the path of the file to copy is missing");
    }
    if (path.length() > 4096 || path.indexOf('\0') >= 0) {
      throw new StreamRefusal(ErrorCode.VALIDATION_FAILED, "the path is not a valid file name");
    }
    Path p = Path.of(path);
    if (!p.isAbsolute()) {
      throw new StreamRefusal(
          ErrorCode.VALIDATION_FAILED,
          "'" + path + "' is not an absolute path: name the file from / on the device");
    }
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(p, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new StreamRefusal(ErrorCode.NOT_FOUND, path + " does not exist on the device");
    } catch (AccessDeniedException e) {
      throw new StreamRefusal(
          ErrorCode.FILE_UNREADABLE, path + " cannot be read by the agent: permission denied");
    } catch (IOException e) {
      throw new StreamRefusal(ErrorCode.FILE_UNREADABLE, path + " cannot be read: " + e);
    }
    if (attrs.isDirectory()) {
      throw new StreamRefusal(
          ErrorCode.FILE_NOT_REGULAR,
          path + " is a directory: copy the files in it one by one (or an archive of it)");
    }
    if (!attrs.isRegularFile()) {
      throw new StreamRefusal(
          ErrorCode.FILE_NOT_REGULAR,
          path
              + " is not a regular file (a device, socket or pipe): only regular files are copied");
    }
    if (attrs.size() > budget) {
      throw new StreamRefusal(
          ErrorCode.FILE_TOO_LARGE,
          path
              + " is "
              + attrs.size()
              + " bytes, more than the copy's budget of "
              + budget
              + " bytes: ask for a larger --max-bytes, up to the controller's limit");
    }
    InputStream in;
    try {
      in = Files.newInputStream(p);
    } catch (AccessDeniedException e) {
      throw new StreamRefusal(
          ErrorCode.FILE_UNREADABLE, path + " cannot be read by the agent: permission denied");
    } catch (IOException e) {
      throw new StreamRefusal(ErrorCode.FILE_UNREADABLE, path + " cannot be opened: " + e);
    }
    return new Opened(p, attrs.size(), in);
  }
}
