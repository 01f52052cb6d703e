        )
    ) AS positions
    GROUP BY event_id
) AS claims USING (event_id)
