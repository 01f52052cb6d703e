        )
    ) AS positions
    GROUP BY event_id
) AS contested_ids USING (event_id)
