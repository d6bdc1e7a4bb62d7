-- Runs once, when the postgres service initialises an empty data directory (the image runs every
-- file in /docker-entrypoint-initdb.d/). POSTGRES_DB already created `router`, the router's
-- memory (RB_DATABASE_URL); this adds the tracker's database (RB_TRACKER_DATABASE_URL). Two
-- databases so each can be backed up and restored on its own (deploy/PRODUCTION.md, Backups).
-- Both workers create or migrate their own tables at start.
CREATE DATABASE tracker;
