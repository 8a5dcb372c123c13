-- program_session_stats: enrolment and results of each program session.
-- Grain: one row per program session in program_sessions (sessions nobody joined have zeros).
-- Keys: program_session_id (= program_sessions._id). Units: score in percent (0-100), time in
--   seconds (the API's unit for programs).
-- Per learner (non-deleted users only, from learner_program_stats): learners_assigned = rows in
--   user_programs, learners_started / learners_completed as flagged there, learners_with_access =
--   rows in learner_visibility (assigned or offered in a group catalog). completion_rate =
--   learners_completed / learners_assigned (null when nobody is assigned). avg_score = mean over
--   learners with a score; avg_time_spent_s = mean over assigned learners.
WITH per_session AS (
    SELECT
        lps.program_session_id,
        COUNT(*) AS learners_assigned,
        SUM(CASE WHEN lps.is_started THEN 1 ELSE 0 END) AS learners_started,
        SUM(CASE WHEN lps.is_completed THEN 1 ELSE 0 END) AS learners_completed,
        AVG(CAST(lps.score AS DOUBLE)) AS avg_score,
        AVG(lps.time_spent_s) AS avg_time_spent_s
    FROM learner_program_stats AS lps
    GROUP BY lps.program_session_id
)

SELECT
    ps._id AS program_session_id,
    ps.name AS program_session_name,
    COUNTS(r.learners_with_access, s.learners_assigned, s.learners_started, s.learners_completed),
    CAST(s.learners_completed AS DOUBLE) / NULLIF(s.learners_assigned, 0) AS completion_rate,
    s.avg_score,
    s.avg_time_spent_s
FROM program_sessions AS ps
LEFT JOIN per_session AS s ON s.program_session_id = ps._id
LEFT JOIN item_reach AS r ON r.item_type = 'program_session' AND r.item_id = ps._id
