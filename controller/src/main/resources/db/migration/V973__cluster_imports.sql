-- The import manifest of a cluster (its registration with a third-party cluster manager), fetched
-- by the controller from the cluster's import URL once the cluster is up and delivered to the
-- cluster's applier as an app. Written once for SQLite and PostgreSQL: portable types, epoch millis.
--
-- url: the URL the manifest was fetched from (a changed URL fetches again). digest: sha256 of the
-- manifest, null until one was fetched. error: why the last fetch failed, null after a success.
-- next_attempt_at: when a failed fetch is tried again.
CREATE TABLE cluster_imports (
  cluster          VARCHAR(63)   PRIMARY KEY,
  url              VARCHAR(2000) NOT NULL,
  digest           VARCHAR(80),
  manifest         TEXT,
  fetched_at       BIGINT,
  error            TEXT,
  attempts         INTEGER       NOT NULL,
  next_attempt_at  BIGINT        NOT NULL
);
