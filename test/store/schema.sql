CREATE TABLE credentials (
  job_id    TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  target    TEXT NOT NULL CHECK (target IN ('SERVER', 'PROXY')),
  scheme    TEXT NOT NULL CHECK (scheme IN ('BASIC', 'DIGEST', 'NTLM', 'NEGOTIATE', 'PASSPORT')),
  user_name TEXT,
  password  TEXT,
  PRIMARY KEY (job_id, target, scheme)
) STRICT, WITHOUT ROWID;

CREATE TABLE files (
  job_id            TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  idx               INTEGER NOT NULL,
  remote_name       TEXT    NOT NULL,
  local_name        TEXT    NOT NULL,
  temp_name         TEXT    NOT NULL,
  bytes_total       INTEGER NOT NULL DEFAULT -1,   -- -1 = BG_SIZE_UNKNOWN
  bytes_transferred INTEGER NOT NULL DEFAULT 0,
  transferred       INTEGER NOT NULL DEFAULT 0,    -- every byte moved (temp file complete / upload acked)
  completed         INTEGER NOT NULL DEFAULT 0,    -- BG_FILE_PROGRESS.Completed
  ranges            TEXT,                          -- JSON [[offset, length], ...] or NULL
  engine_state      TEXT    NOT NULL DEFAULT '{}', temp_identity TEXT, synced_bytes INTEGER NOT NULL DEFAULT 0, boot_id TEXT,
  PRIMARY KEY (job_id, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE jobs (
  id                          TEXT    PRIMARY KEY,   -- '{8-4-4-4-12}' upper-case GUID
  type                        TEXT    NOT NULL CHECK (type IN ('DOWNLOAD', 'UPLOAD', 'UPLOAD_REPLY')),
  state                       TEXT    NOT NULL CHECK (state IN ('QUEUED', 'CONNECTING', 'TRANSFERRING',
                                'SUSPENDED', 'ERROR', 'TRANSIENT_ERROR', 'TRANSFERRED', 'ACKNOWLEDGED', 'CANCELLED')),
  display_name                TEXT    NOT NULL,
  description                 TEXT    NOT NULL DEFAULT '',
  owner                       TEXT    NOT NULL,
  priority                    INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),  -- BG_JOB_PRIORITY
  queue_seq                   INTEGER NOT NULL DEFAULT 0,  -- order within a priority level
  notify_flags                INTEGER NOT NULL,
  notify_program              TEXT,
  notify_parameters           TEXT,
  min_retry_delay_sec         INTEGER NOT NULL,
  no_progress_timeout_sec     INTEGER NOT NULL,
  max_download_time_sec       INTEGER NOT NULL,
  proxy_usage                 TEXT    NOT NULL,
  proxy_list                  TEXT,
  proxy_bypass                TEXT,
  custom_headers              TEXT,
  custom_headers_write_only   INTEGER NOT NULL DEFAULT 0,
  security_flags              INTEGER NOT NULL DEFAULT 0,
  client_cert_file            TEXT,
  client_key_file             TEXT,
  http_method                 TEXT,
  reply_file_name             TEXT,
  acl_flags                   INTEGER NOT NULL DEFAULT 0,
  dynamic_content             INTEGER NOT NULL DEFAULT 0,
  high_performance            INTEGER NOT NULL DEFAULT 0,
  max_download_size           INTEGER,
  min_notification_interval_ms INTEGER NOT NULL DEFAULT 500,
  cost_flags                  INTEGER NOT NULL,
  notification_clsid          TEXT,
  use_stored_credentials      TEXT,
  on_demand                   INTEGER NOT NULL DEFAULT 0,
  ever_resumed                INTEGER NOT NULL DEFAULT 0,
  error_count                 INTEGER NOT NULL DEFAULT 0,
  error_hresult               INTEGER,
  error_code                  TEXT,
  error_context               TEXT,
  error_message               TEXT,
  error_file_index            INTEGER,
  created_at                  INTEGER NOT NULL,
  modified_at                 INTEGER NOT NULL,
  transferred_at              INTEGER,
  final_at                    INTEGER,
  no_progress_since           INTEGER,
  retry_at                    INTEGER,   -- TRANSIENT_ERROR: back to QUEUED at this time
  retry_deadline              INTEGER,   -- TRANSIENT_ERROR: no-progress timeout expires (-> ERROR)
  active_ms                   INTEGER NOT NULL DEFAULT 0,  -- CONNECTING+TRANSFERRING time since last Resume
  active_since                INTEGER,
  reply_url                   TEXT,
  reply_temp_name             TEXT,
  reply_bytes_total           INTEGER NOT NULL DEFAULT -1,
  reply_bytes_transferred     INTEGER NOT NULL DEFAULT 0,
  -- A cancelled upload whose Cancel-Session still has to reach the server.
  cancel_pending              INTEGER NOT NULL DEFAULT 0,
  cancel_next_at              INTEGER,
  cancel_deadline             INTEGER,
  cancel_attempts             INTEGER NOT NULL DEFAULT 0,
  cancel_last_error           TEXT
, file_intent TEXT CHECK (file_intent IN ('DELIVER', 'DISCARD')), reply_temp_identity TEXT, blocked_since INTEGER, cost_flags_set INTEGER NOT NULL DEFAULT 0 CHECK (cost_flags_set IN (0, 1)), reply_synced_bytes INTEGER NOT NULL DEFAULT 0, reply_boot_id TEXT) STRICT;

CREATE TABLE schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    checksum   TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT;

CREATE INDEX jobs_active ON jobs (state) WHERE state IN ('CONNECTING', 'TRANSFERRING');

CREATE INDEX jobs_cancel ON jobs (cancel_next_at) WHERE cancel_pending = 1;

CREATE INDEX jobs_queued ON jobs (priority, queue_seq) WHERE state = 'QUEUED';

CREATE INDEX jobs_retry ON jobs (retry_at) WHERE state = 'TRANSIENT_ERROR';
