-- learner_visibility_grants: every reason a learner can access a learning item.
-- Grain: one row per (user_id, item_type, item_id, grant_type, group_id).
-- Keys: item_type in (course, program_session, path); grant_type in (assignment, group_catalog,
--   group_program); group_id is the granting group, null for assignment.
-- Assignment = a program session in user_programs, a course with an attempt in user_courses
--   (not flagged deleted), a path with an enrolment in user_path_sessions. A catalog entry for
--   a path session grants its path. Deleted users, users missing from users, and items missing
--   from courses, program_sessions or paths have no rows.
WITH active_users AS (
    SELECT u._id AS user_id
    FROM users AS u
    WHERE COALESCE(u.deleted, FALSE) = FALSE
),

items AS (
    SELECT 'course' AS item_type, c._id AS item_id FROM courses AS c
    UNION ALL
    SELECT 'program_session' AS item_type, ps._id AS item_id FROM program_sessions AS ps
    UNION ALL
    SELECT 'path' AS item_type, p._id AS item_id FROM paths AS p
),

-- UNION, not UNION ALL, in assignments and catalog_items: duplicates (several attempts of a
-- course, several sessions of a path, a path listed directly and through a session) are removed
-- from these small inputs, so the ~1M grant rows of a large tenant need no DISTINCT (which took
-- 4x the memory)
assignments AS (
    SELECT up.user_id, 'program_session' AS item_type, up.program_session_id AS item_id
    FROM user_programs AS up
    UNION
    SELECT uc.user_id, 'course' AS item_type, uc.course_id AS item_id
    FROM user_courses AS uc
    WHERE COALESCE(uc.deleted, FALSE) = FALSE
    UNION
    SELECT ups.user_id, 'path' AS item_type, COALESCE(ups.path_id, s.path_id) AS item_id
    FROM user_path_sessions AS ups
    LEFT JOIN path_sessions AS s ON s._id = ups.path_session_id
),

catalog_items AS (
    SELECT gc.group_id, gc.item_type, gc.item_id
    FROM group_catalog AS gc
    WHERE gc.item_type IN ('course', 'program_session', 'path')
    UNION
    -- a tenant may list path sessions in a catalog: the learner sees the session's path
    SELECT gc.group_id, 'path' AS item_type, s.path_id AS item_id
    FROM group_catalog AS gc
    INNER JOIN path_sessions AS s ON s._id = gc.item_id
    WHERE gc.item_type = 'path_session'
),

grants AS (
    SELECT
        a.user_id,
        a.item_type,
        a.item_id,
        'assignment' AS grant_type,
        CAST(NULL AS VARCHAR) AS group_id
    FROM assignments AS a
    UNION ALL
    SELECT ug.user_id, ci.item_type, ci.item_id, 'group_catalog' AS grant_type, ug.group_id
    FROM user_groups AS ug
    INNER JOIN catalog_items AS ci ON ci.group_id = ug.group_id
    UNION ALL
    SELECT
        ug.user_id,
        'program_session' AS item_type,
        gp.program_session_id AS item_id,
        'group_program' AS grant_type,
        ug.group_id
    FROM user_groups AS ug
    INNER JOIN group_programs AS gp ON gp.group_id = ug.group_id
)

SELECT
    g.user_id,
    g.item_type,
    g.item_id,
    g.grant_type,
    g.group_id
FROM grants AS g
INNER JOIN active_users AS au ON au.user_id = g.user_id
INNER JOIN items AS i ON i.item_type = g.item_type AND i.item_id = g.item_id
