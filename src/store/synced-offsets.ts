/**
 * The start-up write after a reboot (docs/download-engine.md, "Durability"): each unfinished
 * file's, and each reply's, bytes_transferred recorded in another boot falls back to its
 * synced_bytes, since the page cache that held the rest died with the system. Files already
 * transferred were synced whole and are left alone; rows of this boot, and rows with nothing
 * unsynced, are not touched. Run once per start-up, so no index: one on the offsets would be
 * rewritten by every progress record.
 */
import type Database from 'better-sqlite3';

const FILES = `UPDATE files SET bytes_transferred = synced_bytes, boot_id = ?
  WHERE bytes_transferred > synced_bytes AND transferred = 0 AND boot_id IS NOT ?`;
const REPLIES = `UPDATE jobs SET reply_bytes_transferred = reply_synced_bytes, reply_boot_id = ?
  WHERE reply_bytes_transferred > reply_synced_bytes AND reply_boot_id IS NOT ?`;

/** Returns how many files and replies fell back. The caller runs it inside a store transaction. */
export function fallBackToSyncedOffsets(db: Database.Database, bootId: string): { files: number; replies: number } {
  const files = db.prepare<[string, string]>(FILES).run(bootId, bootId).changes;
  const replies = db.prepare<[string, string]>(REPLIES).run(bootId, bootId).changes;
  return { files, replies };
}
