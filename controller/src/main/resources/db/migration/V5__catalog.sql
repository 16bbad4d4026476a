-- The app catalog: named applications with immutable, content-addressed versions.
-- Written once for SQLite and PostgreSQL: portable types, epoch millis.

-- description is the latest non-empty description a push gave ('' if none did).
CREATE TABLE catalog_apps (
  name         VARCHAR(63)  PRIMARY KEY,
  description  TEXT         NOT NULL,
  created_at   BIGINT       NOT NULL,
  updated_at   BIGINT       NOT NULL
);

-- Normalized file trees, addressed by the sha256 of their canonical encoding and shared by every
-- version with the same content. files is base64 of the gzip-compressed canonical encoding;
-- size is the total of the uncompressed file contents.
CREATE TABLE catalog_contents (
  digest      VARCHAR(80)  PRIMARY KEY,
  files       TEXT         NOT NULL,
  file_count  INTEGER      NOT NULL,
  size        BIGINT       NOT NULL,
  created_at  BIGINT       NOT NULL
);

-- One row per pushed version; never updated. kind is 'chart' or 'manifests'.
CREATE TABLE catalog_versions (
  app          VARCHAR(63)  NOT NULL REFERENCES catalog_apps (name),
  version      VARCHAR(64)  NOT NULL,
  kind         VARCHAR(10)  NOT NULL,
  digest       VARCHAR(80)  NOT NULL REFERENCES catalog_contents (digest),
  description  TEXT         NOT NULL,
  created_at   BIGINT       NOT NULL,
  created_by   VARCHAR(200) NOT NULL,
  PRIMARY KEY (app, version)
);
CREATE INDEX catalog_versions_digest ON catalog_versions (digest);
