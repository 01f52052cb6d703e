                WHERE office_id IN %(offices)s AND token_id IN
                (
                    SELECT token_id FROM qr_surveys_raw
@include qr_period_window
                )
