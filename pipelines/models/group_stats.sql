-- group_stats: size, activity, reach and completion of each group's direct members.
-- Grain: one row per group in groups. Keys: group_id (= groups._id).
-- Members are direct members (any role) who are not deleted; subgroups are not rolled up.
-- active_members: members with a course attempt or a started program session.
-- items_visible: distinct items the group itself grants to its members (catalog entries, path
--   sessions resolved to paths, and program sessions it is invited to; missing items excluded).
-- assigned_pairs / completed_pairs: (member, item) pairs from learner_visibility where the member
--   is assigned to the item (whichever group or assignment grants it), and of those the completed
--   ones. completion_rate = completed_pairs / assigned_pairs (null when there are none).
WITH members AS (
    SELECT DISTINCT ug.group_id, ug.user_id
    FROM user_groups AS ug
    INNER JOIN users AS u ON u._id = ug.user_id
    WHERE COALESCE(u.deleted, FALSE) = FALSE
),

active_learners AS (
    SELECT lcs.user_id FROM learner_course_stats AS lcs
    UNION
    SELECT lps.user_id FROM learner_program_stats AS lps WHERE lps.is_started
),

member_counts AS (
    SELECT
        m.group_id,
        COUNT(*) AS members,
        SUM(CASE WHEN al.user_id IS NOT NULL THEN 1 ELSE 0 END) AS active_members
    FROM members AS m
    LEFT JOIN active_learners AS al ON al.user_id = m.user_id
    GROUP BY m.group_id
),

group_items AS (
    SELECT DISTINCT g.group_id, g.item_type, g.item_id
    FROM learner_visibility_grants AS g
    WHERE g.group_id IS NOT NULL
),

item_counts AS (
    SELECT gi.group_id, COUNT(*) AS items_visible
    FROM group_items AS gi
    GROUP BY gi.group_id
),

pair_counts AS (
    SELECT
        m.group_id,
        SUM(CASE WHEN lv.is_assigned THEN 1 ELSE 0 END) AS assigned_pairs,
        SUM(CASE WHEN lv.is_assigned AND lv.is_completed THEN 1 ELSE 0 END) AS completed_pairs
    FROM members AS m
    INNER JOIN learner_visibility AS lv ON lv.user_id = m.user_id
    GROUP BY m.group_id
)

SELECT
    gr._id AS group_id,
    gr.name AS group_name,
    gr.parent AS parent_group_id,
    COUNTS(mc.members, mc.active_members, ic.items_visible, pc.assigned_pairs, pc.completed_pairs),
    CAST(pc.completed_pairs AS DOUBLE) / NULLIF(pc.assigned_pairs, 0) AS completion_rate
FROM groups AS gr
LEFT JOIN member_counts AS mc ON mc.group_id = gr._id
LEFT JOIN item_counts AS ic ON ic.group_id = gr._id
LEFT JOIN pair_counts AS pc ON pc.group_id = gr._id
