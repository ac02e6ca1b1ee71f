-- Saga streams (stream_type 'saga', events/saga.py) fill the design's saga columns from their
-- payload: saga_id is the saga's stream, saga_type and step_name come from the event, and
-- step_status / error_message / completed_at say where the step stands. A trigger rather than
-- a change to append_events, which other migrations replace: it stays out of their way.
-- Events of other streams keep what append_events gives them (saga_id = correlation id, so a
-- saga's commands share its saga_id).
CREATE FUNCTION saga_event_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.stream_type <> 'saga' THEN
        RETURN NEW;
    END IF;
    NEW.saga_id := NEW.stream_id;
    NEW.saga_type := coalesce(NEW.event_data->>'saga_type', NEW.saga_type);
    NEW.step_name := left(coalesce(NEW.event_data->>'name', 'saga'), 100);
    NEW.step_status := CASE NEW.event_type
        WHEN 'SagaStepCompleted' THEN 'completed'
        WHEN 'SagaCompleted' THEN 'completed'
        WHEN 'SagaStepFailed' THEN 'failed'
        WHEN 'SagaCompensationFailed' THEN 'failed'
        WHEN 'SagaStuck' THEN 'failed'
        WHEN 'SagaStepCompensated' THEN 'compensated'
        WHEN 'SagaCompensated' THEN 'compensated'
        ELSE 'pending'
    END;
    NEW.error_message := CASE
        WHEN NEW.event_type IN ('SagaStepFailed', 'SagaCompensationFailed', 'SagaStuck')
            THEN NEW.event_data->>'error'
        WHEN NEW.event_type IN ('SagaCompensationStarted', 'SagaCompensated')
            THEN NEW.event_data->>'reason'
    END;
    NEW.completed_at := CASE WHEN NEW.step_status = 'pending' THEN NULL ELSE now() END;
    RETURN NEW;
END;
$$;

CREATE TRIGGER saga_event_columns BEFORE INSERT ON saga_events
FOR EACH ROW EXECUTE FUNCTION saga_event_columns();

-- `sagas list`: the latest transition of each saga stream.
CREATE INDEX idx_saga_events_saga_streams ON saga_events (stream_id, stream_version DESC)
WHERE stream_type = 'saga';
