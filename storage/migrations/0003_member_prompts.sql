-- mjbot schema 3: a member's prompt suffix and named option sets (/settings, `--sets NAME`).
-- option_sets_json is a JSON list of [name, parameters] pairs in the member's order (at most 10).
ALTER TABLE user_settings ADD COLUMN suffix TEXT;
ALTER TABLE user_settings ADD COLUMN option_sets_json TEXT;
