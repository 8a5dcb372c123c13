-- item_reach: how many learners can access each item (rows in learner_visibility), per
-- (item_type, item_id); items nobody can access have no row.
SELECT lv.item_type, lv.item_id, COUNT(*) AS learners_with_access
FROM learner_visibility AS lv
GROUP BY lv.item_type, lv.item_id
