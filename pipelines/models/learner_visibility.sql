-- learner_visibility: every learning item each learner can access, why, and whether they completed it.
-- Grain: one row per (user_id, item_type, item_id); item_type in (course, program_session, path).
-- Keys: (user_id, item_type, item_id); item_id joins courses._id, program_sessions._id or paths._id.
-- Built from learner_visibility_grants (same exclusions: no deleted users, no missing items).
-- is_assigned: assigned individually or through a group's program (a played course, a
--   user_programs row, a path enrolment); via_group_catalog / via_group_program: at least one of
--   the learner's groups lists the item in its catalog / invites them to the program session;
--   group_count: how many distinct groups grant it. completed_at: course = first completed
--   attempt, program session = its completed_at, path = first completed session of the path.
WITH items AS (
    SELECT 'course' AS item_type, c._id AS item_id, c.name AS item_name FROM courses AS c
    UNION ALL
    SELECT 'program_session' AS item_type, ps._id AS item_id, ps.name AS item_name
    FROM program_sessions AS ps
    UNION ALL
    SELECT 'path' AS item_type, p._id AS item_id, p.name AS item_name FROM paths AS p
),

path_completion AS (
    SELECT
        ups.user_id,
        COALESCE(ups.path_id, s.path_id) AS path_id,
        MIN(ups.completed_at) AS completed_at
    FROM user_path_sessions AS ups
    LEFT JOIN path_sessions AS s ON s._id = ups.path_session_id
    GROUP BY ups.user_id, COALESCE(ups.path_id, s.path_id)
),

completion AS (
    SELECT lcs.user_id, 'course' AS item_type, lcs.course_id AS item_id, lcs.completed_at
    FROM learner_course_stats AS lcs
    UNION ALL
    SELECT
        lps.user_id,
        'program_session' AS item_type,
        lps.program_session_id AS item_id,
        lps.completed_at
    FROM learner_program_stats AS lps
    UNION ALL
    SELECT pc.user_id, 'path' AS item_type, pc.path_id AS item_id, pc.completed_at
    FROM path_completion AS pc
),

access AS (
    SELECT
        g.user_id,
        g.item_type,
        g.item_id,
        MAX(CASE WHEN g.grant_type = 'assignment' THEN 1 ELSE 0 END) AS assigned,
        MAX(CASE WHEN g.grant_type = 'group_catalog' THEN 1 ELSE 0 END) AS via_catalog,
        MAX(CASE WHEN g.grant_type = 'group_program' THEN 1 ELSE 0 END) AS via_program,
        COUNT(DISTINCT g.group_id) AS group_count
    FROM learner_visibility_grants AS g
    GROUP BY g.user_id, g.item_type, g.item_id
)

SELECT
    a.user_id,
    a.item_type,
    a.item_id,
    i.item_name,
    a.assigned = 1 AS is_assigned,
    a.via_catalog = 1 AS via_group_catalog,
    a.via_program = 1 AS via_group_program,
    a.group_count,
    c.completed_at,
    c.completed_at IS NOT NULL AS is_completed
FROM access AS a
INNER JOIN items AS i ON i.item_type = a.item_type AND i.item_id = a.item_id
LEFT JOIN completion AS c
    ON c.user_id = a.user_id AND c.item_type = a.item_type AND c.item_id = a.item_id
