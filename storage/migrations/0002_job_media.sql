-- mjbot schema 2: what kind of media a finished job carries and how many files the proxy listed.
-- media_json is {"kind": "image"|"video", "count": N}; NULL for jobs finished before it existed
-- (they read as one image).
ALTER TABLE jobs ADD COLUMN media_json TEXT;
