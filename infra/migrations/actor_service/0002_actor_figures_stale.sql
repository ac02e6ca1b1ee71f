-- Actors whose figures (actors.total_movies_count, total_scenes_count, avg_rating and their
-- filmography entries' total_scenes) are behind the index tables. While a projector works
-- through a backlog (full batches) or a rebuild reads the log, recomputing the figures of every
-- actor a batch added cast or filmography to, in every batch, was the largest part of the
-- actor database's time (each recompute reads all the actor's index rows again). Such batches
-- only mark their actors here, in their own transaction; a later transaction recomputes the
-- marked actors once and deletes the marks (projections/actors.py: FIGURES_DEFERRAL).
-- No privileges are granted: only the projectors (the tables' owner) read or write it.
CREATE TABLE actor_figures_stale (
    actor_id UUID PRIMARY KEY
);
