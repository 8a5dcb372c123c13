-- course_stats: reach and results of each course.
-- Grain: one row per course in courses (every status; courses nobody played have zeros).
-- Keys: course_id (= courses._id). Units: score in percent (0-100), time in milliseconds.
-- Per learner (non-deleted users only): learners_with_access = rows in learner_visibility,
--   learners_started = learners with an attempt, learners_completed = learners with a completed
--   attempt. completion_rate = learners_completed / learners_started (null when nobody started).
--   avg_score = mean of learners' best scores (learners with a score); avg_time_spent_ms = mean of
--   learners' total time; attempts = all attempts of those learners.
-- Author: author_id = courses.author_id (v1 and v2); author_mail = that user's current mail from
--   users (a user may change it; courses are not re-read for that), else the mail the course
--   row carries (v1's own `author`, e.g. an author missing from users).
WITH per_course AS (
    SELECT
        lcs.course_id,
        COUNT(*) AS learners_started,
        SUM(CASE WHEN lcs.is_completed THEN 1 ELSE 0 END) AS learners_completed,
        SUM(lcs.attempts) AS attempts,
        AVG(CAST(lcs.best_score AS DOUBLE)) AS avg_score,
        AVG(CAST(lcs.total_time_spent_ms AS DOUBLE)) AS avg_time_spent_ms
    FROM learner_course_stats AS lcs
    GROUP BY lcs.course_id
)

SELECT
    c._id AS course_id,
    c.name AS course_name,
    c.status AS course_status,
    COUNTS(r.learners_with_access, pc.learners_started, pc.learners_completed),
    CAST(pc.learners_completed AS DOUBLE) / NULLIF(pc.learners_started, 0) AS completion_rate,
    pc.avg_score,
    pc.avg_time_spent_ms,
    COUNTS(pc.attempts),
    c.author_id,
    COALESCE(au.mail, c.author) AS author_mail
FROM courses AS c
LEFT JOIN per_course AS pc ON pc.course_id = c._id
LEFT JOIN item_reach AS r ON r.item_type = 'course' AND r.item_id = c._id
LEFT JOIN users AS au ON au._id = c.author_id
