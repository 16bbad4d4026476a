-- Git applications are versioned by their content, not by the commit they were read from: a commit
-- that changes one application leaves the revision of the others as it was. The commit stays as
-- provenance: the commit that brought the application to this revision.

-- revision: sha256:<12 hex>; revision_commit: the commit that introduced it. Both NULL for rows
-- recorded before content revisions, which are filled in when next read (the controller computes
-- them from the stored files).
ALTER TABLE git_apps ADD COLUMN revision VARCHAR(100);
ALTER TABLE git_apps ADD COLUMN revision_commit VARCHAR(64);

-- Provenance of what a device should run (NULL for catalog deployments and older rows), and of
-- what a rollback returns it to.
ALTER TABLE device_apps ADD COLUMN desired_commit VARCHAR(64);
ALTER TABLE rollout_devices ADD COLUMN prev_commit VARCHAR(64);
