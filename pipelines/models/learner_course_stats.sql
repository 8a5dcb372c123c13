-- learner_course_stats: what each learner did in each course, all attempts summed up.
-- Grain: one row per (user_id, course_id) with at least one attempt in user_courses.
-- Keys: (user_id, course_id). Units: progress and score in percent (0-100), time in milliseconds
-- (a double: the API's timeSpent is a `number`, fractions are kept, never cast to an integer).
-- A course is completed when one of its attempts has a completed_at (the platform's own
-- completion date); completed_at is the first such date. last_progress is the progress of the
-- attempt with the latest last_activity. Deleted users, users missing from users and courses
-- missing from courses have no rows; attempts flagged deleted (gone from the API) do not count.
WITH attempts AS (
    SELECT
        uc.user_id,
        uc.course_id,
        c.name AS course_name,
        uc.progress,
        uc.score,
        uc.global_time,
        uc.first_activity,
        uc.last_activity,
        uc.completed_at,
        ROW_NUMBER() OVER (
            PARTITION BY uc.user_id, uc.course_id
            ORDER BY uc.last_activity DESC NULLS LAST, uc._id DESC
        ) AS recency
    FROM user_courses AS uc
    INNER JOIN users AS u ON u._id = uc.user_id
    INNER JOIN courses AS c ON c._id = uc.course_id
    WHERE COALESCE(u.deleted, FALSE) = FALSE AND COALESCE(uc.deleted, FALSE) = FALSE
)

SELECT
    a.user_id,
    a.course_id,
    a.course_name,
    COUNT(*) AS attempts,
    MAX(a.progress) AS best_progress,
    MAX(CASE WHEN a.recency = 1 THEN a.progress END) AS last_progress,
    MAX(a.score) AS best_score,
    SUM(COALESCE(CAST(a.global_time AS DOUBLE), 0)) AS total_time_spent_ms,
    MIN(a.first_activity) AS first_activity_at,
    MAX(a.last_activity) AS last_activity_at,
    MIN(a.completed_at) AS completed_at,
    MIN(a.completed_at) IS NOT NULL AS is_completed
FROM attempts AS a
GROUP BY a.user_id, a.course_id, a.course_name
