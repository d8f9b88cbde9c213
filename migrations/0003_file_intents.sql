-- Crash-atomic Complete and Cancel (src/queue/close-*.ts): the local-file work a committed
-- Complete or Cancel still owes is recorded with the state change, and finished at start-up
-- after a crash. Temp files are created O_EXCL and remembered by identity (device and inode),
-- so that Complete and Cancel rename or delete only what bitsd created.
ALTER TABLE jobs ADD COLUMN file_intent TEXT CHECK (file_intent IN ('DELIVER', 'DISCARD'));
ALTER TABLE jobs ADD COLUMN reply_temp_identity TEXT;
ALTER TABLE files ADD COLUMN temp_identity TEXT;
