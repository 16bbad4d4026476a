-- Projects everywhere (decision 0036): the objects created by a principal confined to projects
-- belong to one of them. project names a row of access_projects; NULL for an object of no project,
-- which only principals over the whole fleet see. The selector or target stored with each object
-- already includes the project's selector, so that it reaches only the project's devices.
-- Written once for SQLite and PostgreSQL.
ALTER TABLE deployments ADD COLUMN project VARCHAR(64);
ALTER TABLE git_sources ADD COLUMN project VARCHAR(64);
ALTER TABLE alert_rules ADD COLUMN project VARCHAR(64);
ALTER TABLE clusters ADD COLUMN project VARCHAR(64);
