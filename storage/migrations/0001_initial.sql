-- mjbot schema 1: jobs and their messages, guild and user settings, usage, moderation, audit.
-- auto_vacuum=INCREMENTAL is set by Database.open on a new file: it has to precede the switch
-- to WAL, which writes the first page, so it cannot live in a migration transaction.

CREATE TABLE schema_version (
    version INTEGER NOT NULL,
    applied_at REAL NOT NULL
);

-- One row per job, written with state 'submitting' before the proxy submit is sent, so a crash
-- between the two is visible at restart and the job is never resent blindly.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT UNIQUE,
    parent_job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    guild_id INTEGER,
    channel_id INTEGER NOT NULL,
    requester_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('imagine', 'blend', 'describe', 'shorten', 'action')),
    action TEXT NOT NULL,
    custom_id TEXT,
    button_index INTEGER,
    prompt TEXT NOT NULL DEFAULT '',
    final_prompt TEXT,
    state TEXT NOT NULL DEFAULT 'submitting' CHECK (state IN (
        'submitting', 'submitted', 'queued', 'in_progress', 'modal',
        'success', 'failure', 'cancelled', 'unknown'
    )),
    progress INTEGER,
    status_text TEXT,
    queue_position INTEGER,
    preview_url TEXT,
    image_url TEXT,
    attachment_url TEXT,
    buttons_json TEXT NOT NULL DEFAULT '[]',
    failure TEXT,
    units REAL NOT NULL DEFAULT 0,
    charged_at REAL,
    locale TEXT,
    created_at REAL NOT NULL,
    submitted_at REAL,
    started_at REAL,
    finished_at REAL,
    deadline_at REAL,
    updated_at REAL NOT NULL
);

-- Small: only jobs still running. Serves "unfinished jobs" and in-flight counts per guild/user.
-- Queries must repeat this exact state list for the planner to pick the index.
CREATE INDEX jobs_unfinished ON jobs (guild_id, requester_id)
    WHERE state IN ('submitting', 'submitted', 'queued', 'in_progress', 'modal');
CREATE INDEX jobs_guild_created ON jobs (guild_id, created_at);
CREATE INDEX jobs_requester_created ON jobs (requester_id, created_at);
CREATE INDEX jobs_parent_custom ON jobs (parent_job_id, custom_id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE messages (
    message_id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL,
    guild_id INTEGER,
    purpose TEXT NOT NULL DEFAULT 'job',
    interaction_token TEXT,
    token_expires_at REAL,
    created_at REAL NOT NULL
);
CREATE INDEX messages_job ON messages (job_id);
CREATE INDEX messages_token_expiry ON messages (token_expires_at)
    WHERE interaction_token IS NOT NULL;

CREATE TABLE button_uses (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    button_index INTEGER NOT NULL,
    child_job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    user_id INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, button_index, created_at)
);
CREATE INDEX button_uses_child ON button_uses (child_job_id) WHERE child_job_id IS NOT NULL;

-- NULL in any column means "use the configured default".
CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    paused INTEGER,
    audit_channel_id INTEGER,
    locale TEXT,
    daily_quota REAL,
    guild_daily_cap REAL,
    max_jobs_per_user INTEGER,
    max_jobs_per_guild INTEGER,
    weights_json TEXT,
    allowed_channels_json TEXT,
    allowed_roles_json TEXT,
    updated_at REAL NOT NULL
);

CREATE TABLE quota_overrides (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    daily_quota REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE user_settings (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    version TEXT,
    aspect TEXT,
    stylize INTEGER,
    style_raw INTEGER,
    speed TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    units REAL NOT NULL,
    created_at REAL NOT NULL,
    refunded INTEGER NOT NULL DEFAULT 0
);
-- Covering (refunded, units): quota sums never touch the table.
CREATE INDEX usage_user_created ON usage (guild_id, user_id, created_at, refunded, units);
CREATE INDEX usage_guild_created ON usage (guild_id, created_at, refunded, units);
CREATE INDEX usage_job ON usage (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE bans (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    banned_by INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE banned_words (
    guild_id INTEGER NOT NULL,
    word TEXT NOT NULL,
    PRIMARY KEY (guild_id, word)
);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    actor_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX audit_guild_created ON audit (guild_id, created_at);
