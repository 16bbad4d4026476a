package io.edgefleet.controller.agentreleases;

import io.edgefleet.controller.artifacts.Artifacts;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;

/**
 * Signed releases of the agent: a push is refused unless its signature verifies with a trusted
 * release key and the received file is exactly what it signs (digest, size, and a release.json of
 * the same version and architecture in a well-formed archive). The bytes are an artifact of kind
 * {@value #KIND}; the signed facts live in {@code agent_releases}. Thread-safe.
 */
public final class AgentReleases {
  /** The artifact kind of an agent release file. */
  public static final String KIND = "agent";

  /** The most bytes a signature file (its JSON) may hold. */
  public static final int MAX_SIGNATURE = 4096;

  /** Who still needs a release (a rollout, a device's desired state). */
  @FunctionalInterface
  public interface Users {
    Users NONE = (version, arch) -> Optional.empty();

    /** A sentence naming who uses the release, or empty when nothing does. */
    Optional<String> userOf(String version, String arch);
  }

  /** One stored release. */
  public record Release(
      String version,
      String arch,
      String digest,
      long size,
      String keyId,
      String signature,
      String mainClass,
      String pushedBy,
      Instant pushedAt) {
    /** The signed facts, as devices receive them. */
    public AgentRelease signed() {
      return new AgentRelease(version, arch, digest, size, keyId, signature);
    }
  }

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final Artifacts artifacts;
  private final ReleaseKeys keys;
  private final Users users;
  private volatile List<Release> cache;

