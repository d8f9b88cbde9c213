-- Downloads without an fdatasync before each progress record (docs/download-engine.md,
-- "Durability"). bytes_transferred is now what a crash of the process cannot lose (the write()
-- calls returned: the bytes are in the page cache); synced_bytes is the part of it that reached
-- the disk (fdatasync); boot_id is the boot (/proc/sys/kernel/random/boot_id) the record was made
-- in. At start-up in another boot, bytes_transferred falls back to synced_bytes, since the page
-- cache died with the system. The upload-reply job's reply download gets the same pair.
-- Every offset recorded before this migration was flushed first, so it counts as synced.
ALTER TABLE files ADD COLUMN synced_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE files ADD COLUMN boot_id TEXT;
UPDATE files SET synced_bytes = bytes_transferred;
ALTER TABLE jobs ADD COLUMN reply_synced_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN reply_boot_id TEXT;
UPDATE jobs SET reply_synced_bytes = reply_bytes_transferred;
