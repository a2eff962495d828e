-- mjbot schema 5: a member's jobs in one server (/history, /show's list, /mjadmin jobs for a
-- member) read from one index that holds the server too, so counting a busy member's jobs no
-- longer visits every row of theirs in other servers. It replaces (requester_id, created_at).
DROP INDEX jobs_requester_created;
CREATE INDEX jobs_requester_guild_created ON jobs (requester_id, guild_id, created_at);
