-- learner_program_stats: each learner's progress in each program session they are assigned to.
-- Grain: one row per (user_id, program_session_id) in user_programs (assigned individually,
--   through a group, or by open registration).
-- Keys: (user_id, program_session_id). Units: progress and score in percent (0-100), time in
--   seconds (the API's unit for programs). Started = progress above 0 or completed; completed =
--   completed_at is set. Deleted users, users missing from users and sessions missing from
--   program_sessions have no rows.
SELECT
    up.user_id,
    up.program_session_id,
    ps.name AS program_session_name,
    up.progress,
    up.score,
    CAST(up.total_time_spent_in_seconds AS DOUBLE) AS time_spent_s,
    up.completed_at,
    (COALESCE(up.progress, 0) > 0 OR up.completed_at IS NOT NULL) AS is_started,
    up.completed_at IS NOT NULL AS is_completed
FROM user_programs AS up
INNER JOIN users AS u ON u._id = up.user_id
INNER JOIN program_sessions AS ps ON ps._id = up.program_session_id
WHERE COALESCE(u.deleted, FALSE) = FALSE
