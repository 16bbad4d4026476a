package io.edgefleet.controller.gitops;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.rollouts.Deployments;
import io.edgefleet.controller.rollouts.RolloutPolicy;
import io.edgefleet.controller.rollouts.RolloutPolicyException;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.ErrorCode;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.security.PublicKey;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Pattern;
import org.eclipse.jgit.lib.Repository;

/**
 * What a request to add a Git source must satisfy: a DNS-label name, a URL whose transport fits the
 * credential given, a valid branch and path, an interval within bounds, a target selector and, if
 * given, a valid rollout policy. Turns a request into the normalized values that are stored.
 */
final class SourceValidation {
  /** No branch given: the remote's default branch, resolved on the first poll. */
  static final String DEFAULT_BRANCH = "";

  static final String DEFAULT_PATH = "apps";
  static final String DEFAULT_INTERVAL = "15s";
  static final Duration MAX_INTERVAL = Duration.ofDays(1);
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern SCP_LIKE = Pattern.compile("[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:.+");

  private final Duration minInterval;

  /**
   * @param minInterval the smallest polling interval a source may ask for
   */
  SourceValidation(Duration minInterval) {
    this.minInterval = minInterval;
  }

  /** An accepted request, normalized. */
  record Validated(
      String name,
      String url,
      String branch,
      String path,
      Duration interval,
      String auth,
      String credential,
      PublicKey hostKey,
      Selector target,
      String rollout) {}

  /**
   * Checks a request to add a source and normalizes it.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming the bad field, {@code
   *     ROLLOUT_POLICY_INVALID}
   */
  Validated validate(AddSource req) {
    if (req == null) {
      throw ControllerException.invalid("a git source needs at least name, url and target");
    }
    String name = req.name() == null ? "" : req.name().trim();
    if (!NAME.matcher(name).matches()) {
      throw ControllerException.invalid(
          "name '"
              + name
              + "' is invalid: use 1 to 63 lower-case letters, digits and '-', starting and"
              + " ending with a letter or digit");
    }
    String url = req.url() == null ? "" : req.url().trim();
    Transport transport = transport(url);
    boolean hasKey = req.sshKey() != null && !req.sshKey().isBlank();
    boolean hasToken = req.token() != null && !req.token().isBlank();
    if (hasKey && hasToken) {
      throw ControllerException.invalid("give either sshKey or token, not both");
    }
    String auth = "none";
    String credential = null;
    if (hasKey) {
      if (transport != Transport.SSH) {
        throw ControllerException.invalid(
            "sshKey only works with ssh URLs (ssh://… or git@host:path); this URL is "
                + transport.name().toLowerCase(Locale.ROOT));
      }
      try {
        SshKeys.privateKey(req.sshKey());
      } catch (IllegalArgumentException e) {
        throw ControllerException.invalid(e.getMessage());
      }
      auth = "ssh";
      credential = req.sshKey().strip() + "\n";
    } else if (hasToken) {
      if (transport == Transport.HTTP && !loopback(url)) {
        throw ControllerException.invalid(
            "a token would travel in clear text over http://; use an https:// URL");
      }
      if (transport != Transport.HTTPS && transport != Transport.HTTP) {
        throw ControllerException.invalid("token only works with https:// URLs");
      }
      auth = "token";
      credential = req.token().strip();
    } else if (transport == Transport.SSH) {
      throw ControllerException.invalid(
          "ssh URLs need sshKey: the text of a private deploy key with read access");
    }
    PublicKey hostKey = null;
    if (req.sshHostKey() != null && !req.sshHostKey().isBlank()) {
      if (transport != Transport.SSH) {
        throw ControllerException.invalid("sshHostKey only applies to ssh URLs");
      }
      try {
        hostKey = SshKeys.publicKey(req.sshHostKey());
      } catch (IllegalArgumentException e) {
        throw ControllerException.invalid(e.getMessage());
      }
    }
    String branch =
        req.branch() == null || req.branch().isBlank() ? DEFAULT_BRANCH : req.branch().trim();
    if (branch.startsWith("refs/heads/")) {
      branch = branch.substring("refs/heads/".length());
    }
    if (!branch.isEmpty() && !Repository.isValidRefName("refs/heads/" + branch)) {
      throw ControllerException.invalid("branch '" + branch + "' is not a valid git branch name");
    }
    String path = path(req.path() == null ? DEFAULT_PATH : req.path());
    Duration interval;
    try {
      interval = Durations.parse(req.interval() == null ? DEFAULT_INTERVAL : req.interval());
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid("interval: " + e.getMessage());
    }
    if (interval.compareTo(minInterval) < 0) {
      throw ControllerException.invalid(
          "interval must be at least "
              + Durations.human(minInterval)
              + "; use a webhook for faster updates");
    }
    if (interval.compareTo(MAX_INTERVAL) > 0) {
      throw ControllerException.invalid("interval must be at most 1d");
    }
    if (req.target() == null) {
      throw ControllerException.invalid(
          "target is required: a selector over device tags such as 'site-size=large', or '*'"
              + " (or '') for every device");
    }
    Selector target = Selector.parse("target", req.target());
    String rollout = null;
    if (req.rollout() != null && !req.rollout().isBlank()) {
      try {
        rollout = RolloutPolicy.parse(req.rollout()).source();
      } catch (RolloutPolicyException e) {
        throw new ControllerException(ErrorCode.ROLLOUT_POLICY_INVALID, e.getMessage());
      }
    }
    if (name.equals(Deployments.SOURCE)) {
      throw ControllerException.invalid(
          "name '"
              + name
              + "' is reserved for deployments of the app catalog; choose another name");
    }
    return new Validated(
        name, url, branch, path, interval, auth, credential, hostKey, target, rollout);
  }

