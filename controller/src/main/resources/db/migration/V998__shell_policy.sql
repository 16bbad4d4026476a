-- Shell policy (decision 0039): who may open a remote shell on which devices, until when, and
-- whether a second person must approve. Portable types, epoch millis.
--
-- shell_grants.role: a role name (built-in or custom); selector: a device tag selector ('*' for
-- every device); valid_until: null for a grant without end; require_approval: sessions need an
-- approved shell request; approval_minutes: how long an approval lasts.
-- shell_requests.state: pending, approved, denied (an expired one is pending or approved past
-- expires_at); approval_minutes: how long an approval of it lasts (from the requester's grants).
CREATE TABLE shell_grants (
  id                VARCHAR(40)   PRIMARY KEY,
  role              VARCHAR(64)   NOT NULL,
  selector          VARCHAR(2000) NOT NULL,
  valid_until       BIGINT,
  require_approval  BOOLEAN       NOT NULL,
  approval_minutes  INTEGER       NOT NULL,
  description       VARCHAR(500),
  created_at        BIGINT        NOT NULL,
  created_by        VARCHAR(200)  NOT NULL
);

CREATE TABLE shell_requests (
  id            VARCHAR(40)   PRIMARY KEY,
  requester     VARCHAR(200)  NOT NULL,
  device_id     VARCHAR(64)   NOT NULL,
  reason        VARCHAR(500)  NOT NULL,
  state         VARCHAR(16)   NOT NULL,
  created_at    BIGINT        NOT NULL,
  expires_at    BIGINT        NOT NULL,
  approval_minutes INTEGER    NOT NULL,
  decided_by    VARCHAR(200),
  decided_at    BIGINT
);

CREATE INDEX shell_requests_requester ON shell_requests (requester, device_id);
