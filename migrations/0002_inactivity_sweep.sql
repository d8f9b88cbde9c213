-- The 90-day inactivity cancel is found by an hourly sweep (src/queue/job-queue.ts #sweep)
-- instead of an index kept on modified_at: the index was rewritten by nearly every write
-- (progress moves modified_at) and cost ~20 µs of each commit (bench case 5).
DROP INDEX jobs_live_modified;
