-- The cast's and the parallel group members' policies (0006, 0007) as a correlated EXISTS, like
-- the lines' policy in 0008: the same rows (scene_id is NOT NULL), but "scene_id IN (SELECT id
-- FROM scenes)" is planned as a subplan over every visible scene, scanned again per row once the
-- scenes outgrow work_mem (reading one page's cast as a viewer took 2.2-2.8 s at 1M scenes).
-- EXISTS probes scenes_pkey per row, and the scenes' own policies still apply inside it.
ALTER POLICY scene_actors_follow_scene ON scene_actors
USING (EXISTS (SELECT FROM scenes s WHERE s.id = scene_actors.scene_id));

ALTER POLICY parallel_scene_members_follow_scene ON parallel_scene_members
USING (EXISTS (SELECT FROM scenes s WHERE s.id = parallel_scene_members.scene_id));
