-- Reasons as data: the machine-readable code of a queue reason or a retry's last error is stored
-- in its own column beside the readable message, so admin reads the code and never parses text.
-- executions.queue_reason keeps the displayed "Code: message" text; queue_reason_code is the code.
-- pending_placements / pending_terminations.last_error keep only the message from now on.
ALTER TABLE executions ADD COLUMN queue_reason_code text;
ALTER TABLE pending_placements ADD COLUMN last_error_code text NOT NULL DEFAULT '';
ALTER TABLE pending_terminations ADD COLUMN last_error_code text NOT NULL DEFAULT '';

-- Rows written before this migration hold "Code: message" text; split them once, here.
UPDATE executions SET queue_reason_code = split_part(queue_reason, ': ', 1)
  WHERE position(': ' in queue_reason) > 0;
UPDATE pending_placements
  SET last_error_code = split_part(last_error, ': ', 1),
      last_error = substr(last_error, position(': ' in last_error) + 2)
  WHERE position(': ' in last_error) > 0;
UPDATE pending_terminations
  SET last_error_code = split_part(last_error, ': ', 1),
      last_error = substr(last_error, position(': ' in last_error) + 2)
  WHERE position(': ' in last_error) > 0;
