package io.edgefleet.controller.profiles;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.controller.desired.DeviceAppReads;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/** Every statement on the profiles tables. */
final class ProfileStore {
  private static final DeviceAppReads DEVICE_APPS = new DeviceAppReads();

  private static final TypeReference<List<Layer>> LAYERS = new TypeReference<>() {};

  record ProfileRow(
      String name, String selector, String description, String createdBy, long createdAt) {}

  record VersionRow(
      String profile,
      int version,
      List<Layer> layers,
      String policy,
      String createdBy,
      long createdAt) {
    String revision() {
      return ProfileApps.revision(profile, version);
    }
  }

  private ProfileStore() {}

  static List<ProfileRow> profiles(Handle h) {
    return h.createQuery("SELECT * FROM profiles ORDER BY name").map((rs, c) -> profile(rs)).list();
  }

  static Optional<ProfileRow> profile(Handle h, String name) {
    return h.createQuery("SELECT * FROM profiles WHERE name = :n")
        .bind("n", name)
        .map((rs, c) -> profile(rs))
        .findOne();
  }

  static void insertProfile(Handle h, ProfileRow r) {
    h.createUpdate(
            "INSERT INTO profiles (name, selector, description, created_by, created_at) VALUES"
                + " (:name, :selector, :description, :by, :at)")
        .bind("name", r.name())
        .bind("selector", r.selector())
        .bind("description", r.description())
        .bind("by", r.createdBy())
        .bind("at", r.createdAt())
        .execute();
  }

  static void insertVersion(Handle h, VersionRow r) {
    h.createUpdate(
            "INSERT INTO profile_versions (profile, version, layers, policy, created_by,"
                + " created_at) VALUES (:p, :v, :layers, :policy, :by, :at)")
        .bind("p", r.profile())
        .bind("v", r.version())
        .bind("layers", Json.write(r.layers()))
        .bind("policy", r.policy())
        .bind("by", r.createdBy())
        .bind("at", r.createdAt())
        .execute();
  }

  /** Every version of a profile, oldest first. */
  static List<VersionRow> versions(Handle h, String profile) {
    return h.createQuery("SELECT * FROM profile_versions WHERE profile = :p ORDER BY version")
        .bind("p", profile)
        .map((rs, c) -> version(rs))
        .list();
  }

  static Optional<VersionRow> version(Handle h, String profile, int version) {
    return h.createQuery("SELECT * FROM profile_versions WHERE profile = :p AND version = :v")
        .bind("p", profile)
        .bind("v", version)
        .map((rs, c) -> version(rs))
        .findOne();
  }

  /** The newest version of every profile. */
  static List<VersionRow> latest(Handle h) {
    return h.createQuery(
            "SELECT v.* FROM profile_versions v WHERE v.version = (SELECT MAX(x.version) FROM"
                + " profile_versions x WHERE x.profile = v.profile) ORDER BY v.profile")
        .map((rs, c) -> version(rs))
        .list();
  }

  static Optional<VersionRow> latest(Handle h, String profile) {
    return h.createQuery(
            "SELECT * FROM profile_versions WHERE profile = :p ORDER BY version DESC LIMIT 1")
        .bind("p", profile)
        .map((rs, c) -> version(rs))
        .findOne();
  }

  /** The revision of an app the device was last told, if any. */
  static Optional<String> toldRevision(Handle h, String deviceId, String app, String source) {
    return DEVICE_APPS.desiredRevision(h, deviceId, app, source);
  }

  /** The revision of an app the device last reported ready, if any. */
  static Optional<String> readyRevision(Handle h, String deviceId, String app, String source) {
    return DEVICE_APPS.readyRevision(h, deviceId, app, source);
  }

  private static ProfileRow profile(ResultSet rs) throws SQLException {
    return new ProfileRow(
        rs.getString("name"),
        rs.getString("selector"),
        rs.getString("description"),
        rs.getString("created_by"),
        rs.getLong("created_at"));
  }

  private static VersionRow version(ResultSet rs) throws SQLException {
    List<Layer> layers;
    try {
      layers = Json.mapper().readValue(rs.getString("layers"), LAYERS);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "corrupt layers of profile " + rs.getString("profile") + "@" + rs.getInt("version"), e);
    }
    return new VersionRow(
        rs.getString("profile"),
        rs.getInt("version"),
        layers,
        rs.getString("policy"),
        rs.getString("created_by"),
        rs.getLong("created_at"));
  }
}
