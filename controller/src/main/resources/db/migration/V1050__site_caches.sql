-- Site caches: the URL at which a device that is its site's cache (tag edgefleet.io/site-cache=true)
-- serves blobs to the other devices of its site (tag site=<name>), as it last reported it.
-- Portable types, epoch millis.
CREATE TABLE site_cache_urls (
  device_id    VARCHAR(64)   PRIMARY KEY,
  url          VARCHAR(300)  NOT NULL,
  reported_at  BIGINT        NOT NULL
);
