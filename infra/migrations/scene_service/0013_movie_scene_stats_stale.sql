-- Movies whose movie_scene_stats row is behind their scenes. While a projector works through a
-- backlog (full batches) or a rebuild reads the log, recomputing the stats of every movie a
-- batch touched, in every batch, was most of the time spent: each recompute reads all the
-- movie's scenes, cast and lines again. Such batches only mark their movies here, in their own
-- transaction; a later transaction recomputes the marked movies once and deletes the marks
-- (projections/scene_stats.py). A movie listed here may show stats behind its scenes; the data
-- consistency check (0004) reports it as drift until it is settled.
-- No privileges are granted: only the projectors (the tables' owner) read or write it.
CREATE TABLE movie_scene_stats_stale (
    movie_id UUID PRIMARY KEY,
    -- The latest time of the events that made it stale: the row's last_updated once settled.
    changed_at TIMESTAMP WITH TIME ZONE NOT NULL
);
