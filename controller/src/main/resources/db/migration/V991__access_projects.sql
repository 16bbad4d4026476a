-- Projects (decision 0035): a name and a selector over device tags. A role binding within a
-- project (access_role_bindings.project) grants its permissions only over the devices the
-- project's selector picks. Written once for SQLite and PostgreSQL.
CREATE TABLE access_projects (
  name         VARCHAR(64)   PRIMARY KEY,
  selector     VARCHAR(2000) NOT NULL,
  description  VARCHAR(500),
  created_at   BIGINT        NOT NULL,
  created_by   VARCHAR(200)  NOT NULL
);
