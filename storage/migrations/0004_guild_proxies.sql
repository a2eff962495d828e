-- mjbot schema 4: a server's own Midjourney proxy (/mjadmin api set).
-- A row is never changed once written: a new setting is a new row, so a job keeps polling the
-- proxy it was submitted to after its server changes or clears its proxy, or after a restart.
-- The API key is stored only encrypted (Fernet, [security] secret_key); key_hint holds at most
-- its last 4 characters, for /mjadmin api show.
CREATE TABLE proxies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    base_url TEXT NOT NULL,
    path_prefix TEXT NOT NULL,
    auth_style TEXT NOT NULL CHECK (auth_style IN ('bearer', 'raw', 'mj-api-secret')),
    backend TEXT NOT NULL CHECK (backend IN ('plus', 'trueai', 'new-api')),
    key_encrypted TEXT NOT NULL,
    key_hint TEXT NOT NULL DEFAULT '',
    created_by INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX proxies_guild ON proxies (guild_id);

-- The proxy a server uses now; no row = the operator's default (midjourney.allow_default).
CREATE TABLE guild_proxies (
    guild_id INTEGER PRIMARY KEY,
    proxy_id INTEGER NOT NULL REFERENCES proxies (id)
);

-- The proxy a job was submitted to; NULL = the operator's default ([midjourney] in the config).
ALTER TABLE jobs ADD COLUMN proxy_id INTEGER REFERENCES proxies (id);
