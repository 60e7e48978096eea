-- Notification outbox: one row per message (execution x terminal phase x notification), written
-- in the same transaction as the phase change that triggers it, so a message exists exactly
-- when its phase change does. Dispatchers claim due rows with FOR UPDATE SKIP LOCKED and a
-- lease (next_attempt_at pushed forward, claim_token set), deliver them at least once with the
-- idempotency key, and keep undeliverable ones as FAILED with their last error.
CREATE TABLE notification_outbox (
  pk               bigserial   PRIMARY KEY,
  -- Stable across retries, replicas and restarts: project/domain/name/PHASE/index.
  idempotency_key  text        NOT NULL UNIQUE,
  execution_pk     bigint      NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
  project          text        NOT NULL,
  domain           text        NOT NULL,
  execution_name   text        NOT NULL,
  phase            smallint    NOT NULL,          -- flotilla.core.v1.WorkflowExecution.Phase
  notification_index integer   NOT NULL,          -- position in the execution's resolved notifications
  channel          text        NOT NULL CHECK (channel IN ('webhook', 'slack', 'email')),
  -- Where it goes: the webhook URL, the Slack channel, or the email recipients (JSON array).
  target           jsonb       NOT NULL,
  -- What happened, as rendered into every channel's payload (stable across attempts).
  message          jsonb       NOT NULL,
  state            text        NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DELIVERED', 'FAILED')),
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  claim_token      text,                          -- the dispatcher attempt holding the lease
  last_error       text        NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz
);
-- The dispatcher's claim: due pending rows, oldest due first.
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE state = 'PENDING';
-- ListNotifications: newest first per project/domain, and the undeliverable ones.
CREATE INDEX notification_outbox_by_scope ON notification_outbox (project, domain, pk DESC);
CREATE INDEX notification_outbox_failed ON notification_outbox (project, domain, pk DESC) WHERE state = 'FAILED';
-- Retention: delivered messages are deleted once older than notifications.retention.
CREATE INDEX notification_outbox_delivered ON notification_outbox (delivered_at) WHERE state = 'DELIVERED';
