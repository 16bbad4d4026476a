package io.edgefleet.controller.gitops;

/**
 * API request to add a git source. Absent (null) fields take their defaults: the remote's default
 * branch (where its {@code HEAD} points, resolved on the first poll and kept), path {@code apps/},
 * interval {@code 15s}, no credentials.
 *
 * @param name a DNS label ({@code [a-z0-9-]}, at most 63 characters), unique among sources
 * @param url {@code https://}, {@code http://} (loopback only when a token is given), {@code
 *     ssh://}, {@code user@host:path}, {@code git://} or {@code file://}
 * @param branch the branch to follow; absent: the remote's default branch
 * @param path the directory whose subdirectories are the applications; {@code .} for the root
 * @param interval how often the remote head is checked, at least {@code 5s}
 * @param sshKey an unencrypted private key (OpenSSH or PEM text) for ssh URLs
 * @param token an access token for http(s) URLs, or {@code user:token}
 * @param target the label selector over device tags that the applications are meant for ({@code ""}
 *     selects every device)
 * @param sshHostKey the server's public key ({@code ssh-ed25519 AAAA…} or a known_hosts line) to
 *     pin; without it the key seen on the first connection is pinned
 * @param rollout a rollout policy (YAML text) under which each new revision of an application
 *     reaches the devices in phases; without it every revision goes to all devices at once
 * @param force add it without first checking that the remote answers with the branch (it is then
 *     checked on every poll)
 */
public record AddSource(
    String name,
    String url,
    String branch,
    String path,
    String interval,
    String sshKey,
    String token,
    String target,
    String sshHostKey,
    String rollout,
    Boolean force) {

  /** A request that is checked against the remote before it is added. */
  public AddSource(
      String name,
      String url,
      String branch,
      String path,
      String interval,
      String sshKey,
      String token,
      String target,
      String sshHostKey,
      String rollout) {
    this(name, url, branch, path, interval, sshKey, token, target, sshHostKey, rollout, null);
  }

  /** A request without a rollout policy. */
  public AddSource(
      String name,
      String url,
      String branch,
      String path,
      String interval,
      String sshKey,
      String token,
      String target,
      String sshHostKey) {
    this(name, url, branch, path, interval, sshKey, token, target, sshHostKey, null);
  }

  /** A request without a pinned ssh host key. */
  public AddSource(
      String name,
      String url,
      String branch,
      String path,
      String interval,
      String sshKey,
      String token,
      String target) {
    this(name, url, branch, path, interval, sshKey, token, target, null, null);
  }

  /** This request, added without checking the remote first. */
  public AddSource forced() {
    return new AddSource(
        name, url, branch, path, interval, sshKey, token, target, sshHostKey, rollout, true);
  }

  /** Hides credentials from logs and error reports. */
  @Override
  public String toString() {
    return "AddSource[name="
        + name
        + ", url="
        + url
        + ", branch="
        + branch
        + ", path="
        + path
        + ", interval="
        + interval
        + ", sshKey="
        + (sshKey == null ? "none" : "***")
        + ", token="
        + (token == null ? "none" : "***")
        + ", target="
        + target
        + ", sshHostKey="
        + sshHostKey
        + ", rollout="
        + (rollout == null ? "none" : "given")
        + ", force="
        + force
        + "]";
  }
}
