-- The edgefleet-rollout.yaml of the commit in effect of a git source (NULL: none in the commit).
ALTER TABLE git_sources ADD COLUMN head_rollout_policy TEXT;
