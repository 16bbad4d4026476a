-- Users, service accounts, roles and their API tokens (decision 0035). Written once for SQLite and
-- PostgreSQL: portable types, epoch millis.
--
-- access_users.kind: 'user' (a person) or 'service' (a service account, for automation).
-- access_roles: custom roles only; the built-in viewer, operator and admin live in code.
-- permissions: comma-separated resource:verb strings.
-- access_role_bindings.project: '' for a binding over the whole fleet.
-- access_tokens: only the SHA-256 of each token is kept; scopes null for the holder's full
-- permissions; expires_at null for a token that does not expire.
CREATE TABLE access_users (
  id           VARCHAR(40)   PRIMARY KEY,
  name         VARCHAR(64)   NOT NULL UNIQUE,
  kind         VARCHAR(16)   NOT NULL,
  description  VARCHAR(500),
  created_at   BIGINT        NOT NULL,
  created_by   VARCHAR(200)  NOT NULL
);

CREATE TABLE access_roles (
  name         VARCHAR(64)   PRIMARY KEY,
  permissions  VARCHAR(4000) NOT NULL,
  description  VARCHAR(500),
  created_at   BIGINT        NOT NULL,
  created_by   VARCHAR(200)  NOT NULL
);

CREATE TABLE access_role_bindings (
  user_id      VARCHAR(40)   NOT NULL,
  role         VARCHAR(64)   NOT NULL,
  project      VARCHAR(64)   NOT NULL,
  created_at   BIGINT        NOT NULL,
  PRIMARY KEY (user_id, role, project)
);

CREATE TABLE access_tokens (
  id            VARCHAR(40)   PRIMARY KEY,
  user_id       VARCHAR(40)   NOT NULL,
  name          VARCHAR(64)   NOT NULL,
  token_hash    VARCHAR(100)  NOT NULL UNIQUE,
  scopes        VARCHAR(4000),
  expires_at    BIGINT,
  created_at    BIGINT        NOT NULL,
  created_by    VARCHAR(200)  NOT NULL,
  last_used_at  BIGINT,
  UNIQUE (user_id, name)
);

-- The bootstrap administrator: the tokens of admin_tokens (the first one created at the first
-- start) act as this user.
INSERT INTO access_users (id, name, kind, description, created_at, created_by)
  VALUES ('usr-admin', 'admin', 'user', 'The bootstrap administrator', 0, 'controller');
INSERT INTO access_role_bindings (user_id, role, project, created_at)
  VALUES ('usr-admin', 'admin', '', 0);