  public AgentReleases(
      Jdbi jdbi, Clock clock, AuditLog audit, Artifacts artifacts, ReleaseKeys keys, Users users) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.artifacts = artifacts;
    this.keys = keys;
    this.users = users;
    this.cache = load();
  }

  /** The trusted release keys, as devices receive them. */
  public List<DesiredState.SigningKey> releaseKeys() {
    return keys.signingKeys();
  }

  /**
   * Reads a signature file as sent with a push: its JSON, either as is or base64-encoded.
   *
   * @throws ControllerException {@code AGENT_RELEASE_SIGNATURE_INVALID} when it is none
   */
  public static AgentRelease parseSignature(String text) {
    if (text == null || text.isBlank()) {
      throw new ControllerException(
          ErrorCode.AGENT_RELEASE_SIGNATURE_INVALID,
          "a push needs the release's signature (FILE.sig, written by edgefleet agent-releases"
              + " sign)");
    }
    String t = text.trim();
    if (t.length() > MAX_SIGNATURE * 2) {
      throw invalidSignature("the signature is longer than a signature file can be");
    }
    String json = t;
    if (!t.startsWith("{")) {
      try {
        json = new String(Base64.getDecoder().decode(t), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw invalidSignature("the signature is neither JSON nor base64-encoded JSON");
      }
    }
    AgentRelease r;
    try {
      r = Json.mapper().readValue(json, AgentRelease.class);
    } catch (IOException e) {
      throw invalidSignature("the signature is not a release signature file: " + e.getMessage());
    }
    if (r == null || !r.wellFormed()) {
      throw invalidSignature(
          "the signature file lacks a field or has one out of shape (version, arch, digest"
              + " sha256:<hex>, size, keyId, signature)");
    }
    return r;
  }

  /**
   * Checks the signature against the trusted keys, then streams {@code body} to disk and stores it
   * once it proved to be the signed, well-formed release.
   *
   * @param declaredLength the body's announced length, or -1
   */
  public Release push(AgentRelease sig, long declaredLength, InputStream body, String actor)
      throws IOException {
    PublicKey key =
        keys.key(sig.keyId())
            .orElseThrow(
                () ->
                    new ControllerException(
                        ErrorCode.AGENT_RELEASE_KEY_UNTRUSTED,
                        "the release is signed by key "
                            + sig.keyId()
                            + ", which this controller does not trust; place its public key in"
                            + " <data dir>/"
                            + ReleaseKeys.DIRECTORY
                            + "/ or start the controller with --agent-release-key FILE"
                            + (keys.size() == 0 ? " (it trusts no release key yet)" : "")));
    if (!sig.signedBy(key)) {
      throw invalidSignature(
          "the signature does not verify with release key "
              + sig.keyId()
              + ": the .sig file was altered or made for other facts; sign the file again with"
              + " edgefleet agent-releases sign");
    }
    find(sig.version(), sig.arch())
        .ifPresent(
            r -> {
              throw new ControllerException(
                  ErrorCode.AGENT_RELEASE_EXISTS,
                  "agent "
                      + r.version()
                      + " for "
                      + r.arch()
                      + " is already stored (digest "
                      + r.digest()
                      + "); push a new version, or delete it first: edgefleet agent-releases"
                      + " delete "
                      + r.version()
                      + " --arch "
                      + r.arch());
            });
    if (declaredLength >= 0 && declaredLength != sig.size()) {
      throw invalidSignature(
          "the file sent is "
              + declaredLength
              + " bytes but its signature is for "
              + sig.size()
              + " bytes: the file changed after it was signed, or the .sig belongs to another"
              + " file");
    }
    if (sig.size() > ReleaseArchive.MAX_BYTES) {
      throw ReleaseArchive.malformed(
          "it is larger than " + ReleaseArchive.MAX_BYTES + " bytes, the most a release may be");
    }
    AgentReleaseManifest[] manifest = new AgentReleaseManifest[1];
    Artifacts.Artifact stored =
        artifacts.push(
            new Artifacts.Push(KIND, sig.version(), sig.arch(), fileName(sig), null),
            body,
            actor,
            (file, digest, size) -> {
              if (size != sig.size() || !digest.equals(sig.digest())) {
                throw invalidSignature(
                    "the file received ("
                        + digest
                        + ", "
                        + size
                        + " bytes) is not the file signed ("
                        + sig.digest()
                        + ", "
                        + sig.size()
                        + " bytes): it was changed after signing or damaged on the way");
              }
              AgentReleaseManifest m = ReleaseArchive.check(file);
              if (!sig.version().equals(m.version()) || !sig.arch().equals(m.arch())) {
                throw ReleaseArchive.malformed(
                    "its release.json says version "
                        + m.version()
                        + " for "
                        + m.arch()
                        + ", but it is signed as "
                        + sig.version()
                        + " for "
                        + sig.arch());
              }
              manifest[0] = m;
            });
    if (manifest[0] == null) {
      // The same bytes were stored before (an earlier push of this file): check them again.
      try (java.io.InputStream in = artifacts.open(stored.digest())) {
        manifest[0] = ReleaseArchive.check(in);
      }
    }
    long now = clock.millis();
    try {
      jdbi.useTransaction(
          h -> {
            h.createUpdate(
                    "INSERT INTO agent_releases (version, arch, digest, size, key_id, signature,"
                        + " main_class, pushed_by, pushed_at) VALUES (:version, :arch, :digest,"
                        + " :size, :keyId, :signature, :mainClass, :actor, :now)")
                .bind("version", sig.version())
                .bind("arch", sig.arch())
                .bind("digest", sig.digest())
                .bind("size", sig.size())
                .bind("keyId", sig.keyId())
                .bind("signature", sig.signature())
                .bind("mainClass", manifest[0].mainClass())
                .bind("actor", actor)
                .bind("now", now)
                .execute();
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("version", sig.version());
            detail.put("arch", sig.arch());
            detail.put("digest", sig.digest());
            detail.put("size", sig.size());
            detail.put("keyId", sig.keyId());
            audit.record(h, actor, "agent-release.push", sig.version() + "/" + sig.arch(), detail);
          });
    } finally {
      cache = load();
    }
    return find(sig.version(), sig.arch()).orElseThrow();
  }

  public List<Release> list() {
    return cache;
  }

  public Optional<Release> find(String version, String arch) {
    return cache.stream()
        .filter(r -> r.version().equals(version) && r.arch().equals(arch))
        .findFirst();
  }

  /** The releases of one version, one per architecture. */
  public List<Release> version(String version) {
    return cache.stream().filter(r -> r.version().equals(version)).toList();
  }

  /**
   * Deletes the releases of a version (all its architectures, or one).
   *
   * @throws ControllerException {@code AGENT_RELEASE_NOT_FOUND}, or {@code AGENT_RELEASE_IN_USE}
   *     while a rollout or a device's desired state needs one of them
   */
  public List<Release> delete(String version, Optional<String> arch, String actor) {
    List<Release> doomed =
        version(version).stream()
            .filter(r -> arch.isEmpty() || r.arch().equals(arch.get()))
            .toList();
    if (doomed.isEmpty()) {
      throw new ControllerException(
          ErrorCode.AGENT_RELEASE_NOT_FOUND,
          "no agent release "
              + version
              + arch.map(a -> " for " + a).orElse("")
              + " is stored; see edgefleet agent-releases list");
    }
    for (Release r : doomed) {
      Optional<String> user = users.userOf(r.version(), r.arch());
      if (user.isPresent()) {
        throw new ControllerException(
            ErrorCode.AGENT_RELEASE_IN_USE,
            "agent "
                + r.version()
                + " for "
                + r.arch()
                + " is in use: "
                + user.get()
                + "; roll out another release (or abort that rollout) first");
      }
    }
    try {
      jdbi.useTransaction(
          h -> {
            for (Release r : doomed) {
              h.createUpdate("DELETE FROM agent_releases WHERE version = :v AND arch = :a")
                  .bind("v", r.version())
                  .bind("a", r.arch())
                  .execute();
              audit.record(
                  h,
                  actor,
                  "agent-release.delete",
                  r.version() + "/" + r.arch(),
                  Map.of("version", r.version(), "arch", r.arch(), "digest", r.digest()));
            }
          });
    } finally {
      cache = load();
    }
    for (Release r : doomed) {
      if (artifacts.get(r.digest()).isPresent()) {
        artifacts.delete(r.digest(), actor);
      }
    }
    return doomed;
  }

  /**
   * Names the agent release stored under {@code digest}, for the artifacts' own delete check: an
   * artifact holding a release goes with the release.
   */
  public static Optional<String> releaseOf(Jdbi jdbi, String digest) {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT version, arch FROM agent_releases WHERE digest = :d")
                .bind("d", digest)
                .map(
                    (rs, ctx) ->
                        "it is agent release "
                            + rs.getString(1)
                            + " for "
                            + rs.getString(2)
                            + " (edgefleet agent-releases delete "
                            + rs.getString(1)
                            + ")")
                .findFirst());
  }

  /** The conventional file name of a release. */
  public static String fileName(AgentRelease r) {
    return "edgefleet-agent-" + r.version() + "-linux-" + r.arch() + ".tar.gz";
  }

  private List<Release> load() {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT version, arch, digest, size, key_id, signature, main_class, pushed_by,"
                        + " pushed_at FROM agent_releases ORDER BY pushed_at DESC, version, arch")
                .map(
                    (rs, ctx) ->
                        new Release(
                            rs.getString(1),
                            rs.getString(2),
                            rs.getString(3),
                            rs.getLong(4),
                            rs.getString(5),
                            rs.getString(6),
                            rs.getString(7),
                            rs.getString(8),
                            Instant.ofEpochMilli(rs.getLong(9))))
                .list());
  }

  private static ControllerException invalidSignature(String why) {
    return new ControllerException(ErrorCode.AGENT_RELEASE_SIGNATURE_INVALID, why);
  }
}
