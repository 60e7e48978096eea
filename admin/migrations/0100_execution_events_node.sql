-- ListExecutionEvents filters an execution's log by node: the node an event is about is kept
-- beside its bytes ('' for workflow events; the node of a node event, the attempt's node of a
-- task event). Rows logged before this migration hold NULL until admin's start-up backfill
-- decodes their payload; the partial index finds them and is empty afterwards.
ALTER TABLE execution_events ADD COLUMN node_id text;
CREATE INDEX execution_events_node_unknown ON execution_events (seq) WHERE node_id IS NULL;
