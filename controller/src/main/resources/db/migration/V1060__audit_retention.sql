-- Audit retention: entries up to pruned_through were deleted after their retention; the signed
-- checkpoint at pruned_through (kept) anchors the chain from the next entry on. 0: nothing pruned.
ALTER TABLE audit_chain ADD COLUMN pruned_through BIGINT NOT NULL DEFAULT 0;