  enum Transport {
    HTTPS,
    HTTP,
    SSH,
    GIT,
    FILE
  }

  static Transport transport(String url) {
    if (url.isEmpty() || url.length() > 2000) {
      throw ControllerException.invalid(
          "url is required: https://…, ssh://…, git@host:path, git://… or file://…");
    }
    if (!url.contains("://") && SCP_LIKE.matcher(url).matches()) {
      return Transport.SSH;
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw ControllerException.invalid("url '" + url + "' is not a valid URL: " + e.getReason());
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    Transport t =
        switch (scheme) {
          case "https" -> Transport.HTTPS;
          case "http" -> Transport.HTTP;
          case "ssh" -> Transport.SSH;
          case "git" -> Transport.GIT;
          case "file" -> Transport.FILE;
          default ->
              throw ControllerException.invalid(
                  "url '"
                      + url
                      + "' has an unsupported scheme; use https://, ssh://, git@host:path, git://"
                      + " or file://");
        };
    if (t != Transport.FILE && (uri.getHost() == null || uri.getHost().isBlank())) {
      throw ControllerException.invalid("url '" + url + "' has no host");
    }
    if (t == Transport.FILE && (uri.getPath() == null || uri.getPath().isBlank())) {
      throw ControllerException.invalid("url '" + url + "' has no path");
    }
    if (uri.getRawUserInfo() != null && uri.getRawUserInfo().contains(":")) {
      throw ControllerException.invalid(
          "url must not contain a password or token; pass the token separately so it is stored"
              + " encrypted");
    }
    return t;
  }

  private static boolean loopback(String url) {
    try {
      String host = new URI(url).getHost();
      if (host == null) {
        return false;
      }
      String h = host.replaceAll("^\\[|\\]$", "");
      // Only literal addresses: a name that resolves to loopback today may not tomorrow.
      return h.equals("localhost")
          || ((h.matches("[0-9.]+") || h.contains(":"))
              && InetAddress.getByName(h).isLoopbackAddress());
    } catch (URISyntaxException | UnknownHostException e) {
      return false;
    }
  }

  static String path(String raw) {
    String p = raw.trim().replace('\\', '/');
    while (p.startsWith("./")) {
      p = p.substring(2);
    }
    p = p.replaceAll("^/+", "").replaceAll("/+$", "");
    if (p.equals(".")) {
      return "";
    }
    if (p.isEmpty()) {
      return "";
    }
    for (String seg : p.split("/", -1)) {
      if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
        throw ControllerException.invalid(
            "path '" + raw + "' is invalid: use a directory inside the repository such as apps/");
      }
    }
    return p;
  }
}
