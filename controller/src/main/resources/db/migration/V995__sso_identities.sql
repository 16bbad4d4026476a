-- Single sign-on (decision 0037): who signed in through an OpenID Connect provider, by the
-- provider's issuer and subject, and the edgefleet user that identity signs in as. The user itself
-- lives in access_users; its roles are set from the person's groups at every sign-in. Written once
-- for SQLite and PostgreSQL.
CREATE TABLE sso_identities (
  issuer          VARCHAR(500)  NOT NULL,
  subject         VARCHAR(255)  NOT NULL,
  user_id         VARCHAR(40)   NOT NULL,
  email           VARCHAR(320),
  groups_seen     VARCHAR(4000),
  first_sign_in   BIGINT        NOT NULL,
  last_sign_in    BIGINT        NOT NULL,
  PRIMARY KEY (issuer, subject)
);
